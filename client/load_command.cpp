// iotc load: flags, live status line, reports and the error-rate verdict around run_load_test.
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string_view>

#include "commands.hpp"
#include "load_runner.hpp"

namespace iot::client {
namespace {

double parse_positive_number(std::string_view text, double max) {
  double value = 0;
  try {
    std::size_t used = 0;
    value = std::stod(std::string(text), &used);
    if (used != text.size()) throw std::invalid_argument("trailing text");
  } catch (const std::exception&) {
    throw cli::UsageError("expected a number, got '" + std::string(text) + "'");
  }
  if (!std::isfinite(value) || value <= 0 || value > max) {
    throw cli::UsageError("expected a number in (0, " + std::to_string(static_cast<long>(max)) +
                          "], got '" + std::string(text) + "'");
  }
  return value;
}

std::chrono::milliseconds parse_duration(std::string_view text) {
  // "30" or "30s", "500ms", "2m".
  std::string_view number = text;
  double scale = 1000;
  if (text.ends_with("ms")) {
    number.remove_suffix(2);
    scale = 1;
  } else if (text.ends_with('s')) {
    number.remove_suffix(1);
  } else if (text.ends_with('m')) {
    number.remove_suffix(1);
    scale = 60'000;
  }
  const double value = parse_positive_number(number, 1e9);
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(value * scale)));
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) throw std::runtime_error("cannot write " + path);
}

enum class ReportFormat { text, json };

}  // namespace

int run_load(int argc, const char* const* argv, const cli::Environment& env) {
  LoadOptions options;
  std::optional<double> rate;
  std::optional<std::uint32_t> concurrency;
  bool non_confirmable = false;
  ReportFormat format = ReportFormat::text;
  std::string output_path, histogram_path, html_path;
  std::optional<double> max_error_rate;
  bool progress = false;
  cli::FlagSet flags(
      argv[0],
      "Load test: open loop at --rate requests/s (default), or closed loop with --concurrency\n"
      "requests in flight. Latency is measured from each request's intended send time.",
      kEnvPrefix);
  add_global_flags(flags, options.globals);
  flags.add("rate", "R", "Open loop: requests per second, over all threads.", "1000",
            [&](std::string_view v) { rate = parse_positive_number(v, 10'000'000); });
  flags.add("concurrency", "C", "Closed loop: requests in flight (1..1000000).", "",
            [&](std::string_view v) {
              concurrency = static_cast<std::uint32_t>(cli::parse_unsigned(v, 1, 1'000'000));
            });
  flags.add("devices", "N", "Simulated devices (1..50000), told apart as --spread says.",
            std::to_string(options.devices),
            [&](std::string_view v) { options.devices = cli::parse_unsigned(v, 1, 50'000); });
  flags.add("spread", "ports|addresses",
            "ports: each device its own UDP source port (like a fleet behind NAT). addresses: "
            "one socket per thread, each device its own source address 127.1.x.y (a collector "
            "on 127.0.0.1 only): 10,000 devices then cost iotc what one does.",
            "ports", [&](std::string_view v) {
              if (v == "ports") {
                options.spread = coapwire::DeviceSpread::source_ports;
              } else if (v == "addresses") {
                options.spread = coapwire::DeviceSpread::loopback_addresses;
              } else {
                throw cli::UsageError("expected ports or addresses, got '" + std::string(v) + "'");
              }
            });
  flags.add("threads", "N", "Event loops, one per core (1..256).", "1", [&](std::string_view v) {
    options.threads = static_cast<unsigned>(cli::parse_unsigned(v, 1, 256));
  });
  flags.add("duration", "TIME", "How long to send: 30, 30s, 500ms, 2m.", "10s",
            [&](std::string_view v) { options.duration = parse_duration(v); });
  flags.add("count", "N", "Requests to send (the run ends at --count or --duration).", "",
            [&](std::string_view v) { options.count = cli::parse_unsigned(v, 1, UINT64_MAX); });
  flags.add_bool("non", "Non-confirmable requests (default: confirmable).", &non_confirmable);
  flags.add_bool("con", "Confirmable requests (the default).", &options.confirmable);
  flags.add("batch", "K", "Events per request (1..1000).", "1", [&](std::string_view v) {
    options.batch = static_cast<std::uint32_t>(cli::parse_unsigned(v, 1, 1000));
  });
  flags.add("payload-bytes", "B", "Pad request bodies to about B bytes (0: no padding).", "0",
            [&](std::string_view v) { options.payload_bytes = cli::parse_unsigned(v, 0, 65536); });
  flags.add("run-id", "ID", "Carried by every event as payload.run_id.", "random",
            [&](std::string_view v) { options.run_id = v; });
  flags.add("ack-timeout-ms", "MS", "CoAP ACK_TIMEOUT for CON retransmission (RFC 7252).", "2000",
            [&](std::string_view v) {
              options.transmission.ack_timeout =
                  std::chrono::milliseconds(cli::parse_unsigned(v, 10, 60'000));
            });
  flags.add("max-retransmit", "N", "CoAP MAX_RETRANSMIT (0..20).", "4", [&](std::string_view v) {
    options.transmission.max_retransmit = static_cast<unsigned>(cli::parse_unsigned(v, 0, 20));
  });
  flags.add("exchange-timeout-ms", "MS",
            "How long a NON request, or a CON after an empty ACK, waits for its response.", "10000",
            [&](std::string_view v) {
              options.transmission.exchange_timeout =
                  std::chrono::milliseconds(cli::parse_unsigned(v, 10, 600'000));
            });
  flags.add("drain-timeout-ms", "MS", "After the last request, wait this long for answers.", "5000",
            [&](std::string_view v) {
              options.drain_timeout = std::chrono::milliseconds(cli::parse_unsigned(v, 0, 600'000));
            });
  flags.add_bool("handshake-first",
                 "DTLS: every device handshakes before the clock starts, so the run measures "
                 "established sessions (the handshakes are reported apart).",
                 &options.handshake_first);
  flags.add("report", "text|json", "Report format on stdout.", "text", [&](std::string_view v) {
    if (v == "text") {
      format = ReportFormat::text;
    } else if (v == "json") {
      format = ReportFormat::json;
    } else {
      throw cli::UsageError("expected text or json, got '" + std::string(v) + "'");
    }
  });
  flags.add("output", "FILE", "Also write the JSON report to FILE.", "",
            [&](std::string_view v) { output_path = v; });
  flags.add("histogram", "FILE", "Write the latency distribution (HdrHistogram .hgrm, ms).", "",
            [&](std::string_view v) { histogram_path = v; });
  flags.add("html", "FILE", "Write a self-contained HTML report with charts.", "",
            [&](std::string_view v) { html_path = v; });
  flags.add("max-error-rate", "X", "Exit 1 when more than this fraction of requests failed.", "",
            [&](std::string_view v) {
              try {
                max_error_rate = std::stod(std::string(v));
              } catch (const std::exception&) {
                max_error_rate = -1;  // refused just below, with the usage message
              }
              if (!(*max_error_rate >= 0 && *max_error_rate <= 1)) {
                throw cli::UsageError("expected a fraction in 0..1, got '" + std::string(v) + "'");
              }
            });
  flags.add_bool("progress", "Print the status line every second even when stderr is no terminal.",
                 &progress);
  std::string out;
  if (flags.parse(argc, argv, env, IOT_VERSION, out) != cli::FlagSet::Outcome::run) {
    std::cout << out;
    return kExitOk;
  }
  finish_global_flags(options.globals);
  if (rate && concurrency) throw cli::UsageError("--rate and --concurrency exclude each other");
  if (concurrency) {
    options.mode = loadgen::ClosedLoop{*concurrency};
  } else if (rate) {
    options.mode = loadgen::OpenLoop{*rate};
  }
  if (non_confirmable) options.confirmable = false;
  if (!options.duration && !options.count) options.duration = std::chrono::seconds(10);
  if (options.run_id.empty()) options.run_id = new_run_id();
  if (options.spread == coapwire::DeviceSpread::loopback_addresses && options.globals.dtls()) {
    throw cli::UsageError("--spread addresses cannot use DTLS (a session per port): use ports");
  }
  if (options.handshake_first && !options.globals.dtls()) {
    throw cli::UsageError("--handshake-first needs DTLS (--psk-identity/--psk-key or --psk-file)");
  }
  if (options.devices < options.threads) {
    throw cli::UsageError("--devices must be at least --threads");
  }

  const bool terminal = ::isatty(STDERR_FILENO) == 1;
  const bool show_status = !options.globals.silent && (terminal || progress);
  if (!options.globals.silent) {
    std::cerr << "iotc load: run " << options.run_id << " against " << options.globals.host << ":"
              << options.globals.port << "\n";
  }
  const auto result = run_load_test(
      options,
      [&](const loadgen::LiveStatus& status) {
        if (!show_status) return;
        std::cerr << (terminal ? "\r" : "") << loadgen::format_status_line(status)
                  << (terminal ? "" : "\n") << std::flush;
      },
      [&](std::string_view notice) {
        if (options.globals.silent) return;
        // On a terminal the status line has no line break yet: keep it, start a new line.
        std::cerr << (show_status && terminal ? "\n" : "") << "iotc load: " << notice << "\n"
                  << std::flush;
      });
  if (show_status && terminal) std::cerr << "\n";
  if (result.not_sent > 0 && !options.globals.silent) {
    std::cerr << "iotc load: " << result.not_sent << " of " << result.report.requests_sent
              << " requests not sent: their device had every CoAP message id in flight (counted "
                 "as send errors)\n";
  }

  const std::string json = loadgen::render_json(result.report);
  if (!options.globals.silent) {
    std::cout << (format == ReportFormat::json ? json + "\n" : loadgen::render_text(result.report))
              << std::flush;
  }
  if (!output_path.empty()) write_file(output_path, json + "\n");
  if (!html_path.empty())
    write_file(html_path, loadgen::render_html(result.report, result.latency_us));
  if (!histogram_path.empty()) {
    std::ostringstream hgrm;
    result.latency_us.write_percentile_distribution(hgrm, 1000.0);
    write_file(histogram_path, hgrm.str());
  }
  if (max_error_rate && result.report.error_rate() > *max_error_rate) {
    std::cerr << "iotc load: error rate " << result.report.error_rate() << " exceeds "
              << *max_error_rate << "\n";
    return kExitFailed;
  }
  return kExitOk;
}

}  // namespace iot::client

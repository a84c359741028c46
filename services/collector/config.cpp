#include "config.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <utility>

#include "elastic/connection_flags.hpp"

// CMake passes PROJECT_VERSION as a string literal (IOT_VERSION="1.2.3"); the fallback keeps
// builds without it (e.g. the unit test compiling this file directly) working.
#ifndef IOT_VERSION
#define IOT_VERSION "0.1.0"
#endif

namespace iot::collector {
namespace {

constexpr unsigned kMaxThreads = 256;

std::string quoted(std::string_view text) {
  return "'" + std::string(text) + "'";
}

unsigned default_threads() {
  // hardware_concurrency() may report 0 ("unknown") or more than the flag would accept.
  return std::clamp(std::thread::hardware_concurrency(), 1U, kMaxThreads);
}

bool is_valid_instance(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

std::string default_instance() {
  std::array<char, 256> buffer{};
  // The last byte stays '\0': POSIX leaves truncated host names unterminated.
  if (gethostname(buffer.data(), buffer.size() - 1) == 0) {
    std::string name(buffer.data());
    if (is_valid_instance(name)) return name;
  }
  // Starting without an instance label would be worse than a generic one.
  return "iot-collector";
}

std::string parse_instance(std::string_view text) {
  if (!is_valid_instance(text)) {
    throw cli::UsageError("expected 1..253 characters of [A-Za-z0-9._-], got " + quoted(text));
  }
  return std::string(text);
}

// Elasticsearch's index/data stream naming rules, checked here so a typo fails at start-up
// instead of on every bulk request.
std::string parse_data_stream(std::string_view text) {
  if (text.empty() || text.size() > 255) {
    throw cli::UsageError("expected a data stream name of 1..255 bytes, got " + quoted(text));
  }
  if (std::any_of(text.begin(), text.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
    throw cli::UsageError("expected a lowercase data stream name, got " + quoted(text));
  }
  if (std::string_view("-_+.").find(text.front()) != std::string_view::npos) {
    throw cli::UsageError(
        "expected a data stream name not starting with '-', '_', '+' or '.', got " + quoted(text));
  }
  if (text.find_first_of("\\/*?\"<>|,#: ") != std::string_view::npos) {
    throw cli::UsageError(
        "expected a data stream name without \\ / * ? \" < > | , # : or spaces, got " +
        quoted(text));
  }
  return std::string(text);
}

FileSinkConfig parse_sink(std::string_view text) {
  constexpr std::string_view kFileScheme = "file:";
  if (!text.starts_with(kFileScheme) || text.size() == kFileScheme.size()) {
    throw cli::UsageError("expected file:PATH, got " + quoted(text));
  }
  return FileSinkConfig{std::string(text.substr(kFileScheme.size()))};
}

std::string parse_log_level(std::string_view text) {
  constexpr std::array<std::string_view, 6> kLevels = {"trace", "debug", "info",
                                                       "warn",  "error", "off"};
  if (std::find(kLevels.begin(), kLevels.end(), text) == kLevels.end()) {
    throw cli::UsageError("expected trace|debug|info|warn|error|off, got " + quoted(text));
  }
  return std::string(text);
}

LogFormat parse_log_format(std::string_view text) {
  if (text == "text") return LogFormat::text;
  if (text == "json") return LogFormat::json;
  throw cli::UsageError("expected text|json, got " + quoted(text));
}

std::chrono::seconds parse_seconds(std::string_view text, std::uint64_t min, std::uint64_t max) {
  return std::chrono::seconds(
      static_cast<std::chrono::seconds::rep>(cli::parse_unsigned(text, min, max)));
}

std::chrono::milliseconds parse_millis(std::string_view text, std::uint64_t min,
                                       std::uint64_t max) {
  return std::chrono::milliseconds(
      static_cast<std::chrono::milliseconds::rep>(cli::parse_unsigned(text, min, max)));
}

std::size_t parse_size(std::string_view text, std::uint64_t min, std::uint64_t max) {
  return static_cast<std::size_t>(cli::parse_unsigned(text, min, max));
}

// Events per second: 0 (off) or 0.001..1000000, as plain decimal digits ("5", "0.5"), so that
// "1e3" or "5/s" fail at start instead of meaning something unexpected.
double parse_rate(std::string_view text) {
  const auto bad = [&] {
    return cli::UsageError("expected 0 (off) or a decimal number in 0.001..1000000, got " +
                           quoted(text));
  };
  const std::size_t dot = text.find('.');
  const std::string_view whole = text.substr(0, dot);
  const std::string_view fraction =
      dot == std::string_view::npos ? std::string_view() : text.substr(dot + 1);
  const auto digits = [](std::string_view part) {
    return !part.empty() &&
           std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (!digits(whole) || (dot != std::string_view::npos && !digits(fraction))) throw bad();
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) throw bad();
  if (value != 0 && (value < 0.001 || value > 1e6)) throw bad();
  return value;
}

AckMode parse_ack(std::string_view text) {
  if (text == "stored") return AckMode::stored;
  if (text == "accepted") return AckMode::accepted;
  throw cli::UsageError("expected stored|accepted, got " + quoted(text));
}

}  // namespace

ParseResult parse_collector_config(int argc, const char* const* argv, const cli::Environment& env) {
  CollectorConfig config;
  config.threads = default_threads();
  config.instance = default_instance();

  cli::FlagSet flags("iot-collector",
                     "Receives device telemetry over CoAP (UDP) and writes it to a sink.",
                     "IOT_COLLECTOR_");
  flags.add("listen", "HOST:PORT",
            "CoAP over UDP address to receive telemetry on ([::]:5683 for IPv6).",
            config.listen.to_string(),
            [&](std::string_view v) { config.listen = cli::parse_host_port(v); });
  flags.add("admin-listen", "HOST:PORT", "HTTP address for health checks and metrics.",
            config.admin_listen.to_string(),
            [&](std::string_view v) { config.admin_listen = cli::parse_host_port(v); });
  bool sink_given = false;
  flags.add("sink", "file:PATH",
            "Where events go: NDJSON appended to PATH (--elasticsearch-url selects Elasticsearch "
            "instead).",
            "file:" + config.file_sink.path, [&](std::string_view v) {
              config.file_sink = parse_sink(v);
              sink_given = true;
            });
  flags.add("max-payload", "BYTES", "Largest accepted request payload (1..16777216).",
            std::to_string(config.max_payload), [&](std::string_view v) {
              config.max_payload = static_cast<std::size_t>(cli::parse_unsigned(v, 1, 16777216));
            });
  flags.add("max-batch", "N", "Most events accepted in one request (1..10000).",
            std::to_string(config.max_batch), [&](std::string_view v) {
              config.max_batch = static_cast<std::size_t>(cli::parse_unsigned(v, 1, 10000));
            });
  flags.add("threads", "N", "Worker threads (1..256).",
            "number of CPUs (" + std::to_string(config.threads) + ")", [&](std::string_view v) {
              config.threads = static_cast<unsigned>(cli::parse_unsigned(v, 1, kMaxThreads));
            });
  flags.add("log-level", "LEVEL", "One of trace|debug|info|warn|error|off.", config.log_level,
            [&](std::string_view v) { config.log_level = parse_log_level(v); });
  flags.add("log-format", "FORMAT", "One of text|json.", "text",
            [&](std::string_view v) { config.log_format = parse_log_format(v); });
  flags.add("shutdown-timeout", "SECONDS",
            "Longest a graceful shutdown may take before the process exits anyway (1..3600).",
            std::to_string(config.shutdown_timeout.count()),
            [&](std::string_view v) { config.shutdown_timeout = parse_seconds(v, 1, 3600); });
  flags.add("drain-delay", "SECONDS",
            "After SIGTERM, report not-ready and answer 5.03 this long before flushing and "
            "exiting\n      (0..3600, less than --shutdown-timeout).",
            std::to_string(config.drain_delay.count()),
            [&](std::string_view v) { config.drain_delay = parse_seconds(v, 0, 3600); });
  flags.add("instance", "NAME",
            "Name of this collector in logs, metrics and events (1..253 of [A-Za-z0-9._-]).",
            "host name (" + config.instance + ")",
            [&](std::string_view v) { config.instance = parse_instance(v); });
  flags.add("data-stream", "NAME", "Elasticsearch data stream the events are indexed into.",
            config.index, [&](std::string_view v) { config.index = parse_data_stream(v); });
  double rate_limit = 0;
  std::optional<std::uint64_t> rate_burst;
  flags.add("rate-limit", "EVENTS_PER_S",
            "Events per second each device (source address and port) may send; over it it is\n"
            "      told 4.29 with Max-Age (0: no limit, or 0.001..1000000).",
            "0", [&](std::string_view v) { rate_limit = parse_rate(v); });
  flags.add("rate-burst", "N",
            "Events a device that sent nothing for a while may send at once (1..1000000;\n"
            "      needs --rate-limit).",
            "2 x --rate-limit, at least 1",
            [&](std::string_view v) { rate_burst = cli::parse_unsigned(v, 1, 1000000); });

  DtlsConfig dtls;
  bool listen_dtls_given = false;
  flags.add("psk-file", "FILE",
            "Turns on CoAP over DTLS with pre-shared keys: IDENTITY KEY lines (hex, or\n"
            "      base64:KEY; '#' comments), re-read on SIGHUP and when the file changes. The\n"
            "      identity is the events' sender.",
            "", [&](std::string_view v) {
              if (v.empty()) return;  // an empty variable leaves DTLS off (compose, charts)
              dtls.psk_file = std::string(v);
            });
  flags.add("listen-dtls", "HOST:PORT", "CoAP over DTLS address (with --psk-file).",
            dtls.listen.to_string(), [&](std::string_view v) {
              dtls.listen = cli::parse_host_port(v);
              listen_dtls_given = true;
            });
  flags.add_bool("require-dtls", "Close the plain CoAP port: only authenticated devices.",
                 &dtls.required);
  flags.add("dtls-max-sessions", "N",
            "Established DTLS sessions per worker (1..1000000; ~50 KiB each); when full, a new\n"
            "      device takes the place of the one idle the longest.",
            std::to_string(dtls.max_sessions),
            [&](std::string_view v) { dtls.max_sessions = parse_size(v, 1, 1000000); });
  flags.add("dtls-idle-timeout", "SECONDS",
            "A DTLS session without a record for this long is closed (10..86400).",
            std::to_string(dtls.idle_timeout.count()),
            [&](std::string_view v) { dtls.idle_timeout = parse_seconds(v, 10, 86400); });

  // The Elasticsearch sink. Parsed and validated even without --elasticsearch-url, since
  // operators set these variables fleet-wide; kept only with it.
  ElasticsearchSinkConfig es;
  elastic::ConnectionFlags connection;
  connection.add_to(flags);
  flags.add("elasticsearch-timeout-ms", "MS", "Timeout of one Elasticsearch request (100..600000).",
            std::to_string(es.request_timeout.count()),
            [&](std::string_view v) { es.request_timeout = parse_millis(v, 100, 600000); });
  flags.add("elasticsearch-connect-timeout-ms", "MS",
            "Timeout of connecting to an Elasticsearch node (100..60000).",
            std::to_string(es.connect_timeout.count()),
            [&](std::string_view v) { es.connect_timeout = parse_millis(v, 100, 60000); });
  flags.add("bulk-max-docs", "N", "Most documents in one bulk request, per worker (1..100000).",
            std::to_string(es.bulk_max_docs),
            [&](std::string_view v) { es.bulk_max_docs = parse_size(v, 1, 100000); });
  flags.add("bulk-max-bytes", "BYTES", "Largest bulk request body, per worker (1024..104857600).",
            std::to_string(es.bulk_max_bytes),
            [&](std::string_view v) { es.bulk_max_bytes = parse_size(v, 1024, 104857600); });
  flags.add("bulk-linger-ms", "MS",
            "Longest a document waits for its bulk request to fill (0..60000).",
            std::to_string(es.bulk_linger.count()),
            [&](std::string_view v) { es.bulk_linger = parse_millis(v, 0, 60000); });
  flags.add("bulk-concurrency", "N", "Bulk requests in flight, per worker (1..64).",
            std::to_string(es.bulk_concurrency),
            [&](std::string_view v) { es.bulk_concurrency = parse_size(v, 1, 64); });
  flags.add_bool("bulk-gzip", "Compress bulk request bodies (Content-Encoding: gzip).", &es.gzip);
  flags.add("ack", "MODE",
            "stored: answer devices once Elasticsearch has their events; accepted: once queued.",
            "stored", [&](std::string_view v) { es.ack = parse_ack(v); });
  flags.add("ack-timeout-ms", "MS",
            "With --ack stored, a device waiting longer is told 5.03 (100..600000).",
            std::to_string(es.ack_timeout.count()),
            [&](std::string_view v) { es.ack_timeout = parse_millis(v, 100, 600000); });
  flags.add("max-buffered-bytes", "BYTES",
            "Most event bytes held for Elasticsearch, per worker; beyond it devices are told 5.03\n"
            "      (1048576..17179869184, at least --bulk-max-bytes).",
            std::to_string(es.max_buffered_bytes), [&](std::string_view v) {
              es.max_buffered_bytes =
                  parse_size(v, std::uint64_t{1} << 20, std::uint64_t{16} << 30);
            });
  flags.add_bool("elasticsearch-bootstrap",
                 "Create the lifecycle policy and index templates at start (false: they exist).",
                 &es.bootstrap);
  flags.add("retention-days", "N", "Days events are kept before deletion (1..36500).",
            std::to_string(es.retention_days), [&](std::string_view v) {
              es.retention_days = static_cast<unsigned>(cli::parse_unsigned(v, 1, 36500));
            });
  flags.add("self-metrics-interval", "SECONDS",
            "How often the collector writes its own metrics to <data-stream>-collector in\n"
            "      Elasticsearch (0..86400; 0: never).",
            std::to_string(config.self_metrics_interval.count()),
            [&](std::string_view v) { config.self_metrics_interval = parse_seconds(v, 0, 86400); });

  std::string text;
  if (flags.parse(argc, argv, env, IOT_VERSION, text) != cli::FlagSet::Outcome::run) {
    return ExitNow{0, std::move(text)};
  }
  auto [nodes, authorization, ca_file, insecure] = connection.finish();

  // The drain must end with time left to flush, or every shutdown would hit the hard timeout.
  if (config.drain_delay >= config.shutdown_timeout) {
    throw cli::UsageError("--drain-delay (" + std::to_string(config.drain_delay.count()) +
                          ") must be less than --shutdown-timeout (" +
                          std::to_string(config.shutdown_timeout.count()) + ")");
  }
  if (nodes && sink_given) {
    throw cli::UsageError("--sink and --elasticsearch-url select different sinks; give one");
  }
  // One full bulk request must fit in the buffer, or a worker could never send one.
  if (es.max_buffered_bytes < es.bulk_max_bytes) {
    throw cli::UsageError("--max-buffered-bytes (" + std::to_string(es.max_buffered_bytes) +
                          ") must be at least --bulk-max-bytes (" +
                          std::to_string(es.bulk_max_bytes) + ")");
  }
  if (config.self_metrics_interval.count() > 0 && !nodes) {
    throw cli::UsageError(
        "--self-metrics-interval: the documents go to Elasticsearch; give --elasticsearch-url");
  }
  if (rate_burst && rate_limit == 0) {
    throw cli::UsageError("--rate-burst needs --rate-limit (without a rate there is no limit)");
  }
  if (rate_limit > 0) {
    // Twice the rate lets a device that reports once a second send a missed second's worth at
    // once without being refused.
    config.rate_limit = throttle::RateLimit{
        rate_limit,
        rate_burst.value_or(
            std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(2 * rate_limit)))),
    };
  }
  if (dtls.psk_file.empty()) {
    if (dtls.required) throw cli::UsageError("--require-dtls needs --psk-file (the devices' keys)");
    if (listen_dtls_given)
      throw cli::UsageError("--listen-dtls needs --psk-file (the devices' keys)");
  } else {
    if (!dtls.required && dtls.listen.port != 0 && dtls.listen.port == config.listen.port &&
        dtls.listen.host == config.listen.host) {
      throw cli::UsageError("--listen and --listen-dtls name the same address");
    }
    config.dtls = std::move(dtls);
  }
  es.authorization = std::move(authorization);
  es.ca_file = std::move(ca_file);
  es.insecure = insecure;
  if (nodes) {
    es.nodes = std::move(*nodes);
    config.elasticsearch = std::move(es);
  }
  config.unknown_environment = flags.unknown_environment(env);
  return config;
}

}  // namespace iot::collector

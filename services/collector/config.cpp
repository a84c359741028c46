#include "config.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <string_view>
#include <thread>
#include <utility>

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
  flags.add("sink", "file:PATH", "Where events go: NDJSON appended to PATH.",
            "file:" + config.file_sink.path,
            [&](std::string_view v) { config.file_sink = parse_sink(v); });
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

  std::string text;
  if (flags.parse(argc, argv, env, IOT_VERSION, text) != cli::FlagSet::Outcome::run) {
    return ExitNow{0, std::move(text)};
  }

  // The drain must end with time left to flush, or every shutdown would hit the hard timeout.
  if (config.drain_delay >= config.shutdown_timeout) {
    throw cli::UsageError("--drain-delay (" + std::to_string(config.drain_delay.count()) +
                          ") must be less than --shutdown-timeout (" +
                          std::to_string(config.shutdown_timeout.count()) + ")");
  }
  return config;
}

}  // namespace iot::collector

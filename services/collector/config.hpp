#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <variant>

#include "cli/flag_set.hpp"

namespace iot::collector {

enum class LogFormat { text, json };

struct FileSinkConfig {
  std::string path;  // from --sink file:PATH
};

// Everything the collector is told at start, validated; filled from flags and IOT_COLLECTOR_*.
struct CollectorConfig {
  cli::HostPort listen{"0.0.0.0", 5683};             // --listen
  cli::HostPort admin_listen{"0.0.0.0", 8080};       // --admin-listen
  FileSinkConfig file_sink{"./data/events.ndjson"};  // --sink file:PATH
  std::size_t max_payload = 16384;                   // --max-payload BYTES (1..16 MiB)
  std::size_t max_batch = 100;                       // --max-batch N (1..10000)
  unsigned threads = 0;  // --threads N (1..256); default: std::thread::hardware_concurrency()
  std::string log_level = "info";             // --log-level trace|debug|info|warn|error|off
  LogFormat log_format = LogFormat::text;     // --log-format text|json
  std::chrono::seconds shutdown_timeout{10};  // --shutdown-timeout SECONDS (1..3600)
  // --drain-delay SECONDS (0..3600, < shutdown_timeout): after SIGTERM the collector stays up,
  // reports not-ready and answers 5.03 this long before it flushes and exits, so a Kubernetes
  // Service / MetalLB has time to stop routing devices to it.
  std::chrono::seconds drain_delay{0};
  std::string instance;  // --instance NAME; default: the host name (the pod name in Kubernetes)
  // --data-stream NAME: the bulk action's _index (ES naming rules)
  std::string index = "iot-events";
};

// What main should do: run with a config, or exit with a status after printing text
// (help/version to stdout with status 0; usage errors are thrown as cli::UsageError).
struct ExitNow {
  int status;
  std::string text;
};
using ParseResult = std::variant<CollectorConfig, ExitNow>;

ParseResult parse_collector_config(int argc, const char* const* argv, const cli::Environment& env);

}  // namespace iot::collector

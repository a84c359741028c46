#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "cli/flag_set.hpp"
#include "elastic/url.hpp"
#include "throttle/token_bucket_table.hpp"

namespace iot::collector {

enum class LogFormat { text, json };

struct FileSinkConfig {
  std::string path;  // from --sink file:PATH
};

// When a device is answered (Elasticsearch sink only; the file sink always answers once written).
enum class AckMode {
  stored,    // --ack stored: 2.01 only once Elasticsearch has every document of the request
  accepted,  // --ack accepted: 2.01 as soon as the documents are queued
};

// The Elasticsearch sink, chosen by --elasticsearch-url. Every field below is used by this sink
// only; the file sink ignores all of them. The flags are accepted and validated even without
// --elasticsearch-url (operators set IOT_COLLECTOR_* fleet-wide), but then this struct is not
// kept. Limits marked "per worker" apply to each of the --threads workers separately.
// The data stream is CollectorConfig::index (--data-stream), shared with the file sink's _index.
struct ElasticsearchSinkConfig {
  // Connection (elastic::HttpClientSettings).
  std::vector<elastic::NodeUrl> nodes;  // --elasticsearch-url URL[,URL...]; at least one
  // The ready Authorization header value: "ApiKey <key as given>" (--elasticsearch-api-key[-file])
  // or "Basic <base64(user:password)>" (--elasticsearch-username[-file] and
  // --elasticsearch-password[-file]); nullopt: no authentication. A SECRET: never log it.
  std::optional<std::string> authorization;
  std::string ca_file;    // --elasticsearch-ca FILE (PEM, readable at start); "": system store
  bool insecure = false;  // --elasticsearch-insecure: no certificate/host checks (log a warning)
  std::chrono::milliseconds request_timeout{10000};  // --elasticsearch-timeout-ms (100..600000)
  std::chrono::milliseconds connect_timeout{2000};   // --elasticsearch-connect-timeout-ms
                                                     // (100..60000)
  bool gzip = false;  // --bulk-gzip: Content-Encoding: gzip for bulk request bodies

  // Batching, per worker (elastic::BulkBatcher::Limits, elastic::BulkWriterSettings).
  std::size_t bulk_max_docs = 1000;             // --bulk-max-docs N (1..100000)
  std::size_t bulk_max_bytes = 5242880;         // --bulk-max-bytes BYTES (1024..104857600)
  std::chrono::milliseconds bulk_linger{20};    // --bulk-linger-ms MS (0..60000)
  std::size_t bulk_concurrency = 2;             // --bulk-concurrency N (1..64) in flight
  AckMode ack = AckMode::stored;                // --ack stored|accepted
  std::chrono::milliseconds ack_timeout{5000};  // --ack-timeout-ms MS (100..600000)
  // --max-buffered-bytes BYTES (1 MiB..16 GiB, >= bulk_max_bytes), per worker: queued + in
  // flight + awaiting retry; beyond it devices get 5.03.
  std::size_t max_buffered_bytes = std::size_t{16} << 20;

  // Start-up (elastic::BootstrapSettings).
  bool bootstrap = true;         // --elasticsearch-bootstrap[=false]: PUT policy and templates
  unsigned retention_days = 30;  // --retention-days N (1..36500): ILM delete phase
};

// Device authentication with DTLS 1.2 pre-shared keys; on iff --psk-file is given.
struct DtlsConfig {
  // --psk-file FILE: IDENTITY KEY lines (dtls::PskKeys). Read at start (a bad file stops the
  // start), re-read on SIGHUP and when it changes; the identity becomes the events' sender.
  std::string psk_file;
  cli::HostPort listen{"0.0.0.0", 5684};   // --listen-dtls HOST:PORT
  bool required = false;                   // --require-dtls: no plain CoAP endpoint
  std::size_t max_sessions = 2000;         // --dtls-max-sessions N (1..1000000), per worker
  std::chrono::seconds idle_timeout{300};  // --dtls-idle-timeout SECONDS (10..86400)
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
  // --self-metrics-interval SECONDS (0..86400; 0 = off): how often the collector writes its own
  // metrics as a document into <data-stream>-collector; needs the Elasticsearch sink.
  std::chrono::seconds self_metrics_interval{0};
  // --rate-limit EVENTS_PER_S (0.001..1000000) and --rate-burst N (1..1000000; default
  // max(1, ceil(2 x rate))): a token bucket per device (UDP source address and port), kept by
  // each worker for the devices it serves; over it devices get 4.29. Set iff --rate-limit is
  // given and not 0.
  std::optional<throttle::RateLimit> rate_limit;
  std::optional<DtlsConfig> dtls;
  // The Elasticsearch sink; set iff --elasticsearch-url (or its variable) is given, and then it is
  // the sink: file_sink keeps its default and is unused (--sink with it is a usage error).
  std::optional<ElasticsearchSinkConfig> elasticsearch;
  // IOT_COLLECTOR_* variables that name no flag: main logs them as a warning (a typo in a chart or
  // compose file would otherwise be silently ignored).
  std::vector<std::string> unknown_environment;
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

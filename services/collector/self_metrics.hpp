#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>

#include "collector_metrics.hpp"

namespace iot::collector {

// Every worker's counters summed at one moment (relaxed reads: each value is exact, the set is
// not one atomic snapshot, which is fine for a report over seconds).
struct MetricTotals {
  std::uint64_t requests = 0;
  std::uint64_t responses_success = 0;       // 2.xx
  std::uint64_t responses_client_error = 0;  // 4.xx
  std::uint64_t responses_server_error = 0;  // 5.xx
  std::uint64_t duplicates = 0;
  std::uint64_t payload_bytes = 0;
  std::uint64_t events_accepted = 0;
  std::uint64_t events_rejected = 0;
  std::uint64_t sink_write_errors = 0;
  std::uint64_t bulk_requests = 0;
  std::uint64_t bulk_failures = 0;
  std::uint64_t documents_created = 0;
  std::uint64_t documents_duplicate = 0;
  std::uint64_t documents_retried = 0;
  std::uint64_t documents_dead_lettered = 0;
  std::uint64_t documents_too_large = 0;
  std::uint64_t buffered_bytes = 0;  // a gauge: the current value, not a delta
  metrics::LatencyHistogram::Snapshot bulk_duration;
  metrics::LatencyHistogram::Snapshot acknowledgement_duration;
};
MetricTotals total_metrics(std::span<const WorkerMetrics* const> workers);

// The collector's own metrics as documents in the data stream `<data-stream>-collector`, so
// Kibana can chart the collectors next to the events. Each document holds what happened since
// the previous stored one (counts, mean latencies) plus gauges; summing a field over a time range
// gives that range's total. Exactly once: a document keeps its _id (instance + time) and is sent
// again unchanged until Elasticsearch has it (201 or 409), and only then does the next one start
// counting, so a lost response neither drops nor double-counts anything. Not thread-safe: used
// by the monitor thread only (it reads the workers' atomics).
class SelfMetricsReporter {
 public:
  struct Sources {
    std::function<MetricTotals()> totals;
    std::function<ProcessState()> state;
  };
  SelfMetricsReporter(std::string stream, std::string instance, Sources sources);

  // The bulk body to send now: the unsent document again, or a new one covering the time since
  // the last stored document.
  std::string next_bulk_body(std::chrono::system_clock::time_point now);
  // Elasticsearch holds the document of the last next_bulk_body().
  void stored();

 private:
  std::string stream_;
  std::string instance_;
  Sources sources_;
  std::chrono::system_clock::time_point started_;
  MetricTotals baseline_;                              // totals in the last stored document
  std::chrono::system_clock::time_point baseline_at_;  // and when it was taken
  struct Pending {
    std::string body;
    MetricTotals totals;
    std::chrono::system_clock::time_point at;
  };
  std::optional<Pending> pending_;
};

}  // namespace iot::collector

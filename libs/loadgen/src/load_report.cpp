#include "loadgen/load_report.hpp"

namespace iot::loadgen {
namespace {

double microseconds_to_ms(std::uint64_t microseconds) {
  return static_cast<double>(microseconds) / 1000.0;
}

}  // namespace

LatencySummary summarize_latency(const HdrHistogram& latency_us) {
  LatencySummary summary;
  summary.samples = latency_us.total_count();
  if (summary.samples == 0) return summary;
  summary.p50_ms = microseconds_to_ms(latency_us.value_at_percentile(50));
  summary.p90_ms = microseconds_to_ms(latency_us.value_at_percentile(90));
  summary.p99_ms = microseconds_to_ms(latency_us.value_at_percentile(99));
  summary.p99_9_ms = microseconds_to_ms(latency_us.value_at_percentile(99.9));
  summary.max_ms = microseconds_to_ms(latency_us.max());
  summary.mean_ms = latency_us.mean() / 1000.0;
  return summary;
}

std::uint64_t LoadReport::answered() const {
  std::uint64_t total = 0;
  for (const auto& [code, count] : responses) total += count;
  return total;
}

std::uint64_t LoadReport::ok_responses() const {
  std::uint64_t total = 0;
  for (const auto& [code, count] : responses) {
    if (code.starts_with("2.")) total += count;
  }
  return total;
}

double LoadReport::throughput_per_second() const {
  if (!(duration_seconds > 0)) return 0.0;
  return static_cast<double>(answered()) / duration_seconds;
}

double LoadReport::error_rate() const {
  if (requests_sent == 0) return 0.0;
  const std::uint64_t ok = ok_responses();
  // More 2.xx than requests would mean duplicated answers were counted; never report below 0.
  if (ok >= requests_sent) return 0.0;
  return static_cast<double>(requests_sent - ok) / static_cast<double>(requests_sent);
}

double LoadReport::handshakes_per_second() const {
  if (!handshakes) return 0.0;
  const double seconds =
      handshakes->before_run_seconds > 0 ? handshakes->before_run_seconds : duration_seconds;
  if (!(seconds > 0)) return 0.0;
  return static_cast<double>(handshakes->established) / seconds;
}

}  // namespace iot::loadgen

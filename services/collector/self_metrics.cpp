#include "self_metrics.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "event/timestamp.hpp"

namespace iot::collector {
namespace {

namespace json = boost::json;

// Counters only grow; a smaller value can only mean a baseline from another process.
std::uint64_t delta(std::uint64_t now, std::uint64_t before) {
  return now >= before ? now - before : now;
}

// Mean of the observations between two snapshots, in milliseconds (0 when there were none).
double mean_ms(const metrics::LatencyHistogram::Snapshot& now,
               const metrics::LatencyHistogram::Snapshot& before) {
  const auto count = delta(now.count, before.count);
  if (count == 0) return 0;
  return (now.sum_seconds - before.sum_seconds) * 1000.0 / static_cast<double>(count);
}

}  // namespace

MetricTotals total_metrics(std::span<const WorkerMetrics* const> workers) {
  MetricTotals t;
  for (const auto* worker : workers) {
    for (std::size_t i = 0; i < worker->requests.size(); ++i) {
      const auto value = worker->requests[i].value();
      if (value == 0) continue;
      t.requests += value;
      const std::size_t code = i % kCodeLabelCount;
      if (code >= kTrackedCodes.size()) continue;  // "other": counted in requests only
      switch (static_cast<int>(kTrackedCodes[code]) >> 5) {
        case 2:
          t.responses_success += value;
          break;
        case 4:
          t.responses_client_error += value;
          break;
        case 5:
          t.responses_server_error += value;
          break;
        default:
          break;
      }
    }
    for (const auto& rejected : worker->rejected) t.events_rejected += rejected.value();
    t.bulk_duration += worker->elasticsearch.request_duration.snapshot();
    t.acknowledgement_duration += worker->acknowledgement_duration.snapshot();
  }
  t.duplicates = sum_over(workers, [](const WorkerMetrics& w) { return w.duplicates.value(); });
  t.payload_bytes =
      sum_over(workers, [](const WorkerMetrics& w) { return w.payload_bytes.value(); });
  t.events_accepted =
      sum_over(workers, [](const WorkerMetrics& w) { return w.events_accepted.value(); });
  t.sink_write_errors =
      sum_over(workers, [](const WorkerMetrics& w) { return w.sink_write_errors.value(); });
  const auto es = [&](auto member) {
    return sum_over(workers,
                    [&](const WorkerMetrics& w) { return (w.elasticsearch.*member).value(); });
  };
  t.bulk_requests = es(&elastic::BulkWriterStats::requests);
  t.bulk_failures = es(&elastic::BulkWriterStats::request_failures);
  t.documents_created = es(&elastic::BulkWriterStats::created);
  t.documents_duplicate = es(&elastic::BulkWriterStats::duplicates);
  t.documents_retried = es(&elastic::BulkWriterStats::item_retries);
  t.documents_dead_lettered = es(&elastic::BulkWriterStats::dead_lettered);
  t.documents_too_large = es(&elastic::BulkWriterStats::too_large);
  t.buffered_bytes = sum_over(workers, [](const WorkerMetrics& w) {
    return w.elasticsearch.buffered_bytes.load(std::memory_order_relaxed);
  });
  return t;
}

SelfMetricsReporter::SelfMetricsReporter(std::string stream, std::string instance, Sources sources)
    : stream_(std::move(stream)),
      instance_(std::move(instance)),
      sources_(std::move(sources)),
      started_(std::chrono::system_clock::now()),
      baseline_at_(started_) {}

std::string SelfMetricsReporter::next_bulk_body(std::chrono::system_clock::time_point now) {
  if (pending_) return pending_->body;
  const MetricTotals t = sources_.totals();
  const ProcessState state = sources_.state();
  const MetricTotals& b = baseline_;
  const auto at_ms = event::epoch_ms(now);
  const double interval_s = std::chrono::duration<double>(now - baseline_at_).count();
  const json::object document{
      {"@timestamp", event::format_rfc3339_ms(at_ms)},
      {"collector", instance_},
      {"version", IOT_VERSION},
      {"interval_s", interval_s},
      {"uptime_s", std::chrono::duration<double>(now - started_).count()},
      {"workers", state.workers},
      {"ready", state.ready},
      {"elasticsearch_up", state.elasticsearch_up},
      {"coap",
       {{"requests", delta(t.requests, b.requests)},
        {"responses",
         {{"success", delta(t.responses_success, b.responses_success)},
          {"client_error", delta(t.responses_client_error, b.responses_client_error)},
          {"server_error", delta(t.responses_server_error, b.responses_server_error)}}},
        {"duplicates", delta(t.duplicates, b.duplicates)},
        {"payload_bytes", delta(t.payload_bytes, b.payload_bytes)}}},
      {"events",
       {{"accepted", delta(t.events_accepted, b.events_accepted)},
        {"rejected", delta(t.events_rejected, b.events_rejected)}}},
      {"elasticsearch",
       {{"bulk_requests", delta(t.bulk_requests, b.bulk_requests)},
        {"bulk_failures", delta(t.bulk_failures, b.bulk_failures)},
        {"bulk_latency_ms", mean_ms(t.bulk_duration, b.bulk_duration)},
        {"buffered_bytes", t.buffered_bytes},
        {"documents",
         {{"created", delta(t.documents_created, b.documents_created)},
          {"duplicate", delta(t.documents_duplicate, b.documents_duplicate)},
          {"retried", delta(t.documents_retried, b.documents_retried)},
          {"dead_lettered", delta(t.documents_dead_lettered, b.documents_dead_lettered)},
          {"too_large", delta(t.documents_too_large, b.documents_too_large)}}}}},
      {"acknowledgement",
       {{"count", delta(t.acknowledgement_duration.count, b.acknowledgement_duration.count)},
        {"latency_ms", mean_ms(t.acknowledgement_duration, b.acknowledgement_duration)}}},
      {"sink_write_errors", delta(t.sink_write_errors, b.sink_write_errors)},
  };
  const json::object action{
      {"create", {{"_index", stream_}, {"_id", instance_ + ":" + std::to_string(at_ms)}}}};
  std::string body = json::serialize(action) + "\n" + json::serialize(document) + "\n";
  pending_ = Pending{body, t, now};
  return body;
}

void SelfMetricsReporter::stored() {
  if (!pending_) return;
  baseline_ = pending_->totals;
  baseline_at_ = pending_->at;
  pending_.reset();
}

}  // namespace iot::collector

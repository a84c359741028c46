#include "collector_metrics.hpp"

#include <algorithm>

namespace iot::collector {
namespace {

using metrics::PrometheusWriter;

constexpr std::string_view kPathNames[kPathLabelCount] = {"/events", "/health", "other"};
constexpr std::string_view kRejectNames[kRejectLabelCount] = {
    "malformed_json",    "schema",
    "bad_timestamp",     "batch_too_large",
    "payload_too_large", "unsupported_content_format",
    "rate_limited",      "sender_mismatch"};

std::size_t code_index(coap::Code code) {
  const auto* it = std::find(kTrackedCodes.begin(), kTrackedCodes.end(), code);
  return static_cast<std::size_t>(it - kTrackedCodes.begin());  // kTrackedCodes.size() = other
}

std::size_t request_index(coap::Method method, PathLabel path, coap::Code code) {
  return (static_cast<std::size_t>(method) * kPathLabelCount + static_cast<std::size_t>(path)) *
             kCodeLabelCount +
         code_index(code);
}

void render_elasticsearch(PrometheusWriter& out, std::span<const WorkerMetrics* const> workers,
                          const ProcessState& state) {
  out.header("iot_elasticsearch_up", "gauge",
             "1 when the last Elasticsearch health check succeeded.");
  out.sample("iot_elasticsearch_up", "", std::uint64_t{state.elasticsearch_up ? 1u : 0u});
  out.header("iot_elasticsearch_bulk_requests_total", "counter",
             "Bulk requests sent, retries included.");
  out.sample(
      "iot_elasticsearch_bulk_requests_total", "",
      sum_over(workers, [](const WorkerMetrics& w) { return w.elasticsearch.requests.value(); }));
  out.header(
      "iot_elasticsearch_bulk_failures_total", "counter",
      "Bulk requests that failed as a whole (transport error, non-200) and were retried with "
      "backoff; a request lost on a stale keep-alive connection and re-sent at once is not "
      "counted.");
  out.sample("iot_elasticsearch_bulk_failures_total", "",
             sum_over(workers, [](const WorkerMetrics& w) {
               return w.elasticsearch.request_failures.value();
             }));
  out.header("iot_elasticsearch_documents_total", "counter",
             "Documents by outcome in bulk responses.");
  const std::pair<std::string_view, std::uint64_t> outcomes[] = {
      {"created",
       sum_over(workers, [](const WorkerMetrics& w) { return w.elasticsearch.created.value(); })},
      {"duplicate",
       sum_over(workers,
                [](const WorkerMetrics& w) { return w.elasticsearch.duplicates.value(); })},
      {"retried",
       sum_over(workers,
                [](const WorkerMetrics& w) { return w.elasticsearch.item_retries.value(); })},
      {"dead_lettered",
       sum_over(workers,
                [](const WorkerMetrics& w) { return w.elasticsearch.dead_lettered.value(); })},
      {"too_large",
       sum_over(workers, [](const WorkerMetrics& w) { return w.elasticsearch.too_large.value(); })},
  };
  for (const auto& [outcome, value] : outcomes) {
    out.sample("iot_elasticsearch_documents_total", PrometheusWriter::label("outcome", outcome),
               value);
  }
  out.header("iot_elasticsearch_buffered_bytes", "gauge",
             "Bytes of documents queued, in flight or awaiting a retry, by worker.");
  for (std::size_t i = 0; i < workers.size(); ++i) {
    out.sample(
        "iot_elasticsearch_buffered_bytes", PrometheusWriter::label("worker", std::to_string(i)),
        std::uint64_t{workers[i]->elasticsearch.buffered_bytes.load(std::memory_order_relaxed)});
  }
  out.header("iot_elasticsearch_bulk_duration_seconds", "histogram", "Bulk request latency.");
  metrics::LatencyHistogram::Snapshot bulk;
  for (const auto* worker : workers) bulk += worker->elasticsearch.request_duration.snapshot();
  out.histogram("iot_elasticsearch_bulk_duration_seconds", "", bulk);
  out.header("iot_acknowledgement_duration_seconds", "histogram",
             "Time devices waited for their answer until Elasticsearch settled their events.");
  metrics::LatencyHistogram::Snapshot acks;
  for (const auto* worker : workers) acks += worker->acknowledgement_duration.snapshot();
  out.histogram("iot_acknowledgement_duration_seconds", "", acks);
}

}  // namespace

RejectLabel reject_label(event::RejectReason reason) {
  switch (reason) {
    case event::RejectReason::malformed_json:
      return RejectLabel::malformed_json;
    case event::RejectReason::schema:
      return RejectLabel::schema;
    case event::RejectReason::bad_timestamp:
      return RejectLabel::bad_timestamp;
    case event::RejectReason::batch_too_large:
      return RejectLabel::batch_too_large;
    case event::RejectReason::sender_mismatch:
      return RejectLabel::sender_mismatch;
  }
  return RejectLabel::schema;
}

void WorkerMetrics::count_request(coap::Method method, PathLabel path, coap::Code code,
                                  std::uint64_t duration_ns) {
  requests[request_index(method, path, code)].add();
  request_duration.observe_ns(duration_ns);
}

void WorkerMetrics::count_deferred_answer(coap::Code code, std::uint64_t waited_ns) {
  requests[request_index(coap::Method::post, PathLabel::events, code)].add();
  acknowledgement_duration.observe_ns(waited_ns);
}

namespace {

// Session and handshake counters of the DTLS endpoints (all zero without --psk-file).
void render_dtls(PrometheusWriter& out, std::span<const WorkerMetrics* const> workers) {
  const auto total = [&](metrics::Counter dtls::SessionMetrics::*counter) {
    return sum_over(workers, [&](const WorkerMetrics& w) { return (w.dtls.*counter).value(); });
  };
  out.header("iot_dtls_hello_verify_requests_total", "counter",
             "ClientHellos answered with a cookie (no state is kept until it comes back).");
  out.sample("iot_dtls_hello_verify_requests_total", "",
             total(&dtls::SessionMetrics::hello_verify_requests));
  out.header("iot_dtls_handshakes_total", "counter",
             "DTLS handshakes by result (failed: unknown identity, wrong key, timed out).");
  out.sample("iot_dtls_handshakes_total", PrometheusWriter::label("result", "completed"),
             total(&dtls::SessionMetrics::handshakes_completed));
  out.sample("iot_dtls_handshakes_total", PrometheusWriter::label("result", "failed"),
             total(&dtls::SessionMetrics::handshakes_failed));
  const std::uint64_t closed = total(&dtls::SessionMetrics::sessions_closed);
  out.header("iot_dtls_sessions", "gauge",
             "DTLS sessions held now (established and handshaking), all workers.");
  // Closed was read first and a session opens before it closes: opened >= closed, but the
  // counters are independent relaxed atomics, so never let a race show a wrapped number.
  const std::uint64_t opened = total(&dtls::SessionMetrics::sessions_opened);
  out.sample("iot_dtls_sessions", "", opened > closed ? opened - closed : 0);
  out.header("iot_dtls_sessions_closed_total", "counter",
             "DTLS sessions ended (idle, revoked, closed by the device, failed handshakes).");
  out.sample("iot_dtls_sessions_closed_total", "", closed);
  out.header("iot_dtls_sessions_evicted_total", "counter",
             "Sessions idle the longest, closed to make room for a newly authenticated device "
             "(--dtls-max-sessions).");
  out.sample("iot_dtls_sessions_evicted_total", "", total(&dtls::SessionMetrics::sessions_evicted));
  out.header("iot_dtls_handshakes_deferred_total", "counter",
             "ClientHellos dropped because 256 handshakes were unfinished on the worker; the "
             "devices retry.");
  out.sample("iot_dtls_handshakes_deferred_total", "",
             total(&dtls::SessionMetrics::handshakes_deferred));
  out.header("iot_dtls_sessions_revoked_total", "counter",
             "Sessions closed because a reload of --psk-file removed or changed their key.");
  out.sample("iot_dtls_sessions_revoked_total", "", total(&dtls::SessionMetrics::sessions_revoked));
  out.header("iot_dtls_records_dropped_total", "counter",
             "DTLS datagrams dropped: no session for them, or not decryptable.");
  out.sample("iot_dtls_records_dropped_total", "", total(&dtls::SessionMetrics::records_dropped));
}

}  // namespace

std::string render_metrics(std::span<const WorkerMetrics* const> workers,
                           const ProcessState& state) {
  PrometheusWriter out;
  out.header("iot_build_info", "gauge", "Version of this collector.");
  out.sample("iot_build_info", PrometheusWriter::label("version", IOT_VERSION), std::uint64_t{1});
  out.header("iot_ready", "gauge", "1 while serving, 0 while starting or draining.");
  out.sample("iot_ready", "", std::uint64_t{state.ready ? 1u : 0u});
  out.header("iot_workers", "gauge", "Worker threads, each with its own CoAP endpoint.");
  out.sample("iot_workers", "", std::uint64_t{state.workers});

  out.header("iot_coap_requests_total", "counter",
             "CoAP requests by method, path and response code.");
  for (std::size_t m = 0; m < coap::kMethodCount; ++m) {
    for (std::size_t p = 0; p < kPathLabelCount; ++p) {
      for (std::size_t c = 0; c < kCodeLabelCount; ++c) {
        const std::size_t index = (m * kPathLabelCount + p) * kCodeLabelCount + c;
        const auto value =
            sum_over(workers, [&](const WorkerMetrics& w) { return w.requests[index].value(); });
        if (value == 0) continue;
        const std::string code =
            c < kTrackedCodes.size() ? coap::code_text(kTrackedCodes[c]) : "other";
        out.sample(
            "iot_coap_requests_total",
            PrometheusWriter::label("method", coap::method_name(static_cast<coap::Method>(m))) +
                "," + PrometheusWriter::label("path", kPathNames[p]) + "," +
                PrometheusWriter::label("code", code),
            value);
      }
    }
  }
  out.header("iot_coap_duplicates_total", "counter",
             "Retransmitted requests answered from the exchange cache, not processed again.");
  out.sample("iot_coap_duplicates_total", "",
             sum_over(workers, [](const WorkerMetrics& w) { return w.duplicates.value(); }));
  out.header("iot_coap_payload_bytes_total", "counter", "Request body bytes received on /events.");
  out.sample("iot_coap_payload_bytes_total", "",
             sum_over(workers, [](const WorkerMetrics& w) { return w.payload_bytes.value(); }));
  out.header("iot_events_accepted_total", "counter", "Events validated and stored.");
  out.sample("iot_events_accepted_total", "",
             sum_over(workers, [](const WorkerMetrics& w) { return w.events_accepted.value(); }));
  out.header("iot_events_rejected_total", "counter",
             "Requests whose events were refused, by reason.");
  for (std::size_t r = 0; r < kRejectLabelCount; ++r) {
    out.sample("iot_events_rejected_total", PrometheusWriter::label("reason", kRejectNames[r]),
               sum_over(workers, [&](const WorkerMetrics& w) { return w.rejected[r].value(); }));
  }
  out.header("iot_rate_limit_untracked_total", "counter",
             "New devices admitted without a rate limit because their worker's table of devices "
             "was full of active ones.");
  out.sample("iot_rate_limit_untracked_total", "", sum_over(workers, [](const WorkerMetrics& w) {
               return w.rate_limit_untracked.value();
             }));
  render_dtls(out, workers);
  out.header("iot_sink_write_errors_total", "counter",
             "Failed writes to the sink (devices got 5.00).");
  out.sample("iot_sink_write_errors_total", "",
             sum_over(workers, [](const WorkerMetrics& w) { return w.sink_write_errors.value(); }));
  out.header("iot_coap_request_duration_seconds", "histogram",
             "Time from a request reaching the collector's handler to its response.");
  metrics::LatencyHistogram::Snapshot durations;
  for (const auto* worker : workers) durations += worker->request_duration.snapshot();
  out.histogram("iot_coap_request_duration_seconds", "", durations);
  out.header("iot_coap_receive_wait_seconds", "histogram",
             "Time from the kernel receiving a datagram to the end of the batch that handled "
             "it, when the batch's answers have left: queueing behind earlier work plus "
             "processing. Answers deferred until Elasticsearch stored the events (--ack stored) "
             "leave later: iot_acknowledgement_duration_seconds.");
  metrics::LatencyHistogram::Snapshot waits;
  for (const auto* worker : workers) waits += worker->receive_wait.snapshot();
  out.histogram("iot_coap_receive_wait_seconds", "", waits);
  if (state.elasticsearch) render_elasticsearch(out, workers, state);
  return out.text();
}

}  // namespace iot::collector

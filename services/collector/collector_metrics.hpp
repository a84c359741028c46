#pragma once

#include <array>
#include <cstddef>
#include <span>
#include <string>

#include "coap/message.hpp"
#include "dtls/server_sessions.hpp"
#include "elastic/bulk_writer.hpp"
#include "event/validator.hpp"
#include "metrics/metrics.hpp"

namespace iot::collector {

// Request paths as metric labels: a fixed set, so a scan of random URIs cannot grow the series.
enum class PathLabel : std::uint8_t { events, health, other };
inline constexpr std::size_t kPathLabelCount = 3;

// Every response code the collector sends, plus "other" for anything unexpected.
inline constexpr std::array kTrackedCodes{coap::Code::created,
                                          coap::Code::content,
                                          coap::Code::continue_,
                                          coap::Code::bad_request,
                                          coap::Code::forbidden,
                                          coap::Code::not_found,
                                          coap::Code::method_not_allowed,
                                          coap::Code::request_entity_incomplete,
                                          coap::Code::request_entity_too_large,
                                          coap::Code::unsupported_content_format,
                                          coap::Code::too_many_requests,
                                          coap::Code::internal_server_error,
                                          coap::Code::service_unavailable};
inline constexpr std::size_t kCodeLabelCount = kTrackedCodes.size() + 1;

// Why events were refused: the validator's reasons, then the request-level ones.
enum class RejectLabel : std::uint8_t {
  malformed_json,
  schema,
  bad_timestamp,
  batch_too_large,
  payload_too_large,
  unsupported_content_format,
  rate_limited,     // 4.29: the device is over --rate-limit
  sender_mismatch,  // 4.03: an event's sender is not the device's DTLS identity
};
inline constexpr std::size_t kRejectLabelCount = 8;
RejectLabel reject_label(event::RejectReason reason);

// Counters of one worker: written only by its thread, read by the admin thread at scrape time.
struct WorkerMetrics {
  std::array<metrics::Counter, coap::kMethodCount * kPathLabelCount * kCodeLabelCount> requests;
  std::array<metrics::Counter, kRejectLabelCount> rejected;  // requests refused, by reason
  metrics::Counter events_accepted;
  metrics::Counter payload_bytes;
  metrics::Counter sink_write_errors;
  metrics::LatencyHistogram request_duration;
  // Kernel receipt of a datagram to its batch's answers leaving (coap::Server's receive_wait).
  metrics::LatencyHistogram receive_wait;
  elastic::BulkWriterStats elasticsearch;  // stays zero with the file sink
  metrics::LatencyHistogram acknowledgement_duration;
  metrics::Counter duplicates;  // retransmissions answered from the exchange cache
  // New devices admitted without a rate-limit bucket because the table was full (fail open).
  metrics::Counter rate_limit_untracked;
  dtls::SessionMetrics dtls;  // stays zero without --psk-file

  void count_request(coap::Method method, PathLabel path, coap::Code code,
                     std::uint64_t duration_ns);
  // A POST /events answered after Elasticsearch settled it (--ack stored): counted with the time
  // the device waited for its acknowledgement.
  void count_deferred_answer(coap::Code code, std::uint64_t waited_ns);
};

// One value read from every worker, added up (at scrape or report time).
template <typename Read>
std::uint64_t sum_over(std::span<const WorkerMetrics* const> workers, Read read) {
  std::uint64_t total = 0;
  for (const auto* worker : workers) total += read(*worker);
  return total;
}

struct ProcessState {
  bool ready;
  unsigned workers;
  bool elasticsearch = false;     // the Elasticsearch sink is in use
  bool elasticsearch_up = false;  // its last health check succeeded
};

// The whole /metrics page: sums over workers, build info and readiness.
std::string render_metrics(std::span<const WorkerMetrics* const> workers,
                           const ProcessState& state);

}  // namespace iot::collector

#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <unordered_map>

#include "coap/server.hpp"
#include "collector_metrics.hpp"
#include "config.hpp"
#include "elastic/background_bulk_transport.hpp"
#include "elastic/bulk_writer.hpp"
#include "elastic/http_client.hpp"
#include "event_store.hpp"

namespace iot::collector {

// Events to Elasticsearch through the worker's BulkWriter. With --ack stored a confirmable
// request is deferred and answered 2.01 only when Elasticsearch has every one of its events
// (created or 409), 4.00 with the reason when one was rejected (it went to the dead-letter
// stream), 5.03 when that takes longer than --ack-timeout-ms. With --ack accepted, and for
// non-confirmable requests, the answer is 2.01 as soon as the events are queued. When the
// worker's buffer is full the answer is 5.03 with a Max-Age from the backlog.
class ElasticsearchStore final : public EventStore {
 public:
  // What a device waiting for its answer (--ack stored) costs beyond its documents: the deferred
  // exchange, its acknowledgement group and bookkeeping, the documents' own allocations (~600
  // bytes, heaptrack). It counts against --max-buffered-bytes while the device waits, so the
  // buffer bounds the memory of stored mode and not only its event bytes: with Elasticsearch
  // falling behind, one event per request, RSS had grown to ~3x the buffer.
  static constexpr std::size_t kWaitingRequestBytes = 640;

  // Owns the worker's HTTP connections to Elasticsearch.
  // bootstrapped: set once the index templates exist; until then requests get 5.03.
  ElasticsearchStore(boost::asio::io_context& io, elastic::HttpClientSettings http,
                     elastic::BulkWriterSettings settings, AckMode ack,
                     const std::atomic<bool>& bootstrapped, WorkerMetrics& metrics);
  std::optional<coap::Response> store(const std::vector<std::string>& documents,
                                      const coap::Request& request) override;
  std::optional<coap::Response> refuse_early(std::size_t body_bytes,
                                             const coap::Request& request) override;
  void drain(std::function<void()> done) override;

 private:
  void completed(const elastic::AcknowledgementGroups::Completion& completion);
  void expired(elastic::BulkWriter::GroupId group);
  void answer(elastic::BulkWriter::GroupId group, const coap::Response& response);
  coap::Response unavailable(std::string message) const;
  // Bytes the request would count against --max-buffered-bytes beyond its documents.
  std::size_t waiting_charge(const coap::Request& request) const;

  AckMode ack_;
  const std::atomic<bool>& bootstrapped_;
  WorkerMetrics& metrics_;
  // Bulk requests go out from a thread of their own.
  elastic::BackgroundBulkTransport transport_;
  struct Waiting {
    coap::PendingExchange exchange;
    std::chrono::steady_clock::time_point since;
  };
  std::unordered_map<elastic::BulkWriter::GroupId, Waiting> waiting_;
  elastic::BulkWriter writer_;  // last: its callbacks use waiting_
};

}  // namespace iot::collector

#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <unordered_map>

#include "coap/server.hpp"
#include "collector_metrics.hpp"
#include "config.hpp"
#include "elastic/bulk_writer.hpp"
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
  ElasticsearchStore(boost::asio::io_context& io, elastic::BulkTransport& transport,
                     elastic::BulkWriterSettings settings, AckMode ack,
                     elastic::BulkWriterStats& stats, WorkerMetrics& metrics);
  std::optional<coap::Response> store(std::vector<std::string> documents,
                                      const coap::Request& request) override;
  void drain(std::function<void()> done) override;

 private:
  void completed(const elastic::AcknowledgementGroups::Completion& completion);
  void expired(elastic::BulkWriter::GroupId group);
  void answer(elastic::BulkWriter::GroupId group, const coap::Response& response);
  coap::Response unavailable(std::string message) const;

  AckMode ack_;
  WorkerMetrics& metrics_;
  struct Waiting {
    coap::PendingExchange exchange;
    std::chrono::steady_clock::time_point since;
  };
  std::unordered_map<elastic::BulkWriter::GroupId, Waiting> waiting_;
  elastic::BulkWriter writer_;  // last: its callbacks use waiting_
};

}  // namespace iot::collector

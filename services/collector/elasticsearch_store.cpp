#include "elasticsearch_store.hpp"

#include "elastic/http_bulk_transport.hpp"

namespace iot::collector {

ElasticsearchStore::ElasticsearchStore(boost::asio::io_context& io,
                                       elastic::HttpClientSettings http,
                                       elastic::BulkWriterSettings settings, AckMode ack,
                                       const std::atomic<bool>& bootstrapped,
                                       WorkerMetrics& metrics)
    : ack_(ack),
      bootstrapped_(bootstrapped),
      metrics_(metrics),
      transport_(
          io,
          [http = std::move(http)](boost::asio::io_context& background) {
            return std::make_unique<elastic::HttpBulkTransport>(background, http);
          },
          "es-bulk"),
      writer_(io, transport_, std::move(settings),
              elastic::BulkWriter::Callbacks{
                  [this](const elastic::AcknowledgementGroups::Completion& c) { completed(c); },
                  [this](elastic::BulkWriter::GroupId group) { expired(group); }},
              metrics.elasticsearch) {}

std::size_t ElasticsearchStore::waiting_charge(const coap::Request& request) const {
  const bool waits = ack_ == AckMode::stored && request.confirmable;
  return waits ? (waiting_.size() + 1) * kWaitingRequestBytes : 0;
}

std::optional<coap::Response> ElasticsearchStore::refuse_early(std::size_t body_bytes,
                                                               const coap::Request& request) {
  // Encoded documents are hardly ever smaller than half the JSON they came from (the action line
  // and the added fields outweigh whitespace), so a buffer without room for that is full for
  // this request; the exact check follows the encoding.
  if (!writer_.has_room(body_bytes / 2 + waiting_charge(request))) {
    return unavailable("collector busy; retry later");
  }
  return std::nullopt;
}

std::optional<coap::Response> ElasticsearchStore::store(const std::vector<std::string>& documents,
                                                        const coap::Request& request) {
  std::size_t bytes = 0;
  for (const auto& document : documents) bytes += document.size();
  if (!bootstrapped_.load(std::memory_order_relaxed)) {
    return unavailable("Elasticsearch not set up yet; retry later");
  }
  if (!writer_.has_room(bytes + waiting_charge(request))) {
    return unavailable("collector busy; retry later");
  }
  if (ack_ == AckMode::accepted || !request.confirmable) {
    writer_.write(documents, false);
    return coap::Response(coap::Code::created);
  }
  auto pending = coap::defer(request);
  metrics_.events_accepted.add(documents.size());
  const auto group = writer_.write(documents, true);
  waiting_.emplace(group, Waiting{std::move(pending), std::chrono::steady_clock::now()});
  return std::nullopt;
}

void ElasticsearchStore::answer(elastic::BulkWriter::GroupId group,
                                const coap::Response& response) {
  const auto it = waiting_.find(group);
  if (it == waiting_.end()) return;
  it->second.exchange.respond(response);
  metrics_.count_deferred_answer(
      response.code,
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::steady_clock::now() - it->second.since)
                                     .count()));
  waiting_.erase(it);
}

void ElasticsearchStore::completed(const elastic::AcknowledgementGroups::Completion& completion) {
  answer(completion.id, completion.stored ? coap::Response(coap::Code::created)
                                          : coap::Response::text(
                                                coap::Code::bad_request,
                                                "rejected by Elasticsearch: " + completion.reason));
}

void ElasticsearchStore::expired(elastic::BulkWriter::GroupId group) {
  // The events stay queued and will be stored; the device's retry is harmless (same _id).
  answer(group, unavailable("not stored in time; retry"));
}

coap::Response ElasticsearchStore::unavailable(std::string message) const {
  auto response = coap::Response::text(coap::Code::service_unavailable, std::move(message));
  response.max_age = writer_.retry_after_seconds();
  return response;
}

void ElasticsearchStore::drain(std::function<void()> done) {
  writer_.drain([done = std::move(done)] {
    // Everything is settled, so every waiting device has been answered.
    done();
  });
}

}  // namespace iot::collector

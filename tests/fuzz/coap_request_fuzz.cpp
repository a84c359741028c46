// libFuzzer target: UDP datagrams from a few devices through the collector's request path, as
// the CoAP server (libs/coap/src/server.cpp) runs it, without sockets: coapwire decoding, the
// exchange cache (retransmissions), the server's request reading, the collector's IngestHandler
// (routing, Block1 reassembly, validation, bulk encoding) on an in-memory store, and the answer
// encoded as it goes on the wire.
//
// Input: frames of [flags][length, 2 bytes big-endian][datagram]; a frame whose length runs past
// the end takes what is left, so a seed of one frame is one whole datagram. Flags:
//   bits 0-1  the sending peer: three IPv4 devices (two share an address) and one IPv6 device
//   bit 2     the datagram arrived cut short (as if longer than the server's receive buffer)
//   bit 3     the receive batch ends after this datagram (RequestHandler::end_of_batch)
//   bits 4-5  time passing first: none, 1 s, 100 s, 300 s (past EXCHANGE_LIFETIME)
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "bulk_document_check.hpp"
#include "coap/exchange_cache.hpp"
#include "coap/message.hpp"
#include "coapwire/message.hpp"
#include "collector_metrics.hpp"
#include "event_store.hpp"
#include "fuzz_check.hpp"
#include "ingest_handler.hpp"
#include "message_translation.hpp"

namespace {

namespace coap = iot::coap;
namespace coapwire = iot::coapwire;
using coapwire::MessageType;

constexpr std::size_t kMaxPayload = 16384;  // the collector's defaults
constexpr std::size_t kMaxBatch = 100;
// As services/collector/main.cpp sizes the server's receive buffer from max-payload.
constexpr std::size_t kMaxDatagramBytes = std::max<std::size_t>(kMaxPayload, 1024) + 1024;
// Small, so that a few dozen datagrams wrap the ring and evict the oldest exchanges.
constexpr std::size_t kExchangeCacheCapacity = 16;
// Every answer fits the datagram size RFC 7252 §4.6 recommends.
constexpr std::size_t kMaxAnswerBytes = 1152;

// Answers 2.01 at once, as the file store does, after checking what the handler stored.
class CheckingStore final : public iot::collector::EventStore {
 public:
  std::optional<coap::Response> store(const std::vector<std::string>& documents,
                                      const coap::Request& request) override {
    FUZZ_CHECK(request.path == "events" && request.method == coap::Method::post);
    FUZZ_CHECK(!request.maybe_truncated);
    FUZZ_CHECK(!documents.empty() && documents.size() <= kMaxBatch);
    for (const auto& document : documents) iot::fuzz::check_bulk_document(document);
    return coap::Response(coap::Code::created);
  }
  void drain(std::function<void()> done) override { done(); }
};

coap::PeerAddress peer_address(unsigned index) {
  coap::PeerAddress peer;
  const std::uint8_t port_low = static_cast<std::uint8_t>(0x33 + index);
  if (index < 3) {
    // 192.0.2.1 for peers 0 and 1 (two ports), 192.0.2.2 for peer 2.
    const std::uint8_t host = index < 2 ? 1 : 2;
    peer.bytes = {AF_INET, 0x16, port_low, 192, 0, 2, host};
    peer.length = 7;
  } else {
    peer.bytes = {AF_INET6, 0x16, port_low, 0x20, 0x01, 0x0d, 0xb8};  // 2001:db8::1
    peer.bytes[18] = 1;
    peer.length = 19;
  }
  return peer;
}

std::optional<std::uint32_t> block_value(const std::optional<coap::BlockOption>& block) {
  if (!block) return std::nullopt;
  return block->encode();
}

// The answer decodes back to what was encoded, and is small.
void check_answer(const std::vector<std::uint8_t>& wire, MessageType type, std::uint16_t message_id,
                  const coapwire::Token& token, const coap::Response& response) {
  FUZZ_CHECK(wire.size() <= kMaxAnswerBytes);
  const auto decoded = coapwire::decode(wire);
  FUZZ_CHECK(decoded.has_value());
  FUZZ_CHECK(decoded->type == type);
  FUZZ_CHECK(decoded->message_id == message_id);
  FUZZ_CHECK(decoded->token == token);
  FUZZ_CHECK(decoded->code.is_response());
  FUZZ_CHECK(decoded->code.raw() == static_cast<std::uint8_t>(response.code));
  FUZZ_CHECK(decoded->payload_text() == response.payload);
  FUZZ_CHECK(decoded->content_format() == response.content_format);
  FUZZ_CHECK(decoded->max_age() == response.max_age);
  FUZZ_CHECK(decoded->size1() == response.size1);
  const auto block1 = decoded->block1();
  FUZZ_CHECK((block1 ? std::optional(block1->encode()) : std::nullopt) ==
             block_value(response.block1));
}

void check_empty(MessageType type, std::uint16_t message_id) {
  const auto wire = coapwire::encode_empty(type, message_id);
  const auto decoded = coapwire::decode(wire);
  FUZZ_CHECK(decoded && decoded->type == type && decoded->message_id == message_id &&
             decoded->code.is_empty());
}

// The collector's defaults; no rate limit.
iot::collector::IngestSettings settings() {
  iot::collector::IngestSettings settings;
  settings.max_payload = kMaxPayload;
  settings.max_batch = kMaxBatch;
  settings.index = "iot-events";
  settings.instance = "fuzz-0";
  return settings;
}

// One collector worker's request path, fresh for each input so that a crash replays alone.
class RequestPath {
 public:
  RequestPath()
      : handler_(settings(), store_, metrics_, draining_), exchanges_(kExchangeCacheCapacity) {}

  // What Server::Impl::on_datagram and on_request do with one received datagram.
  void on_datagram(std::span<const std::uint8_t> datagram, bool truncated,
                   const coap::PeerAddress& peer, coap::ExchangeCache::Clock::time_point now) {
    if (datagram.size() > kMaxDatagramBytes) {
      datagram = datagram.first(kMaxDatagramBytes);
      truncated = true;
    }
    if (coapwire::decode_into(datagram, incoming_) != coapwire::DecodeStatus::ok) {
      // Unparseable: a Reset when the header reads as a confirmable, else nothing.
      if (datagram.size() >= 4 && (datagram[0] >> 6) == 1 && ((datagram[0] >> 4) & 3) == 0) {
        check_empty(MessageType::reset,
                    static_cast<std::uint16_t>((datagram[2] << 8) | datagram[3]));
      }
      return;
    }
    // An ACK or RST settles one of the server's separate responses; this store never defers, so
    // there are none.
    if (incoming_.type == MessageType::acknowledgement || incoming_.type == MessageType::reset) {
      return;
    }
    const bool confirmable = incoming_.type == MessageType::confirmable;
    if (!incoming_.code.is_request()) {
      if (confirmable) check_empty(MessageType::reset, incoming_.message_id);  // ping
      return;
    }
    const auto token = incoming_.token.view();
    if (const auto known = exchanges_.find(peer, incoming_.message_id, token, now)) {
      FUZZ_CHECK(known->response != nullptr);  // nothing was deferred
      answer(confirmable, *known->response);
      return;
    }
    coap::Request request;
    std::optional<coap::Response> response =
        coap::detail::read_request(incoming_, paths_, path_scratch_, request);
    if (!response) {
      FUZZ_CHECK(request.payload.size() == incoming_.payload.size());
      request.peer = peer;
      request.maybe_truncated = truncated;
      response = handler_.handle(request);
      FUZZ_CHECK(response.has_value());  // the store answers at once
    }
    answer(confirmable, *response);
    exchanges_.remember(peer, incoming_.message_id, token, *response, now);
  }

  void end_of_batch() { handler_.end_of_batch(); }

 private:
  // A piggybacked answer on the ACK of a confirmable request, or a NON answer.
  void answer(bool confirmable, const coap::Response& response) {
    const MessageType type =
        confirmable ? MessageType::acknowledgement : MessageType::non_confirmable;
    const std::uint16_t message_id = confirmable ? incoming_.message_id : next_message_id_++;
    coap::detail::encode_response(type, message_id, incoming_.token, response, scratch_, wire_);
    check_answer(wire_, type, message_id, incoming_.token, response);
  }

  CheckingStore store_;
  iot::collector::WorkerMetrics metrics_;
  std::atomic<bool> draining_{false};
  iot::collector::IngestHandler handler_;
  coap::ExchangeCache exchanges_;
  const std::vector<std::string> paths_{"events", "health"};
  coapwire::Message incoming_;
  coapwire::Message scratch_;
  std::string path_scratch_;
  std::vector<std::uint8_t> wire_;
  std::uint16_t next_message_id_ = 0x7000;
};

constexpr std::chrono::seconds kTimeSteps[] = {std::chrono::seconds(0), std::chrono::seconds(1),
                                               std::chrono::seconds(100),
                                               std::chrono::seconds(300)};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto path = std::make_unique<RequestPath>();
  auto now = coap::ExchangeCache::Clock::time_point(std::chrono::hours(24));
  std::span<const std::uint8_t> rest(data, size);
  while (rest.size() >= 3) {
    const std::uint8_t flags = rest[0];
    const std::size_t length = std::min<std::size_t>((rest[1] << 8) | rest[2], rest.size() - 3);
    const auto datagram = rest.subspan(3, length);
    rest = rest.subspan(3 + length);
    now += kTimeSteps[(flags >> 4) & 3];
    path->on_datagram(datagram, (flags & 0x04) != 0, peer_address(flags & 3), now);
    if ((flags & 0x08) != 0) path->end_of_batch();
  }
  path->end_of_batch();
  return 0;
}

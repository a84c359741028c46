#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>

#include "coap/message.hpp"

namespace iot::coap {

// Remembers the response to each (peer, message id) for EXCHANGE_LIFETIME so a retransmitted
// request is answered with the same response and never processed twice (RFC 7252 §4.5);
// libcoap 4.3.1 does not deduplicate. The token is compared as well: a peer that restarted and
// reused a message id with a new token is sending a new request, and losing it would lose data.
// Bounded: beyond `capacity` the oldest entries go first. One per worker; not thread-safe.
class ExchangeCache {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::seconds kExchangeLifetime{247};

  explicit ExchangeCache(std::size_t capacity, std::chrono::seconds lifetime = kExchangeLifetime);

  // A retransmission of a known exchange: its response, or nullptr while the answer is still
  // being prepared (the retransmission is then ignored; the answer goes out when ready).
  struct Hit {
    const Response* response;
  };
  std::optional<Hit> find(const PeerAddress& peer, std::uint16_t message_id,
                          std::span<const std::uint8_t> token, Clock::time_point now);
  void remember(const PeerAddress& peer, std::uint16_t message_id,
                std::span<const std::uint8_t> token, const Response& response,
                Clock::time_point now);
  // The request is being answered later (a deferred exchange); remember() completes it.
  void remember_pending(const PeerAddress& peer, std::uint16_t message_id,
                        std::span<const std::uint8_t> token, Clock::time_point now);

  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::string token;
    std::optional<Response> response;  // nullopt: pending
    Clock::time_point expires;
  };
  void insert(const PeerAddress& peer, std::uint16_t message_id,
              std::span<const std::uint8_t> token, std::optional<Response> response,
              Clock::time_point now);
  static std::string key_of(const PeerAddress& peer, std::uint16_t message_id);
  void evict_expired(Clock::time_point now);

  std::size_t capacity_;
  std::chrono::seconds lifetime_;
  std::unordered_map<std::string, Entry> entries_;
  // Insertion order for expiry and capacity eviction; keys may be stale after a re-insert, which
  // the expiry check tolerates.
  std::deque<std::pair<Clock::time_point, std::string>> order_;
};

}  // namespace iot::coap

#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "coap/message.hpp"

namespace iot::coap {

// Remembers the response to each (peer, message id) for EXCHANGE_LIFETIME so a retransmitted
// request is answered with the same response and never processed twice (RFC 7252 §4.5);
// the server keeps no other per-peer state. The token is compared as well: a peer that restarted
// and reused a message id with a new token is sending a new request, and losing it would lose data.
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

  std::size_t size() const { return live_; }

 private:
  // Entries live in a ring in insertion order (the oldest is overwritten first, and expiry walks
  // from it), found through an open-addressing index of ring positions: no allocation per
  // request, and a lookup touches one or two cache lines.
  struct Slot {
    std::array<std::uint8_t, 21> key{};  // PeerAddress bytes, then the message id
    std::uint8_t key_length = 0;
    std::array<std::uint8_t, 8> token{};
    std::uint8_t token_length = 0;
    bool live = false;
    bool answered = false;
    std::uint32_t hash = 0;
    Clock::time_point expires;
    Response response;
    std::span<const std::uint8_t> key_view() const { return {key.data(), key_length}; }
  };
  static constexpr std::uint32_t kNone = 0xffffffff;
  // An index entry carries its key's hash beside the ring position, so probing past other keys
  // (and a lookup of a new exchange, the common case) never touches their ring slots: one cache
  // miss per lookup instead of one per probed entry.
  struct IndexEntry {
    std::uint32_t position = kNone;
    std::uint32_t hash = 0;
  };

  void insert(const PeerAddress& peer, std::uint16_t message_id,
              std::span<const std::uint8_t> token, const Response* response, Clock::time_point now);
  std::uint32_t locate(std::span<const std::uint8_t> key, std::uint32_t hash) const;
  void unindex(std::uint32_t slot);
  void evict_expired(Clock::time_point now);
  void evict_oldest();

  std::size_t capacity_;
  std::chrono::seconds lifetime_;
  std::vector<Slot> ring_;         // grows to capacity_, then wraps
  std::size_t oldest_ = 0;         // ring position of the oldest entry
  std::size_t used_ = 0;           // ring positions in use (live or dead), from oldest_
  std::size_t live_ = 0;           // entries findable
  std::vector<IndexEntry> index_;  // position kNone: empty; power-of-two size
};

}  // namespace iot::coap

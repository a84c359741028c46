#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <unordered_map>
#include <variant>

#include "coap/message.hpp"

namespace iot::coap {

// Reassembles Block1 uploads (RFC 7959) under a hard size cap. libcoap's own reassembly trusts
// the client's Size1 for its allocation (a few packets can reserve gigabytes), so the collector
// runs libcoap without block handling and reassembles here, refusing oversized bodies on the
// first block that shows them. Transfers are keyed by peer and path (tokens may differ per block).
// One per worker; not thread-safe.
class Block1Assembler {
 public:
  using Clock = std::chrono::steady_clock;

  struct Limits {
    std::size_t max_body_bytes = 16384;
    std::size_t max_transfers = 1024;       // concurrent partial uploads per worker
    std::chrono::seconds idle_timeout{60};  // a transfer with no block for this long is dropped
  };
  explicit Block1Assembler(Limits limits);

  struct Continue {};  // answer 2.31 Continue echoing the block option
  struct Complete {
    std::string body;
  };                     // the last block arrived: handle the whole body
  struct TooLarge {};    // answer 4.13 with Size1 = max_body_bytes
  struct Incomplete {};  // out-of-order block: 4.08 Request Entity Incomplete
  struct Busy {};        // too many transfers in progress: 5.03
  using Outcome = std::variant<Continue, Complete, TooLarge, Incomplete, Busy>;

  Outcome add(const PeerAddress& peer, std::string_view path, const BlockOption& block,
              std::optional<std::uint64_t> size1, std::span<const std::uint8_t> data,
              Clock::time_point now);

  std::size_t transfers() const { return transfers_.size(); }
  std::size_t buffered_bytes() const { return buffered_bytes_; }

 private:
  struct Transfer {
    std::string body;  // its size is the offset the next block must start at
    Clock::time_point last_activity;
  };
  void drop(std::unordered_map<std::string, Transfer>::iterator it);
  void evict_idle(Clock::time_point now);

  Limits limits_;
  std::unordered_map<std::string, Transfer> transfers_;
  std::size_t buffered_bytes_ = 0;
};

}  // namespace iot::coap

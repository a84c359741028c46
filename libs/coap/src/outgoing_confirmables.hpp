#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <queue>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "coap/message.hpp"
#include "coapwire/transmission.hpp"

namespace iot::coap::detail {

// A peer's socket address as the kernel gives and takes it.
struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

// The confirmable messages the server sent on its own (separate responses) that await the peer's
// ACK or RST, with their retransmission schedule (RFC 7252 §4.2). Pure bookkeeping: the server
// supplies the clock and does the sending. Retransmission timers are kept in a min-heap with lazy
// deletion, so an ACK costs one hash lookup.
class OutgoingConfirmables {
 public:
  using Clock = std::chrono::steady_clock;
  using Send = std::function<void(const SocketAddress&, const std::vector<std::uint8_t>&)>;

  explicit OutgoingConfirmables(const coapwire::TransmissionParameters& parameters);

  // Tracks `datagram` (already sent once) until acknowledged; returns its first deadline.
  Clock::time_point add(const PeerAddress& peer, std::uint16_t message_id,
                        const SocketAddress& address, std::vector<std::uint8_t> datagram,
                        Clock::time_point now);
  // An ACK or RST from `peer` for `message_id`: true when it settled a tracked message.
  bool settle(const PeerAddress& peer, std::uint16_t message_id);
  // Retransmits what is due through `send`, gives up on messages out of retransmissions, and
  // returns how many were given up.
  std::size_t expire(Clock::time_point now, const Send& send);

  std::optional<Clock::time_point> next_deadline();
  bool empty() const { return messages_.empty(); }
  std::size_t size() const { return messages_.size(); }

 private:
  struct Message {
    SocketAddress address;
    std::vector<std::uint8_t> datagram;
    coapwire::RetransmissionTimer timer;
    Clock::time_point deadline;
  };
  struct Due {
    Clock::time_point deadline;
    std::string key;
    bool operator>(const Due& other) const { return deadline > other.deadline; }
  };
  void drop_stale_tops();
  void compact_if_mostly_stale();

  coapwire::TransmissionParameters parameters_;
  std::minstd_rand random_;
  std::unordered_map<std::string, Message> messages_;
  std::priority_queue<Due, std::vector<Due>, std::greater<>> due_;
};

}  // namespace iot::coap::detail

#include "outgoing_confirmables.hpp"

#include "exchange_key.hpp"

namespace iot::coap::detail {

OutgoingConfirmables::OutgoingConfirmables(const coapwire::TransmissionParameters& parameters)
    : parameters_(parameters), random_(std::random_device{}()) {
  parameters_.validate();
}

OutgoingConfirmables::Clock::time_point OutgoingConfirmables::add(
    const PeerAddress& peer, std::uint16_t message_id, const SocketAddress& address,
    std::vector<std::uint8_t> datagram, Clock::time_point now) {
  const double uniform = std::uniform_real_distribution<double>(0.0, 1.0)(random_);
  coapwire::RetransmissionTimer timer(parameters_, uniform);
  const auto deadline = now + timer.timeout();
  std::string key = exchange_key(peer, message_id);
  messages_.insert_or_assign(key, Message{address, std::move(datagram), timer, deadline});
  due_.push(Due{deadline, std::move(key)});
  return deadline;
}

bool OutgoingConfirmables::settle(const PeerAddress& peer, std::uint16_t message_id) {
  if (messages_.erase(exchange_key(peer, message_id)) == 0) return false;
  compact_if_mostly_stale();
  return true;
}

void OutgoingConfirmables::compact_if_mostly_stale() {
  // Settled messages leave their heap entries behind until they reach the top, seconds later:
  // rebuild when they dominate so the heap stays proportional to what is really outstanding.
  if (due_.size() <= 64 || due_.size() <= 4 * messages_.size()) return;
  std::vector<Due> live;
  live.reserve(messages_.size());
  for (const auto& [key, message] : messages_) live.push_back(Due{message.deadline, key});
  due_ =
      std::priority_queue<Due, std::vector<Due>, std::greater<>>(std::greater<>{}, std::move(live));
}

void OutgoingConfirmables::drop_stale_tops() {
  // A heap entry is live only while its message exists with the same deadline (settled or
  // rescheduled messages leave stale entries behind).
  while (!due_.empty()) {
    const auto found = messages_.find(due_.top().key);
    if (found != messages_.end() && found->second.deadline == due_.top().deadline) return;
    due_.pop();
  }
}

std::optional<OutgoingConfirmables::Clock::time_point> OutgoingConfirmables::next_deadline() {
  drop_stale_tops();
  if (due_.empty()) return std::nullopt;
  return due_.top().deadline;
}

std::size_t OutgoingConfirmables::expire(Clock::time_point now, const Send& send) {
  std::size_t given_up = 0;
  for (drop_stale_tops(); !due_.empty() && due_.top().deadline <= now; drop_stale_tops()) {
    Due due = due_.top();
    due_.pop();
    auto found = messages_.find(due.key);
    Message& message = found->second;
    if (!message.timer.expire()) {
      messages_.erase(found);
      ++given_up;
      continue;
    }
    send(message.address, message.datagram);
    message.deadline = now + message.timer.timeout();
    due_.push(Due{message.deadline, std::move(due.key)});
  }
  return given_up;
}

}  // namespace iot::coap::detail

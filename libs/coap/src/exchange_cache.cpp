#include "coap/exchange_cache.hpp"

namespace iot::coap {

ExchangeCache::ExchangeCache(std::size_t capacity, std::chrono::seconds lifetime)
    : capacity_(capacity), lifetime_(lifetime) {}

std::string ExchangeCache::key_of(const PeerAddress& peer, std::uint16_t message_id) {
  std::string key(peer.view());
  key.push_back(static_cast<char>(message_id >> 8));
  key.push_back(static_cast<char>(message_id & 0xff));
  return key;
}

std::optional<ExchangeCache::Hit> ExchangeCache::find(const PeerAddress& peer,
                                                      std::uint16_t message_id,
                                                      std::span<const std::uint8_t> token,
                                                      Clock::time_point now) {
  evict_expired(now);
  const auto it = entries_.find(key_of(peer, message_id));
  if (it == entries_.end() || it->second.expires <= now) return std::nullopt;
  const std::string_view wanted(reinterpret_cast<const char*>(token.data()), token.size());
  if (it->second.token != wanted) return std::nullopt;
  return Hit{it->second.response ? &*it->second.response : nullptr};
}

void ExchangeCache::remember(const PeerAddress& peer, std::uint16_t message_id,
                             std::span<const std::uint8_t> token, const Response& response,
                             Clock::time_point now) {
  insert(peer, message_id, token, response, now);
}

void ExchangeCache::remember_pending(const PeerAddress& peer, std::uint16_t message_id,
                                     std::span<const std::uint8_t> token, Clock::time_point now) {
  insert(peer, message_id, token, std::nullopt, now);
}

void ExchangeCache::insert(const PeerAddress& peer, std::uint16_t message_id,
                           std::span<const std::uint8_t> token, std::optional<Response> response,
                           Clock::time_point now) {
  if (capacity_ == 0) return;
  evict_expired(now);
  while (entries_.size() >= capacity_ && !order_.empty()) {
    // Oldest first; an order_ entry whose key was re-inserted later is skipped by the expiry
    // comparison so a fresh entry is never evicted through a stale record.
    const auto& [inserted, key] = order_.front();
    const auto it = entries_.find(key);
    if (it != entries_.end() && it->second.expires == inserted + lifetime_) entries_.erase(it);
    order_.pop_front();
  }
  auto key = key_of(peer, message_id);
  const auto expires = now + lifetime_;
  entries_.insert_or_assign(
      key, Entry{std::string(reinterpret_cast<const char*>(token.data()), token.size()),
                 std::move(response), expires});
  order_.emplace_back(now, std::move(key));
}

void ExchangeCache::evict_expired(Clock::time_point now) {
  while (!order_.empty() && order_.front().first + lifetime_ <= now) {
    const auto it = entries_.find(order_.front().second);
    if (it != entries_.end() && it->second.expires <= now) entries_.erase(it);
    order_.pop_front();
  }
}

}  // namespace iot::coap

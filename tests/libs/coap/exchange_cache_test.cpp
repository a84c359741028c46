#include "coap/exchange_cache.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

namespace iot::coap {
namespace {

using namespace std::chrono_literals;

PeerAddress peer(std::uint8_t last_octet, std::uint16_t port) {
  PeerAddress p;
  p.bytes = {
      AF_INET,   static_cast<std::uint8_t>(port >> 8), static_cast<std::uint8_t>(port), 127, 0, 0,
      last_octet};
  p.length = 7;
  return p;
}

const std::uint8_t kToken[] = {0xca, 0xfe};
const std::uint8_t kOtherToken[] = {0xbe, 0xef};

TEST(ExchangeCache, ReplaysTheResponseToARetransmission) {
  ExchangeCache cache(16);
  const auto now = ExchangeCache::Clock::now();
  EXPECT_FALSE(cache.find(peer(1, 5000), 42, kToken, now));
  cache.remember(peer(1, 5000), 42, kToken, Response::text(Code::bad_request, "why"), now);
  const auto hit = cache.find(peer(1, 5000), 42, kToken, now + 2s);
  ASSERT_TRUE(hit && hit->response);
  const Response* cached = hit->response;
  EXPECT_EQ(cached->code, Code::bad_request);
  EXPECT_EQ(cached->payload, "why");
}

TEST(ExchangeCache, DistinguishesPeersPortsMessageIdsAndTokens) {
  ExchangeCache cache(16);
  const auto now = ExchangeCache::Clock::now();
  cache.remember(peer(1, 5000), 42, kToken, Response(Code::created), now);
  EXPECT_FALSE(cache.find(peer(2, 5000), 42, kToken, now));
  EXPECT_FALSE(cache.find(peer(1, 5001), 42, kToken, now));
  EXPECT_FALSE(cache.find(peer(1, 5000), 43, kToken, now));
  // Same message id, new token: a restarted device with a new request, not a retransmission.
  EXPECT_FALSE(cache.find(peer(1, 5000), 42, kOtherToken, now));
}

TEST(ExchangeCache, ForgetsAfterTheExchangeLifetime) {
  ExchangeCache cache(16);
  const auto now = ExchangeCache::Clock::now();
  cache.remember(peer(1, 5000), 1, kToken, Response(Code::created), now);
  EXPECT_TRUE(cache.find(peer(1, 5000), 1, kToken, now + ExchangeCache::kExchangeLifetime - 1s));
  EXPECT_FALSE(cache.find(peer(1, 5000), 1, kToken, now + ExchangeCache::kExchangeLifetime));
  EXPECT_EQ(cache.size(), 0u);
}

TEST(ExchangeCache, EvictsTheOldestBeyondCapacity) {
  ExchangeCache cache(3);
  const auto now = ExchangeCache::Clock::now();
  for (std::uint16_t id = 0; id < 5; ++id) {
    cache.remember(peer(1, 5000), id, kToken, Response(Code::created),
                   now + std::chrono::milliseconds(id));
  }
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_FALSE(cache.find(peer(1, 5000), 0, kToken, now + 10ms));
  EXPECT_FALSE(cache.find(peer(1, 5000), 1, kToken, now + 10ms));
  EXPECT_TRUE(cache.find(peer(1, 5000), 4, kToken, now + 10ms));
}

TEST(ExchangeCache, AReinsertedKeyIsNotEvictedThroughItsStaleRecord) {
  ExchangeCache cache(2);
  const auto now = ExchangeCache::Clock::now();
  cache.remember(peer(1, 5000), 7, kToken, Response(Code::created), now);
  cache.remember(peer(1, 5000), 7, kOtherToken, Response(Code::bad_request), now + 1s);
  cache.remember(peer(1, 5000), 8, kToken, Response(Code::created), now + 2s);
  const auto hit = cache.find(peer(1, 5000), 7, kOtherToken, now + 3s);
  ASSERT_TRUE(hit && hit->response);
  const Response* fresh = hit->response;
  EXPECT_EQ(fresh->code, Code::bad_request);
}

TEST(ExchangeCache, APendingExchangeIsKnownWithoutAResponseUntilAnswered) {
  ExchangeCache cache(16);
  const auto now = ExchangeCache::Clock::now();
  cache.remember_pending(peer(1, 5000), 9, kToken, now);
  const auto pending = cache.find(peer(1, 5000), 9, kToken, now + 1s);
  ASSERT_TRUE(pending);
  EXPECT_EQ(pending->response, nullptr);
  cache.remember(peer(1, 5000), 9, kToken, Response(Code::created), now + 2s);
  const auto answered = cache.find(peer(1, 5000), 9, kToken, now + 3s);
  ASSERT_TRUE(answered && answered->response);
  EXPECT_EQ(answered->response->code, Code::created);
  EXPECT_EQ(cache.size(), 1u);
}

TEST(ExchangeCache, UnderChurnExactlyTheNewestCapacityEntriesAreFound) {
  // Many devices on neighbouring ports and message ids: the index's probe runs overlap, so
  // evictions must repair them (backward shift) without losing or resurrecting entries.
  constexpr std::size_t kCapacity = 300;
  ExchangeCache cache(kCapacity);
  const auto now = ExchangeCache::Clock::now();
  constexpr int kInserted = 5000;
  for (int i = 0; i < kInserted; ++i) {
    cache.remember(peer(static_cast<std::uint8_t>(i % 7), static_cast<std::uint16_t>(i % 50)),
                   static_cast<std::uint16_t>(i), kToken, Response(Code::created), now);
  }
  EXPECT_EQ(cache.size(), kCapacity);
  for (int i = 0; i < kInserted; ++i) {
    const bool found =
        cache
            .find(peer(static_cast<std::uint8_t>(i % 7), static_cast<std::uint16_t>(i % 50)),
                  static_cast<std::uint16_t>(i), kToken, now)
            .has_value();
    EXPECT_EQ(found, i >= kInserted - static_cast<int>(kCapacity)) << "entry " << i;
  }
}

TEST(ExchangeCache, CapacityZeroDisablesIt) {
  ExchangeCache cache(0);
  const auto now = ExchangeCache::Clock::now();
  cache.remember(peer(1, 5000), 1, kToken, Response(Code::created), now);
  EXPECT_FALSE(cache.find(peer(1, 5000), 1, kToken, now));
}

}  // namespace
}  // namespace iot::coap

#include "throttle/token_bucket_table.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace iot::throttle {
namespace {

using namespace std::chrono_literals;
using Clock = TokenBucketTable::Clock;

const Clock::time_point kStart = Clock::time_point{} + 1000h;

// Keys as the collector makes them: opaque bytes.
std::vector<std::uint8_t> key(const std::string& text) {
  return {text.begin(), text.end()};
}

std::vector<std::uint8_t> port_key(std::uint16_t port) {
  // [family][port hi][port lo][127.0.0.1], like coap::PeerAddress.
  return {
      2, static_cast<std::uint8_t>(port >> 8), static_cast<std::uint8_t>(port & 0xff), 127, 0, 0,
      1};
}

TEST(TokenBucketTable, BurstThenRefusal) {
  TokenBucketTable table({.events_per_second = 5, .burst = 5});
  const auto device = key("device-a");
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(table.admit(device, 1, kStart).allowed) << i;
  }
  const Decision refused = table.admit(device, 1, kStart);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after, 1s);
  EXPECT_FALSE(table.has_token(device, kStart));
}

TEST(TokenBucketTable, RefillsOverTime) {
  TokenBucketTable table({.events_per_second = 5, .burst = 5});
  const auto device = key("device-a");
  EXPECT_TRUE(table.admit(device, 5, kStart).allowed);
  EXPECT_FALSE(table.has_token(device, kStart + 199ms));
  // One token every 200 ms, exactly.
  EXPECT_TRUE(table.has_token(device, kStart + 200ms));
  EXPECT_TRUE(table.admit(device, 1, kStart + 200ms).allowed);
  EXPECT_FALSE(table.admit(device, 1, kStart + 200ms).allowed);
  EXPECT_FALSE(table.admit(device, 3, kStart + 700ms).allowed);  // 2.5 tokens
  EXPECT_TRUE(table.admit(device, 3, kStart + 800ms).allowed);
  // Never more than a full bucket, however long the device rested.
  EXPECT_TRUE(table.admit(device, 5, kStart + 1h).allowed);
  EXPECT_FALSE(table.admit(device, 1, kStart + 1h).allowed);
}

TEST(TokenBucketTable, RefusalTakesNothing) {
  TokenBucketTable table({.events_per_second = 1, .burst = 4});
  const auto device = key("device-a");
  EXPECT_TRUE(table.admit(device, 2, kStart).allowed);
  // 3 events do not fit the 2 tokens left: refused whole, and the 2 tokens stay.
  EXPECT_FALSE(table.admit(device, 3, kStart).allowed);
  EXPECT_TRUE(table.admit(device, 2, kStart).allowed);
}

TEST(TokenBucketTable, WouldAdmitTakesNothing) {
  TokenBucketTable table({.events_per_second = 1, .burst = 2});
  const auto device = key("device-a");
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(table.would_admit(device, 2, kStart).allowed);
  EXPECT_TRUE(table.admit(device, 2, kStart).allowed);
  const Decision peeked = table.would_admit(device, 1, kStart);
  const Decision refused = table.admit(device, 1, kStart);
  EXPECT_FALSE(peeked.allowed);
  EXPECT_EQ(peeked.retry_after, refused.retry_after);
}

TEST(TokenBucketTable, RetryAfterIsTheWaitForTheTokensAskedForRoundedUp) {
  TokenBucketTable table({.events_per_second = 0.5, .burst = 10});
  const auto device = key("device-a");
  EXPECT_TRUE(table.admit(device, 10, kStart).allowed);
  EXPECT_EQ(table.admit(device, 1, kStart).retry_after, 2s);
  EXPECT_EQ(table.admit(device, 3, kStart).retry_after, 6s);
  EXPECT_EQ(table.admit(device, 3, kStart + 500ms).retry_after, 6s);  // 5.5 s, rounded up
  EXPECT_EQ(table.admit(device, 10, kStart).retry_after, 20s);
  // A wait below one second is still said as 1 s: Max-Age counts whole seconds.
  TokenBucketTable fast({.events_per_second = 100, .burst = 1});
  EXPECT_TRUE(fast.admit(device, 1, kStart).allowed);
  EXPECT_EQ(fast.admit(device, 1, kStart).retry_after, 1s);
}

TEST(TokenBucketTable, CostAboveBurstIsNeverAllowed) {
  TokenBucketTable table({.events_per_second = 1000, .burst = 3});
  const auto device = key("device-a");
  const Decision decision = table.admit(device, 4, kStart);
  EXPECT_FALSE(decision.allowed);
  EXPECT_EQ(decision.retry_after, std::chrono::seconds::max());
  EXPECT_FALSE(table.admit(device, 4, kStart + 1h).allowed);
  EXPECT_EQ(table.tracked(), 0U);
  EXPECT_TRUE(table.admit(device, 3, kStart).allowed);  // and the bucket was untouched
}

TEST(TokenBucketTable, FractionalRates) {
  TokenBucketTable table({.events_per_second = 0.001, .burst = 1});
  const auto device = key("device-a");
  EXPECT_TRUE(table.admit(device, 1, kStart).allowed);
  EXPECT_EQ(table.admit(device, 1, kStart).retry_after, 1000s);
  EXPECT_TRUE(table.admit(device, 1, kStart + 1000s).allowed);
  TokenBucketTable fast({.events_per_second = 1e6, .burst = 1000000});
  EXPECT_TRUE(fast.admit(device, 1000000, kStart).allowed);
  EXPECT_TRUE(fast.admit(device, 1000, kStart + 1ms).allowed);
  EXPECT_FALSE(fast.admit(device, 1, kStart + 1ms).allowed);
}

TEST(TokenBucketTable, KeysAreIndependent) {
  TokenBucketTable table({.events_per_second = 1, .burst = 2});
  const auto a = port_key(40000);
  const auto b = port_key(40001);
  EXPECT_TRUE(table.admit(a, 2, kStart).allowed);
  EXPECT_FALSE(table.has_token(a, kStart));
  EXPECT_TRUE(table.has_token(b, kStart));
  EXPECT_TRUE(table.admit(b, 2, kStart).allowed);
  // A key that is a prefix of another is a different device.
  const auto short_key = key("dev");
  const auto long_key = key("device");
  EXPECT_TRUE(table.admit(long_key, 2, kStart).allowed);
  EXPECT_TRUE(table.admit(short_key, 2, kStart).allowed);
  EXPECT_EQ(table.tracked(), 4U);
}

TEST(TokenBucketTable, ManyDevicesKeepTheirOwnBuckets) {
  // Exercises growth and probing: every device's state survives the table's rehashing.
  TokenBucketTable table({.events_per_second = 1, .burst = 3}, 5000);
  for (std::uint16_t port = 0; port < 5000; ++port) {
    ASSERT_TRUE(table.admit(port_key(port), 1 + port % 3, kStart).allowed) << port;
  }
  EXPECT_EQ(table.tracked(), 5000U);
  for (std::uint16_t port = 0; port < 5000; ++port) {
    const std::uint64_t left = 3 - (1 + port % 3);
    EXPECT_TRUE(table.would_admit(port_key(port), left, kStart).allowed) << port;
    EXPECT_FALSE(table.would_admit(port_key(port), left + 1, kStart).allowed) << port;
  }
}

TEST(TokenBucketTable, BoundedAndFailsOpenWhenFullOfActiveDevices) {
  TokenBucketTable table({.events_per_second = 1, .burst = 2}, 4);
  for (std::uint16_t port = 0; port < 4; ++port) {
    EXPECT_TRUE(table.admit(port_key(port), 2, kStart).allowed);
  }
  EXPECT_EQ(table.tracked(), 4U);
  // The table is full of devices with empty buckets: a new one is admitted untracked, so it is
  // never limited while the table stays full...
  const auto newcomer = port_key(1000);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(table.admit(newcomer, 2, kStart).allowed);
  EXPECT_EQ(table.tracked(), 4U);
  EXPECT_EQ(table.untracked_admissions(), 10U);
  // ...while the tracked devices still are.
  EXPECT_FALSE(table.admit(port_key(0), 1, kStart).allowed);
}

TEST(TokenBucketTable, RefilledEntriesAreDroppedToMakeRoom) {
  TokenBucketTable table({.events_per_second = 1, .burst = 2}, 4);
  for (std::uint16_t port = 0; port < 4; ++port) {
    EXPECT_TRUE(table.admit(port_key(port), 1, kStart).allowed);
  }
  // Device 3 stays busy; the others are full again after 1 s and carry no information.
  EXPECT_TRUE(table.admit(port_key(3), 2, kStart + 1s).allowed);
  for (std::uint16_t port = 100; port < 103; ++port) {
    EXPECT_TRUE(table.admit(port_key(port), 2, kStart + 1s).allowed);
  }
  EXPECT_EQ(table.tracked(), 4U);
  EXPECT_EQ(table.untracked_admissions(), 0U);
  // The newcomers are tracked (and limited), and device 3 kept its state.
  for (std::uint16_t port = 100; port < 103; ++port) {
    EXPECT_FALSE(table.has_token(port_key(port), kStart + 1s)) << port;
  }
  EXPECT_FALSE(table.has_token(port_key(3), kStart + 1s));
  // A dropped device comes back with a full bucket, as it would have had.
  EXPECT_TRUE(table.would_admit(port_key(0), 2, kStart + 1s).allowed);
}

TEST(TokenBucketTable, ChurnKeepsTheTableBoundedAndConsistent) {
  // Waves of new devices, each wave refilled before the next: backward-shift deletion must keep
  // every live entry findable.
  constexpr std::size_t kMax = 300;
  TokenBucketTable table({.events_per_second = 10, .burst = 5}, kMax);
  std::uint16_t next_port = 0;
  for (int wave = 0; wave < 20; ++wave) {
    const Clock::time_point now = kStart + std::chrono::seconds(wave);
    const std::uint16_t first = next_port;
    const std::uint64_t untracked_before = table.untracked_admissions();
    for (std::size_t i = 0; i < kMax; ++i) {
      ASSERT_TRUE(table.admit(port_key(next_port++), 5, now).allowed);
    }
    ASSERT_LE(table.tracked(), kMax);
    std::size_t limited = 0;
    for (std::uint16_t port = first; port != next_port; ++port) {
      if (!table.has_token(port_key(port), now)) ++limited;
    }
    // Every device of the wave is either tracked (and now limited) or was admitted untracked;
    // the previous wave had refilled, so sweeping made room for most.
    EXPECT_EQ(limited + (table.untracked_admissions() - untracked_before), kMax) << wave;
    EXPECT_GT(limited, kMax / 2) << wave;
  }
}

TEST(TokenBucketTable, RejectsNonsenseSettings) {
  EXPECT_THROW(TokenBucketTable({.events_per_second = 0, .burst = 1}), std::invalid_argument);
  EXPECT_THROW(TokenBucketTable({.events_per_second = 1, .burst = 0}), std::invalid_argument);
  EXPECT_THROW(TokenBucketTable({.events_per_second = 1, .burst = 1}, 0), std::invalid_argument);
}

}  // namespace
}  // namespace iot::throttle

#include "elastic/retry_policy.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <limits>

namespace iot::elastic {
namespace {

using std::chrono::milliseconds;

constexpr std::uint64_t kMaxRandom = std::numeric_limits<std::uint64_t>::max();

TEST(RetryPolicyTest, CeilingDoublesFromBase) {
  const RetryPolicy policy(milliseconds(100), milliseconds(30'000));
  EXPECT_EQ(policy.ceiling(0), milliseconds(100));
  EXPECT_EQ(policy.ceiling(1), milliseconds(200));
  EXPECT_EQ(policy.ceiling(2), milliseconds(400));
  EXPECT_EQ(policy.ceiling(8), milliseconds(25'600));
}

TEST(RetryPolicyTest, CeilingStopsAtCap) {
  const RetryPolicy policy(milliseconds(100), milliseconds(30'000));
  EXPECT_EQ(policy.ceiling(9), milliseconds(30'000));
  EXPECT_EQ(policy.ceiling(10), milliseconds(30'000));
}

TEST(RetryPolicyTest, LargeAttemptsDoNotOverflow) {
  const RetryPolicy policy(milliseconds(100), milliseconds(30'000));
  for (const unsigned attempt : {40u, 56u, 57u, 62u, 63u, 64u, 65u, 1000u, 4'000'000'000u}) {
    EXPECT_EQ(policy.ceiling(attempt), milliseconds(30'000)) << attempt;
    EXPECT_EQ(policy.delay(attempt, kMaxRandom), milliseconds(kMaxRandom % 30'001)) << attempt;
  }
}

TEST(RetryPolicyTest, HugeCapKeepsExactPowersOfTwo) {
  const RetryPolicy policy(milliseconds(1), milliseconds::max());
  EXPECT_EQ(policy.ceiling(62), milliseconds(std::int64_t{1} << 62));
  EXPECT_EQ(policy.ceiling(63), milliseconds::max());
  EXPECT_EQ(policy.ceiling(64), milliseconds::max());
  // ceiling + 1 = 2^63 still fits the unsigned modulus.
  EXPECT_EQ(policy.delay(63, kMaxRandom), milliseconds::max());
}

TEST(RetryPolicyTest, DelayIsRandomModuloCeilingPlusOne) {
  const RetryPolicy policy(milliseconds(100), milliseconds(30'000));
  EXPECT_EQ(policy.delay(0, 0), milliseconds(0));
  EXPECT_EQ(policy.delay(0, 100), milliseconds(100));  // the ceiling itself is reachable
  EXPECT_EQ(policy.delay(0, 101), milliseconds(0));
  EXPECT_EQ(policy.delay(0, 150), milliseconds(49));
  EXPECT_EQ(policy.delay(1, 150), milliseconds(150));
  EXPECT_EQ(policy.delay(3, 12'345), milliseconds(12'345 % 801));
}

TEST(RetryPolicyTest, DelayNeverExceedsCeiling) {
  const RetryPolicy policy(milliseconds(50), milliseconds(5'000));
  std::uint64_t random = 0x9E3779B97F4A7C15ull;
  for (unsigned attempt = 0; attempt < 100; ++attempt) {
    random = random * 6364136223846793005ull + 1442695040888963407ull;
    const milliseconds delay = policy.delay(attempt, random);
    EXPECT_GE(delay, milliseconds(0));
    EXPECT_LE(delay, policy.ceiling(attempt));
  }
}

TEST(RetryPolicyTest, CapBelowBaseWins) {
  const RetryPolicy policy(milliseconds(1'000), milliseconds(300));
  EXPECT_EQ(policy.ceiling(0), milliseconds(300));
  EXPECT_EQ(policy.delay(0, 301), milliseconds(0));
}

TEST(RetryPolicyTest, ZeroBaseMeansNoWait) {
  const RetryPolicy policy(milliseconds(0), milliseconds(1'000));
  EXPECT_EQ(policy.ceiling(5), milliseconds(0));
  EXPECT_EQ(policy.delay(5, kMaxRandom), milliseconds(0));
}

}  // namespace
}  // namespace iot::elastic

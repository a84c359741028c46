#include "elastic/node_selector.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <vector>

namespace iot::elastic {
namespace {

using namespace std::chrono_literals;
using Clock = NodeSelector::Clock;

constexpr Clock::time_point kStart = Clock::time_point() + 1h;

std::vector<std::size_t> pick(NodeSelector& selector, int count, Clock::time_point now) {
  std::vector<std::size_t> picked;
  picked.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) picked.push_back(selector.next(now));
  return picked;
}

TEST(NodeSelectorTest, RoundRobinOverHealthyNodes) {
  NodeSelector selector(3, 10s);
  EXPECT_EQ(selector.size(), 3u);
  EXPECT_EQ(pick(selector, 7, kStart), (std::vector<std::size_t>{0, 1, 2, 0, 1, 2, 0}));
}

TEST(NodeSelectorTest, SingleNode) {
  NodeSelector selector(1, 10s);
  EXPECT_EQ(pick(selector, 3, kStart), (std::vector<std::size_t>{0, 0, 0}));
  selector.mark_failed(0, kStart);
  EXPECT_EQ(selector.next(kStart), 0u);
}

TEST(NodeSelectorTest, ZeroNodesIsRefused) {
  EXPECT_THROW(NodeSelector(0, 10s), std::invalid_argument);
}

TEST(NodeSelectorTest, SkipsQuarantinedNode) {
  NodeSelector selector(3, 10s);
  selector.mark_failed(1, kStart);
  EXPECT_FALSE(selector.healthy(1, kStart));
  EXPECT_TRUE(selector.healthy(0, kStart));
  EXPECT_EQ(pick(selector, 4, kStart + 1s), (std::vector<std::size_t>{0, 2, 0, 2}));
}

TEST(NodeSelectorTest, QuarantineEndsAfterPeriod) {
  NodeSelector selector(2, 10s);
  selector.mark_failed(0, kStart);
  EXPECT_FALSE(selector.healthy(0, kStart + 9999ms));
  EXPECT_TRUE(selector.healthy(0, kStart + 10s));
  EXPECT_EQ(selector.next(kStart + 5s), 1u);
  EXPECT_EQ(selector.next(kStart + 10s), 0u);
  EXPECT_EQ(selector.next(kStart + 10s), 1u);
}

TEST(NodeSelectorTest, AllQuarantinedUsesTheOneEndingFirst) {
  NodeSelector selector(3, 10s);
  selector.mark_failed(0, kStart + 2s);
  selector.mark_failed(1, kStart);
  selector.mark_failed(2, kStart + 1s);
  EXPECT_EQ(selector.next(kStart + 3s), 1u);
  EXPECT_EQ(selector.next(kStart + 3s), 1u);
  selector.mark_failed(1, kStart + 3s);
  EXPECT_EQ(selector.next(kStart + 4s), 2u);
}

TEST(NodeSelectorTest, MarkOkClearsQuarantine) {
  NodeSelector selector(2, 10s);
  selector.mark_failed(0, kStart);
  selector.mark_ok(0);
  EXPECT_TRUE(selector.healthy(0, kStart));
  EXPECT_EQ(pick(selector, 2, kStart), (std::vector<std::size_t>{0, 1}));
}

TEST(NodeSelectorTest, FailureExtendsQuarantineFromLatestFailure) {
  NodeSelector selector(2, 10s);
  selector.mark_failed(0, kStart);
  selector.mark_failed(0, kStart + 8s);
  EXPECT_FALSE(selector.healthy(0, kStart + 12s));
  EXPECT_TRUE(selector.healthy(0, kStart + 18s));
}

TEST(NodeSelectorTest, RoundRobinContinuesAfterRecovery) {
  NodeSelector selector(3, 10s);
  EXPECT_EQ(selector.next(kStart), 0u);
  selector.mark_failed(1, kStart);
  EXPECT_EQ(selector.next(kStart), 2u);
  EXPECT_EQ(selector.next(kStart), 0u);
  selector.mark_ok(1);
  EXPECT_EQ(pick(selector, 3, kStart), (std::vector<std::size_t>{1, 2, 0}));
}

TEST(NodeSelectorTest, OutOfRangeNodeThrows) {
  NodeSelector selector(2, 10s);
  EXPECT_THROW(selector.mark_failed(2, kStart), std::out_of_range);
  EXPECT_THROW(selector.mark_ok(5), std::out_of_range);
}

}  // namespace
}  // namespace iot::elastic

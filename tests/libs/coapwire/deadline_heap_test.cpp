// The engine's timer heap: earliest first, and stale entries dropped by compact().
#include "deadline_heap.hpp"

#include <gtest/gtest.h>

#include <random>

namespace iot::coapwire::detail {
namespace {

using namespace std::chrono_literals;

TEST(coapwire_DeadlineHeap, PopsEarliestDeadlineFirst) {
  DeadlineHeap heap;
  const DeadlineHeap::TimePoint base{};
  std::mt19937 random(3);
  for (std::uint32_t i = 0; i < 10'000; ++i) {
    heap.push(base + std::chrono::milliseconds(random() % 5000), i, 0);
  }
  auto previous = base;
  while (!heap.empty()) {
    EXPECT_GE(heap.top().deadline, previous);
    previous = heap.top().deadline;
    heap.pop();
  }
}

TEST(coapwire_DeadlineHeap, CompactKeepsOnlyLiveEntriesInOrder) {
  DeadlineHeap heap;
  const DeadlineHeap::TimePoint base{};
  for (std::uint32_t i = 0; i < 1000; ++i)
    heap.push(base + std::chrono::milliseconds(1000 - i), i, i % 2);
  heap.compact([](const DeadlineHeap::Entry& entry) { return entry.arm == 1; });
  EXPECT_EQ(heap.size(), 500u);
  auto previous = base;
  while (!heap.empty()) {
    EXPECT_EQ(heap.top().arm, 1u);
    EXPECT_GE(heap.top().deadline, previous);
    previous = heap.top().deadline;
    heap.pop();
  }
}

}  // namespace
}  // namespace iot::coapwire::detail

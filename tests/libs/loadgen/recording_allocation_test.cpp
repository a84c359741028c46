// The measurement path must not allocate: a load generator that calls malloc per response would
// measure its own allocator. This file replaces the global operator new for the whole test binary
// so it can count allocations around the hot calls.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <new>

#include "loadgen/hdr_histogram.hpp"
#include "loadgen/per_second_series.hpp"
#include "loadgen/rate_schedule.hpp"

namespace {
std::atomic<std::size_t> allocations{0};
}  // namespace

// This operator new is malloc, so free is the matching release; GCC 12 at -O2 inlines both into
// gtest's `new TestClass` and, not seeing the replacement, reports a mismatch.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t size) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* memory = std::malloc(size == 0 ? 1 : size)) return memory;
  throw std::bad_alloc();
}
void operator delete(void* memory) noexcept {
  std::free(memory);
}
void operator delete(void* memory, std::size_t) noexcept {
  std::free(memory);
}
#pragma GCC diagnostic pop

namespace iot::loadgen {
namespace {

using namespace std::chrono_literals;

TEST(RecordingAllocationTest, HistogramRecordAndScheduleDoNotAllocate) {
  HdrHistogram histogram;
  const auto start = OpenLoopSchedule::Clock::now();
  const OpenLoopSchedule schedule(10'000, start);
  const std::size_t before = allocations.load();
  std::uint64_t sink = 0;
  for (std::uint64_t n = 0; n < 100'000; ++n) {
    histogram.record(n * 37 % 5'000'000'000ull);
    sink += schedule.due_by(schedule.intended_send_time(n));
  }
  EXPECT_EQ(allocations.load(), before);
  EXPECT_EQ(histogram.total_count(), 100'000u);
  EXPECT_GT(sink, 0u);
}

TEST(RecordingAllocationTest, PerSecondSeriesAllocatesNothingWithReservedRows) {
  const auto start = PerSecondSeries::Clock::now();
  PerSecondSeries series(start, 10);
  const std::size_t before = allocations.load();
  for (int i = 0; i < 50'000; ++i) {
    const auto now = start + std::chrono::microseconds(i * 100);  // 5 seconds
    series.record_sent(now);
    if (i % 10 == 0) {
      series.record_error(now);
    } else {
      series.record_ok(now, 1500);
    }
  }
  series.close_all();
  EXPECT_EQ(allocations.load(), before);
  EXPECT_EQ(series.rows().size(), 5u);
}

}  // namespace
}  // namespace iot::loadgen

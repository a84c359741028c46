#include "loadgen/rate_schedule.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace iot::loadgen {
namespace {

using namespace std::chrono_literals;
using Clock = OpenLoopSchedule::Clock;
using std::chrono::nanoseconds;

// A fixed start keeps the tests independent of the machine's uptime.
const Clock::time_point kStart = Clock::time_point(1'000'000s);

TEST(OpenLoopScheduleTest, IntendedTimesAreStartPlusNOverRate) {
  const OpenLoopSchedule schedule(7, kStart);
  EXPECT_EQ(schedule.intended_send_time(0), kStart);
  EXPECT_EQ(schedule.intended_send_time(1), kStart + nanoseconds(142'857'142));  // 1/7 s, floor
  EXPECT_EQ(schedule.intended_send_time(2), kStart + nanoseconds(285'714'285));
  EXPECT_EQ(schedule.intended_send_time(7), kStart + 1s);
  EXPECT_EQ(schedule.intended_send_time(700), kStart + 100s);
}

TEST(OpenLoopScheduleTest, NoDriftAfterTenMillionIntervals) {
  const OpenLoopSchedule schedule(7, kStart);
  // 10^7 / 7 s = 1 428 571.428571428571... s: adding up 142 857 142 ns steps would be 8.6 ms
  // early by now (0.857 ns lost per interval); computing from n is off by less than 1 ns.
  EXPECT_EQ(schedule.intended_send_time(10'000'000), kStart + nanoseconds(1'428'571'428'571'428));
  EXPECT_EQ(schedule.intended_send_time(70'000'000), kStart + 10'000'000s);
  EXPECT_EQ(schedule.due_by(kStart + 10'000'000s), 70'000'001u);
  EXPECT_EQ(schedule.due_by(kStart + 10'000'000s - 1ns), 70'000'000u);
}

TEST(OpenLoopScheduleTest, DueByCountsRequestsAtExactBoundaries) {
  const OpenLoopSchedule schedule(7, kStart);
  EXPECT_EQ(schedule.due_by(kStart - 1ns), 0u);
  EXPECT_EQ(schedule.due_by(Clock::time_point::min()), 0u);
  EXPECT_EQ(schedule.due_by(kStart), 1u) << "request 0 is due at the start itself";
  EXPECT_EQ(schedule.due_by(kStart + nanoseconds(142'857'141)), 1u);
  EXPECT_EQ(schedule.due_by(kStart + nanoseconds(142'857'142)), 2u);
  EXPECT_EQ(schedule.due_by(kStart + 1s - 1ns), 7u);
  EXPECT_EQ(schedule.due_by(kStart + 1s), 8u);
}

TEST(OpenLoopScheduleTest, DueByAndIntendedTimesAgreeEverywhere) {
  for (const double rate : {0.5, 1.0, 7.0, 333.3, 10'000.0, 123'456.789, 10'000'000.0}) {
    const OpenLoopSchedule schedule(rate, kStart);
    for (std::uint64_t n = 1; n < 5'000'000'000ull; n = n * 3 + 1) {
      const Clock::time_point due = schedule.intended_send_time(n);
      ASSERT_EQ(schedule.due_by(due), n + 1) << "rate " << rate << " n " << n;
      ASSERT_EQ(schedule.due_by(due - 1ns), n) << "rate " << rate << " n " << n;
    }
  }
}

TEST(OpenLoopScheduleTest, StalledSenderCatchesUpWithABurst) {
  const OpenLoopSchedule schedule(1000, kStart);
  // A sender that woke up 2.5 s late owes everything up to now, each with its own intended time.
  EXPECT_EQ(schedule.due_by(kStart + 2500ms), 2501u);
  EXPECT_EQ(schedule.intended_send_time(1234), kStart + 1234ms);
}

TEST(OpenLoopScheduleTest, FractionalAndExtremeRates) {
  EXPECT_EQ(OpenLoopSchedule(0.5, kStart).intended_send_time(3), kStart + 6s);
  const OpenLoopSchedule fastest(OpenLoopSchedule::kMaxRequestsPerSecond, kStart);
  EXPECT_EQ(fastest.intended_send_time(1), kStart + 100ns);
  EXPECT_EQ(fastest.due_by(kStart + 1s), 10'000'001u);
  const OpenLoopSchedule slowest(OpenLoopSchedule::kMinRequestsPerSecond, kStart);
  EXPECT_EQ(slowest.intended_send_time(1), kStart + 1'000'000s);
  EXPECT_EQ(slowest.intended_send_time(std::numeric_limits<std::uint64_t>::max()),
            Clock::time_point::max())
      << "beyond the clock's range saturates instead of wrapping";
}

TEST(OpenLoopScheduleTest, RateIsHonouredToAMillionthPerSecond) {
  EXPECT_DOUBLE_EQ(OpenLoopSchedule(7, kStart).requests_per_second(), 7.0);
  EXPECT_DOUBLE_EQ(OpenLoopSchedule(0.1234567, kStart).requests_per_second(), 0.123457);
}

TEST(OpenLoopScheduleTest, RejectsInvalidRates) {
  for (const double rate :
       {0.0, -1.0, 1e-7, 10'000'000.5, 1e12, std::nan(""), std::numeric_limits<double>::infinity(),
        -std::numeric_limits<double>::infinity()}) {
    EXPECT_THROW(OpenLoopSchedule(rate, kStart), std::invalid_argument) << rate;
  }
}

}  // namespace
}  // namespace iot::loadgen

#include "loadgen/per_second_series.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace iot::loadgen {
namespace {

using namespace std::chrono_literals;
using Clock = PerSecondSeries::Clock;

const Clock::time_point kStart = Clock::time_point(500s);

TEST(PerSecondSeriesTest, CountsLandInTheSecondOfTheirTime) {
  PerSecondSeries series(kStart);
  series.record_sent(kStart, 3);
  series.record_ok(kStart + 200ms, 1000);
  series.record_ok(kStart + 999ms, 2000);
  series.record_error(kStart + 999ms, 2040);  // a 5.03, answered
  series.record_sent(kStart + 1s, 2);
  series.record_error(kStart + 1500ms);  // a timeout: no latency
  series.close_all();

  ASSERT_EQ(series.rows().size(), 2u);
  const SecondSample& first = series.rows()[0];
  EXPECT_EQ(first.second, 0u);
  EXPECT_EQ(first.sent, 3u);
  EXPECT_EQ(first.ok, 2u);
  EXPECT_EQ(first.errors, 1u);
  EXPECT_EQ(first.p50_ms, 2.0);
  EXPECT_EQ(first.p99_ms, 2.04);
  const SecondSample& second = series.rows()[1];
  EXPECT_EQ(second, (SecondSample{.second = 1, .sent = 2, .ok = 0, .errors = 1}));
  EXPECT_FALSE(second.p50_ms) << "a second without answers has no latency, not 0 ms";
}

TEST(PerSecondSeriesTest, QuietSecondsStillGetRows) {
  PerSecondSeries series(kStart);
  series.record_sent(kStart + 100ms);
  series.record_sent(kStart + 3s + 100ms);
  series.close_until(kStart + 5s);
  ASSERT_EQ(series.rows().size(), 5u);
  for (std::uint64_t i = 0; i < 5; ++i) EXPECT_EQ(series.rows()[i].second, i);
  EXPECT_EQ(series.rows()[0].sent, 1u);
  EXPECT_EQ(series.rows()[1].sent, 0u);
  EXPECT_EQ(series.rows()[3].sent, 1u);
}

TEST(PerSecondSeriesTest, CloseUntilClosesOnlyEndedSeconds) {
  PerSecondSeries series(kStart);
  series.record_ok(kStart + 10ms, 2000);
  series.close_until(kStart + 999ms);
  EXPECT_TRUE(series.rows().empty()) << "second 0 is still running";
  series.close_until(kStart + 1s);
  ASSERT_EQ(series.rows().size(), 1u);
  EXPECT_EQ(series.rows()[0].p50_ms, 2.0);
  series.close_until(kStart + 1s);
  EXPECT_EQ(series.rows().size(), 1u) << "idempotent";
  series.close_until(kStart - 1s);
  EXPECT_EQ(series.rows().size(), 1u);
}

TEST(PerSecondSeriesTest, LateEventsCountInTheOpenSecond) {
  PerSecondSeries series(kStart);
  series.record_sent(kStart + 2s);
  series.record_ok(kStart + 500ms, 2000);  // belongs to a closed second: counted now
  series.record_sent(kStart - 1s);         // before the start: also the open second
  series.close_all();
  ASSERT_EQ(series.rows().size(), 3u);
  EXPECT_EQ(series.rows()[0].ok, 0u);
  EXPECT_EQ(series.rows()[2].ok, 1u);
  EXPECT_EQ(series.rows()[2].sent, 2u);
  EXPECT_EQ(series.rows()[2].p99_ms, 2.0);
}

TEST(PerSecondSeriesTest, LatencyIsPerSecondNotCumulative) {
  PerSecondSeries series(kStart);
  for (int i = 0; i < 100; ++i) series.record_ok(kStart + 10ms, 100'000);    // 100 ms
  for (int i = 0; i < 100; ++i) series.record_ok(kStart + 1s + 10ms, 1000);  // 1 ms
  series.close_all();
  ASSERT_EQ(series.rows().size(), 2u);
  EXPECT_NEAR(*series.rows()[0].p99_ms, 100.0, 0.1);
  EXPECT_EQ(series.rows()[1].p99_ms, 1.0);
  EXPECT_EQ(series.rows()[1].p50_ms, 1.0);
}

TEST(PerSecondSeriesTest, EmptyRunHasOneEmptySecondAfterCloseAll) {
  PerSecondSeries series(kStart);
  EXPECT_TRUE(series.rows().empty());
  series.close_all();
  ASSERT_EQ(series.rows().size(), 1u);
  EXPECT_EQ(series.rows()[0], SecondSample{});
}

}  // namespace
}  // namespace iot::loadgen

#include "loadgen/hdr_histogram.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>

namespace iot::loadgen {
namespace {

constexpr std::uint64_t kMaxValue = std::numeric_limits<std::uint64_t>::max();

HdrHistogram uniform_1_to(std::uint64_t last) {
  HdrHistogram histogram;
  for (std::uint64_t value = 1; value <= last; ++value) histogram.record(value);
  return histogram;
}

TEST(HdrHistogramTest, RejectsInvalidLayouts) {
  EXPECT_THROW(HdrHistogram(0, 1000, 3), std::invalid_argument);
  EXPECT_THROW(HdrHistogram(10, 19, 3), std::invalid_argument) << "highest < 2 * lowest";
  EXPECT_NO_THROW(HdrHistogram(10, 20, 3));
  EXPECT_THROW(HdrHistogram(1, 1000, -1), std::invalid_argument);
  EXPECT_THROW(HdrHistogram(1, 1000, 6), std::invalid_argument);
  EXPECT_THROW(HdrHistogram(kMaxValue, kMaxValue, 0), std::invalid_argument);
  // 2^60 as the unit leaves no room for 5 digits of sub-buckets in 64 bits.
  EXPECT_THROW(HdrHistogram(std::uint64_t{1} << 60, kMaxValue, 5), std::invalid_argument);
}

TEST(HdrHistogramTest, LayoutFollowsTheReferenceScheme) {
  // The reference C and Java implementations give 22 buckets of 2048 sub-buckets for 1..1 h in
  // microseconds at 3 digits.
  const HdrHistogram defaults;
  EXPECT_EQ(defaults.sub_bucket_count(), 2048);
  EXPECT_EQ(defaults.bucket_count(), 22);
  EXPECT_EQ(HdrHistogram(1, 1000, 2).sub_bucket_count(), 256);
  EXPECT_EQ(HdrHistogram(1, 1000, 0).sub_bucket_count(), 2);
  EXPECT_EQ(HdrHistogram(1, 2047, 3).bucket_count(), 1);
  EXPECT_EQ(HdrHistogram(1, 2048, 3).bucket_count(), 2);
  EXPECT_EQ(HdrHistogram(1, kMaxValue, 3).bucket_count(), 54);
}

TEST(HdrHistogramTest, EquivalentValuesMatchHandComputedBuckets) {
  const HdrHistogram histogram;  // unit 1, 2048 sub-buckets
  // Bucket 0 counts every value on its own.
  EXPECT_EQ(histogram.highest_equivalent_value(0), 0u);
  EXPECT_EQ(histogram.highest_equivalent_value(2047), 2047u);
  // 2048..4095 in steps of 2, 4096..8191 in steps of 4, ...
  EXPECT_EQ(histogram.lowest_equivalent_value(2049), 2048u);
  EXPECT_EQ(histogram.highest_equivalent_value(2048), 2049u);
  EXPECT_EQ(histogram.highest_equivalent_value(5000), 5003u);
  EXPECT_EQ(histogram.highest_equivalent_value(5003), 5003u);
  EXPECT_EQ(histogram.lowest_equivalent_value(5003), 5000u);
  // 1e6 = 0b1111_0100_0010_0100_0000: 20 bits, so bucket 9 with sub-buckets of 512.
  EXPECT_EQ(histogram.lowest_equivalent_value(1'000'000), 999'936u);
  EXPECT_EQ(histogram.highest_equivalent_value(1'000'000), 1'000'447u);
  // The top bucket ends exactly at 2^64 - 1, with no overflow on the way.
  EXPECT_EQ(histogram.highest_equivalent_value(kMaxValue), kMaxValue);
  EXPECT_EQ(histogram.lowest_equivalent_value(kMaxValue),
            kMaxValue - ((std::uint64_t{1} << 53) - 1));

  // A lowest discernible value of 1000 makes units of 512 (the power of two below it).
  const HdrHistogram coarse(1000, 3'600'000'000, 2);
  EXPECT_EQ(coarse.lowest_equivalent_value(1500), 1024u);
  EXPECT_EQ(coarse.highest_equivalent_value(1500), 1535u);
  EXPECT_EQ(coarse.highest_equivalent_value(100), 511u);
}

TEST(HdrHistogramTest, EmptyHistogramReportsZeros) {
  const HdrHistogram histogram;
  EXPECT_EQ(histogram.total_count(), 0u);
  EXPECT_EQ(histogram.min(), 0u);
  EXPECT_EQ(histogram.max(), 0u);
  EXPECT_EQ(histogram.mean(), 0.0);
  EXPECT_EQ(histogram.stddev(), 0.0);
  EXPECT_EQ(histogram.value_at_percentile(0), 0u);
  EXPECT_EQ(histogram.value_at_percentile(50), 0u);
  EXPECT_EQ(histogram.value_at_percentile(100), 0u);
}

TEST(HdrHistogramTest, UniformDistributionStaysWithinThreeSignificantDigits) {
  const HdrHistogram histogram = uniform_1_to(10'000);
  EXPECT_EQ(histogram.total_count(), 10'000u);
  const auto p50 = static_cast<double>(histogram.value_at_percentile(50));
  EXPECT_LE(std::abs(p50 - 5000.0), 5000.0 * 1e-3);
  // Exact values: the top of the bucket where the 5000th, 9000th, ... value lies.
  EXPECT_EQ(histogram.value_at_percentile(50), 5003u);
  EXPECT_EQ(histogram.value_at_percentile(90), 9007u);
  EXPECT_EQ(histogram.value_at_percentile(99), 9903u);
  EXPECT_EQ(histogram.value_at_percentile(99.9), 9991u);
  EXPECT_EQ(histogram.value_at_percentile(100), 10'007u);
  EXPECT_EQ(histogram.value_at_percentile(100), histogram.max());
  EXPECT_EQ(histogram.max(), histogram.highest_equivalent_value(10'000));
  EXPECT_EQ(histogram.value_at_percentile(0), 1u);
  EXPECT_EQ(histogram.min(), 1u);
  EXPECT_NEAR(histogram.mean(), 5000.5, 5000.5 * 1e-3);
  EXPECT_NEAR(histogram.stddev(), 2886.75, 2886.75 * 5e-3);
}

TEST(HdrHistogramTest, PercentileUsesTheCeilingOfTheRequestedCount) {
  HdrHistogram histogram;
  for (std::uint64_t value = 1; value <= 4; ++value) histogram.record(value);
  EXPECT_EQ(histogram.value_at_percentile(25), 1u) << "25 % of 4 is exactly the first value";
  EXPECT_EQ(histogram.value_at_percentile(25.1), 2u) << "ceil(1.004) = 2";
  EXPECT_EQ(histogram.value_at_percentile(50), 2u);
  EXPECT_EQ(histogram.value_at_percentile(75), 3u);
  EXPECT_EQ(histogram.value_at_percentile(75.0001), 4u);
  EXPECT_EQ(histogram.value_at_percentile(0.0001), 1u) << "at least the first recorded value";

  HdrHistogram thousand;
  for (std::uint64_t value = 1; value <= 1000; ++value) thousand.record(value);
  EXPECT_EQ(thousand.value_at_percentile(99.9), 999u) << "99.9 % of 1000 must not round to 1000";
}

TEST(HdrHistogramTest, PercentileOutsideZeroToHundredIsRejected) {
  const HdrHistogram histogram = uniform_1_to(10);
  EXPECT_THROW(static_cast<void>(histogram.value_at_percentile(-0.1)), std::invalid_argument);
  EXPECT_THROW(static_cast<void>(histogram.value_at_percentile(100.01)), std::invalid_argument);
  EXPECT_THROW(static_cast<void>(histogram.value_at_percentile(std::nan(""))),
               std::invalid_argument);
}

TEST(HdrHistogramTest, HundredthPercentileIsTheMaximumsBucketTop) {
  HdrHistogram histogram;
  histogram.record(3);
  histogram.record(1'000'000);
  EXPECT_EQ(histogram.max(), 1'000'447u);
  EXPECT_EQ(histogram.value_at_percentile(100), 1'000'447u);
  EXPECT_EQ(histogram.value_at_percentile(50.0001), 1'000'447u);
  EXPECT_EQ(histogram.value_at_percentile(50), 3u);
}

TEST(HdrHistogramTest, MergeEqualsRecordingEverythingInOne) {
  HdrHistogram a;
  HdrHistogram b;
  HdrHistogram both;
  std::uint64_t state = 0x2545F4914F6CDD1Dull;
  for (int i = 0; i < 20'000; ++i) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    // A long-tailed mix: mostly around a millisecond, sometimes seconds, rarely beyond the range.
    const std::uint64_t value = (i % 100 == 0) ? state % 5'000'000'000ull : 200 + state % 5000;
    (i % 3 == 0 ? a : b).record(value);
    both.record(value);
  }
  a.merge(b);
  EXPECT_EQ(a.total_count(), both.total_count());
  EXPECT_EQ(a.saturated_count(), both.saturated_count());
  EXPECT_GT(a.saturated_count(), 0u);
  EXPECT_EQ(a.min(), both.min());
  EXPECT_EQ(a.max(), both.max());
  EXPECT_DOUBLE_EQ(a.mean(), both.mean());
  EXPECT_DOUBLE_EQ(a.stddev(), both.stddev());
  for (const double p : {0.0, 1.0, 25.0, 50.0, 90.0, 99.0, 99.5, 99.9, 99.99, 100.0}) {
    EXPECT_EQ(a.value_at_percentile(p), both.value_at_percentile(p)) << p;
  }
}

TEST(HdrHistogramTest, MergeIntoEmptyAndOfEmpty) {
  HdrHistogram empty;
  HdrHistogram full = uniform_1_to(100);
  full.merge(HdrHistogram{});
  EXPECT_EQ(full.min(), 1u);
  EXPECT_EQ(full.total_count(), 100u);
  empty.merge(full);
  EXPECT_EQ(empty.min(), 1u);
  EXPECT_EQ(empty.max(), 100u);
  EXPECT_EQ(empty.value_at_percentile(50), 50u);
}

TEST(HdrHistogramTest, MergeRequiresTheSameLayout) {
  HdrHistogram histogram;
  EXPECT_THROW(histogram.merge(HdrHistogram(1, 3'600'000'000, 2)), std::invalid_argument);
  EXPECT_THROW(histogram.merge(HdrHistogram(1, 60'000'000, 3)), std::invalid_argument);
  EXPECT_THROW(histogram.merge(HdrHistogram(2, 3'600'000'000, 3)), std::invalid_argument);
}

TEST(HdrHistogramTest, ValuesAboveTheRangeSaturate) {
  HdrHistogram histogram(1, 1000, 3);
  histogram.record(500);
  histogram.record(5000);
  histogram.record(kMaxValue, 2);
  EXPECT_EQ(histogram.total_count(), 4u);
  EXPECT_EQ(histogram.saturated_count(), 3u);
  EXPECT_EQ(histogram.max(), 1000u);
  EXPECT_EQ(histogram.value_at_percentile(100), 1000u);
  EXPECT_EQ(histogram.value_at_percentile(25), 500u);

  HdrHistogram defaults;
  defaults.record(kMaxValue);
  EXPECT_EQ(defaults.saturated_count(), 1u);
  EXPECT_EQ(defaults.max(), defaults.highest_equivalent_value(3'600'000'000));
}

TEST(HdrHistogramTest, BillionsOfCountsDoNotOverflow) {
  HdrHistogram histogram;
  histogram.record(1000, 1'000'000'000);
  histogram.record(1000, 2'000'000'000);
  histogram.record(2000, 2'000'000'000);
  EXPECT_EQ(histogram.total_count(), 5'000'000'000u);
  EXPECT_EQ(histogram.value_at_percentile(60), 1000u);
  EXPECT_EQ(histogram.value_at_percentile(60.0001), 2000u);
  EXPECT_DOUBLE_EQ(histogram.mean(), 1400.0);
  EXPECT_NEAR(histogram.stddev(), std::sqrt(0.6 * 400.0 * 400.0 + 0.4 * 600.0 * 600.0), 1e-6);
}

TEST(HdrHistogramTest, ZeroCountRecordsNothing) {
  HdrHistogram histogram;
  histogram.record(7, 0);
  EXPECT_EQ(histogram.total_count(), 0u);
  EXPECT_EQ(histogram.min(), 0u);
  EXPECT_EQ(histogram.max(), 0u);
}

TEST(HdrHistogramTest, ResetForgetsEverything) {
  HdrHistogram histogram = uniform_1_to(1000);
  histogram.record(kMaxValue);
  histogram.reset();
  EXPECT_EQ(histogram.total_count(), 0u);
  EXPECT_EQ(histogram.saturated_count(), 0u);
  EXPECT_EQ(histogram.max(), 0u);
  histogram.record(42);
  EXPECT_EQ(histogram.min(), 42u);
  EXPECT_EQ(histogram.max(), 42u);
  EXPECT_EQ(histogram.value_at_percentile(50), 42u);
}

TEST(HdrHistogramTest, ZeroIsARecordableValue) {
  HdrHistogram histogram;
  histogram.record(0, 3);
  histogram.record(10);
  EXPECT_EQ(histogram.min(), 0u);
  EXPECT_EQ(histogram.value_at_percentile(75), 0u);
  EXPECT_EQ(histogram.value_at_percentile(100), 10u);
}

}  // namespace
}  // namespace iot::loadgen

#include <gtest/gtest.h>

#include <cstdio>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "loadgen/hdr_histogram.hpp"

namespace iot::loadgen {
namespace {

constexpr const char* kHeader = "       Value     Percentile TotalCount 1/(1-Percentile)";

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  return lines;
}

std::string hgrm(const HdrHistogram& histogram, double scaling) {
  std::ostringstream out;
  histogram.write_percentile_distribution(out, scaling);
  return out.str();
}

// printf is an independent formatter for the reference's row formats.
std::string row(double value, double fraction, unsigned long long count) {
  char buffer[128];
  std::snprintf(buffer, sizeof buffer, "%12.3f %2.12f %10llu %14.2f", value, fraction, count,
                1.0 / (1.0 - fraction));
  return buffer;
}

std::string last_row(double value, unsigned long long count) {
  char buffer[128];
  std::snprintf(buffer, sizeof buffer, "%12.3f %2.12f %10llu", value, 1.0, count);
  return buffer;
}

TEST(PercentileDistributionTest, StepsHalveTheDistanceToHundredPercent) {
  HdrHistogram histogram;
  for (std::uint64_t value = 1; value <= 10; ++value) histogram.record(value);
  // Worked by hand from the reference iterator: 5 ticks per half distance (steps of 10, then 5,
  // 2.5, 1.25 %), a level reached by the first bucket whose cumulative share meets it, the same
  // bucket reported again while it meets the next level, and a final 100 % row.
  struct Expected {
    std::uint64_t value;
    double percentile;
    std::uint64_t total;
  };
  const std::vector<Expected> expected = {
      {1, 0, 1},    {1, 10, 1},    {2, 20, 2}, {3, 30, 3},      {4, 40, 4},
      {5, 50, 5},   {6, 55, 6},    {6, 60, 6}, {7, 65, 7},      {7, 70, 7},
      {8, 75, 8},   {8, 77.5, 8},  {8, 80, 8}, {9, 82.5, 9},    {9, 85, 9},
      {9, 87.5, 9}, {9, 88.75, 9}, {9, 90, 9}, {10, 91.25, 10}, {10, 100, 10},
  };
  const std::vector<PercentilePoint> points = histogram.percentile_distribution();
  ASSERT_EQ(points.size(), expected.size());
  for (std::size_t i = 0; i < points.size(); ++i) {
    EXPECT_EQ(points[i].value, expected[i].value) << "row " << i;
    EXPECT_DOUBLE_EQ(points[i].percentile, expected[i].percentile) << "row " << i;
    EXPECT_EQ(points[i].total_count, expected[i].total) << "row " << i;
  }

  const std::vector<std::string> lines = lines_of(hgrm(histogram, 1.0));
  ASSERT_EQ(lines.size(), 2 + expected.size() + 3);
  EXPECT_EQ(lines[0], kHeader);
  EXPECT_EQ(lines[1], "");
  for (std::size_t i = 0; i + 1 < expected.size(); ++i) {
    EXPECT_EQ(lines[2 + i], row(static_cast<double>(expected[i].value),
                                expected[i].percentile / 100.0, expected[i].total));
  }
  EXPECT_EQ(lines[2 + expected.size() - 1], last_row(10, 10));
  EXPECT_EQ(lines[2], "       1.000 0.000000000000          1           1.00");
  EXPECT_EQ(lines[21], "      10.000 1.000000000000         10");
  EXPECT_EQ(lines[22], "#[Mean    =        5.500, StdDeviation   =        2.872]");
  EXPECT_EQ(lines[23], "#[Max     =       10.000, Total count    =           10]");
  EXPECT_EQ(lines[24], "#[Buckets =           22, SubBuckets     =         2048]");
}

TEST(PercentileDistributionTest, KnownDistributionHasOrderedRowsAndFooter) {
  HdrHistogram histogram;
  for (std::uint64_t value = 1; value <= 10'000; ++value) histogram.record(value);
  const std::string text = hgrm(histogram, 1000.0);  // microseconds shown as milliseconds
  const std::vector<std::string> lines = lines_of(text);
  const std::size_t rows = histogram.percentile_distribution().size();
  ASSERT_GT(rows, 50u);
  ASSERT_EQ(lines.size(), 2 + rows + 3);
  EXPECT_EQ(lines[0], kHeader);
  EXPECT_EQ(lines[1], "");

  double previous_value = -1;
  double previous_percentile = -1;
  unsigned long long previous_count = 0;
  for (std::size_t i = 2; i < 2 + rows; ++i) {
    double value = 0;
    double percentile = 0;
    unsigned long long count = 0;
    double inverse = 0;
    const int fields =
        std::sscanf(lines[i].c_str(), "%lf %lf %llu %lf", &value, &percentile, &count, &inverse);
    const bool last = i + 1 == 2 + rows;
    ASSERT_EQ(fields, last ? 3 : 4) << lines[i];
    EXPECT_GE(value, previous_value) << lines[i];
    EXPECT_GE(percentile, previous_percentile) << lines[i];
    EXPECT_GE(count, previous_count) << lines[i];
    EXPECT_LE(percentile, 1.0);
    if (!last) {
      EXPECT_NEAR(inverse, 1.0 / (1.0 - percentile), 0.01) << lines[i];
    }
    previous_value = value;
    previous_percentile = percentile;
    previous_count = count;
  }
  EXPECT_EQ(lines[2], "       0.001 0.000000000000          1           1.00");
  EXPECT_EQ(lines[1 + rows], "      10.007 1.000000000000      10000");
  EXPECT_EQ(lines[2 + rows].rfind("#[Mean    =        5.00", 0), 0u) << lines[2 + rows];
  EXPECT_NE(lines[2 + rows].find(", StdDeviation   =        2.88"), std::string::npos);
  EXPECT_EQ(lines[3 + rows], "#[Max     =       10.007, Total count    =        10000]");
  EXPECT_EQ(lines[4 + rows], "#[Buckets =           22, SubBuckets     =         2048]");
}

TEST(PercentileDistributionTest, ValueColumnHasTheHistogramsSignificantDigits) {
  HdrHistogram histogram(1, 1'000'000, 2);
  histogram.record(1234);
  const std::vector<std::string> lines = lines_of(hgrm(histogram, 1000.0));
  ASSERT_EQ(lines.size(), 2u + 2u + 3u);
  EXPECT_EQ(lines[2], "        1.24 0.000000000000          1           1.00");
  EXPECT_EQ(lines[3], "        1.24 1.000000000000          1");
  EXPECT_EQ(lines[6], "#[Buckets =           13, SubBuckets     =          256]");
}

TEST(PercentileDistributionTest, RoundsHalfUpLikeTheReference) {
  // 1530 lies in the bucket 1528..1535; 1535 / 1000 is 1.53499999... in binary. Java's Formatter
  // rounds the decimal text 1.535 half up to 1.54 (printf would print 1.53), and the reference
  // output is Java's. Likewise a level of 99.97802734375 % prints as 0.999780273438.
  HdrHistogram histogram(1, 1'000'000, 2);
  histogram.record(1530);
  const std::vector<std::string> lines = lines_of(hgrm(histogram, 1000.0));
  ASSERT_GE(lines.size(), 3u);
  EXPECT_EQ(lines[2], "        1.54 0.000000000000          1           1.00");

  HdrHistogram many;
  for (std::uint64_t value = 1; value <= 10'000; ++value) many.record(value);
  EXPECT_NE(hgrm(many, 1000.0).find(" 0.999780273438 "), std::string::npos);
}

TEST(PercentileDistributionTest, EmptyHistogramHasHeaderAndFooterOnly) {
  const std::vector<std::string> lines = lines_of(hgrm(HdrHistogram{}, 1000.0));
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0], kHeader);
  EXPECT_EQ(lines[2], "#[Mean    =        0.000, StdDeviation   =        0.000]");
  EXPECT_EQ(lines[3], "#[Max     =        0.000, Total count    =            0]");
}

TEST(PercentileDistributionTest, RejectsBadArguments) {
  const HdrHistogram histogram;
  std::ostringstream out;
  EXPECT_THROW(histogram.write_percentile_distribution(out, 0.0), std::invalid_argument);
  EXPECT_THROW(histogram.write_percentile_distribution(out, 1.0, 0), std::invalid_argument);
  EXPECT_THROW(static_cast<void>(histogram.percentile_distribution(-1)), std::invalid_argument);
}

}  // namespace
}  // namespace iot::loadgen

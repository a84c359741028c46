#include "metrics/metrics.hpp"

#include <gtest/gtest.h>

namespace iot::metrics {
namespace {

TEST(LatencyHistogram, PlacesObservationsInTheirBucketsAndRendersCumulativeCounts) {
  LatencyHistogram histogram;
  histogram.observe_ns(5'000);          // 5 µs -> le=1e-05
  histogram.observe_ns(10'000);         // exactly on a bound stays in that bucket
  histogram.observe_ns(300'000);        // 0.3 ms -> le=0.0005
  histogram.observe_ns(5'000'000'000);  // 5 s -> +Inf only
  const auto snapshot = histogram.snapshot();
  EXPECT_EQ(snapshot.count, 4u);
  EXPECT_EQ(snapshot.buckets[0], 2u);
  EXPECT_EQ(snapshot.buckets.back(), 1u);
  EXPECT_NEAR(snapshot.sum_seconds, 5.000315, 1e-9);

  PrometheusWriter writer;
  writer.header("d_seconds", "histogram", "Test.");
  writer.histogram("d_seconds", PrometheusWriter::label("path", "/events"), snapshot);
  const auto& text = writer.text();
  EXPECT_NE(text.find("# TYPE d_seconds histogram\n"), std::string::npos);
  EXPECT_NE(text.find("d_seconds_bucket{path=\"/events\",le=\"1e-05\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("d_seconds_bucket{path=\"/events\",le=\"0.0005\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("d_seconds_bucket{path=\"/events\",le=\"1\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("d_seconds_bucket{path=\"/events\",le=\"+Inf\"} 4\n"), std::string::npos);
  EXPECT_NE(text.find("d_seconds_count{path=\"/events\"} 4\n"), std::string::npos);
}

TEST(LatencyHistogram, SnapshotsAddUp) {
  LatencyHistogram a, b;
  a.observe_ns(1'000);
  b.observe_ns(2'000'000);
  auto sum = a.snapshot();
  sum += b.snapshot();
  EXPECT_EQ(sum.count, 2u);
  EXPECT_EQ(sum.buckets[0], 1u);
}

TEST(PrometheusWriter, EscapesLabelValues) {
  EXPECT_EQ(PrometheusWriter::label("reason", "a\"b\\c\nd"), R"(reason="a\"b\\c\nd")");
}

TEST(PrometheusWriter, WritesSamplesWithAndWithoutLabels) {
  PrometheusWriter writer;
  Counter counter;
  counter.add(3);
  writer.header("x_total", "counter", "Things.");
  writer.sample("x_total", "", counter.value());
  writer.sample("x_total", PrometheusWriter::label("k", "v"), std::uint64_t{7});
  EXPECT_EQ(writer.text(),
            "# HELP x_total Things.\n# TYPE x_total counter\nx_total 3\nx_total{k=\"v\"} 7\n");
}

}  // namespace
}  // namespace iot::metrics

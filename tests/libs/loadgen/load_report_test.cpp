#include "loadgen/load_report.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

namespace iot::loadgen {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  return lines;
}

LoadReport sample_report() {
  LoadReport report;
  report.run_id = "run-7";
  report.target = "127.0.0.1:5683";
  report.mode = OpenLoop{10'000};
  report.threads = 4;
  report.devices = 1000;
  report.batch = 10;
  report.payload_bytes = 512;
  report.started_at = std::chrono::system_clock::time_point(1'795'341'600'123ms);
  report.duration_seconds = 60;
  report.requests_sent = 600'000;
  report.responses = {{"2.01", 599'000}, {"5.03", 900}, {"4.00", 50}};
  report.timeouts = 50;
  report.retransmissions = 25;
  report.events_sent = 6'000'000;
  return report;
}

TEST(LatencySummaryTest, TakesPercentilesInMillisecondsFromMicroseconds) {
  HdrHistogram latency_us;
  for (std::uint64_t value = 1; value <= 10'000; ++value) latency_us.record(value);
  const LatencySummary summary = summarize_latency(latency_us);
  EXPECT_EQ(summary.samples, 10'000u);
  EXPECT_DOUBLE_EQ(summary.p50_ms, 5.003);
  EXPECT_DOUBLE_EQ(summary.p90_ms, 9.007);
  EXPECT_DOUBLE_EQ(summary.p99_ms, 9.903);
  EXPECT_DOUBLE_EQ(summary.p99_9_ms, 9.991);
  EXPECT_DOUBLE_EQ(summary.max_ms, 10.007);
  EXPECT_NEAR(summary.mean_ms, 5.0005, 0.005);
}

TEST(LatencySummaryTest, EmptyHistogramGivesZeros) {
  EXPECT_EQ(summarize_latency(HdrHistogram{}), LatencySummary{});
}

TEST(LoadReportTest, DerivedFiguresFollowTheCounts) {
  const LoadReport report = sample_report();
  EXPECT_EQ(report.answered(), 599'950u);
  EXPECT_EQ(report.ok_responses(), 599'000u);
  EXPECT_DOUBLE_EQ(report.throughput_per_second(), 599'950.0 / 60.0);
  EXPECT_DOUBLE_EQ(report.error_rate(), 1000.0 / 600'000.0);
}

TEST(LoadReportTest, DerivedFiguresOfAnEmptyRunAreZero) {
  const LoadReport report;
  EXPECT_EQ(report.answered(), 0u);
  EXPECT_EQ(report.throughput_per_second(), 0.0);
  EXPECT_EQ(report.error_rate(), 0.0);
  LoadReport unanswered;
  unanswered.requests_sent = 10;
  unanswered.timeouts = 10;
  unanswered.duration_seconds = 1;
  EXPECT_EQ(unanswered.error_rate(), 1.0);
}

TEST(RenderTextTest, AlignsEveryValueInOneColumn) {
  LoadReport report = sample_report();
  report.latency = {.samples = 599'950,
                    .p50_ms = 1.234,
                    .p90_ms = 2.5,
                    .p99_ms = 3.2,
                    .p99_9_ms = 7.5,
                    .max_ms = 12.3,
                    .mean_ms = 1.4};
  const std::string text = render_text(report);
  const std::vector<std::string> lines = lines_of(text);
  ASSERT_GE(lines.size(), 8u);
  EXPECT_EQ(text.back(), '\n');
  EXPECT_EQ(lines[0], "iotc load report run-7");
  for (std::size_t i = 1; i < lines.size(); ++i) {
    ASSERT_GT(lines[i].size(), 17u) << lines[i];
    EXPECT_EQ(lines[i].substr(0, 2), "  ") << lines[i];
    EXPECT_NE(lines[i][16], ' ') << "values start at index 16: " << lines[i];
    EXPECT_EQ(lines[i][15], ' ') << lines[i];
  }
  EXPECT_NE(text.find("  target        127.0.0.1:5683\n"), std::string::npos) << text;
  EXPECT_NE(text.find("open loop, 10000 req/s"), std::string::npos) << text;
  EXPECT_NE(text.find("2.01 599000  4.00 50  5.03 900"), std::string::npos) << text;
  EXPECT_NE(text.find("2026-11-22T10:00:00.123Z"), std::string::npos) << text;
  EXPECT_NE(text.find("timeouts 50  retransmissions 25  send errors 0"), std::string::npos);
  EXPECT_NE(text.find("0.167 %"), std::string::npos) << text;
  EXPECT_NE(text.find("p50 1.234  p90 2.500  p99 3.200  p99.9 7.500  max 12.300  mean 1.400"),
            std::string::npos)
      << text;
}

TEST(RenderTextTest, SendersSayHowDevicesAreToldApart) {
  LoadReport report = sample_report();
  EXPECT_NE(render_text(report).find("  senders       4 threads, 1000 devices\n"),
            std::string::npos)
      << render_text(report);
  report.devices_by_address = true;
  EXPECT_NE(render_text(report).find(
                "  senders       4 threads, 1000 devices (one loopback address each)\n"),
            std::string::npos)
      << render_text(report);
}

TEST(RenderTextTest, DtlsRunShowsItsHandshakesAligned) {
  LoadReport report = sample_report();
  EXPECT_EQ(render_text(report).find("handshakes"), std::string::npos) << "plain CoAP: no line";
  report.handshakes = HandshakeSummary{
      .started = 1001,
      .established = 1000,
      .failed = 1,
      .sessions_closed = 0,
      .time = {.samples = 1000, .p50_ms = 1.5, .p99_ms = 4.25},
      .client_cpu_ms_per_handshake = 0.125,
  };
  EXPECT_DOUBLE_EQ(report.handshakes_per_second(), 1000.0 / 60.0);
  const std::string text = render_text(report);
  EXPECT_NE(text.find("  handshakes    1000 established, 1 failed, 16.7/s  p50 1.500 ms  p99 "
                      "4.250 ms  client CPU 0.125 ms each\n"),
            std::string::npos)
      << text;
}

TEST(RenderTextTest, HandshakesBeforeTheRunHaveTheRateOfTheirOwnPhase) {
  LoadReport report = sample_report();
  report.handshakes = HandshakeSummary{
      .started = 1000,
      .established = 1000,
      .time = {.samples = 1000, .p50_ms = 1.5, .p99_ms = 4.25},
      .client_cpu_ms_per_handshake = 0.125,
      .before_run_seconds = 0.5,
  };
  // --handshake-first: 1,000 in the half second before the run, not over its 60 s.
  EXPECT_DOUBLE_EQ(report.handshakes_per_second(), 2000.0);
  const std::string text = render_text(report);
  EXPECT_NE(text.find("1000 established, 0 failed, 2000.0/s in 0.50 s before the run  p50"),
            std::string::npos)
      << text;
}

TEST(RenderTextTest, EmptyClosedLoopRunSaysSo) {
  LoadReport report;
  report.mode = ClosedLoop{64};
  report.message_type = MessageType::non_confirmable;
  const std::string text = render_text(report);
  EXPECT_NE(text.find("closed loop, 64 in flight"), std::string::npos) << text;
  EXPECT_NE(text.find("NON"), std::string::npos);
  EXPECT_NE(text.find("responses     none"), std::string::npos) << text;
  EXPECT_NE(text.find("latency ms    no answers"), std::string::npos) << text;
}

TEST(StatusLineTest, MatchesTheDocumentedShape) {
  const LiveStatus status{.elapsed = 12s,
                          .sent = 120'000,
                          .rate_per_second = 10'001.3,
                          .ok = 119'990,
                          .errors = 10,
                          .timeouts = 0,
                          .p99_ms = 3.2};
  EXPECT_EQ(format_status_line(status),
            "  12s  sent 120000  rate 10001/s  ok 119990  err 10  timeouts 0  p99 3.2 ms");
}

TEST(StatusLineTest, StaysOneLineInEdgeCases) {
  LiveStatus status;
  EXPECT_EQ(format_status_line(status), "   0s  sent 0  rate 0/s  ok 0  err 0  timeouts 0  p99 -");
  status.p99_ms = 0.4123;
  EXPECT_NE(format_status_line(status).find("p99 0.41 ms"), std::string::npos);
  status.p99_ms = 1234.6;
  EXPECT_NE(format_status_line(status).find("p99 1235 ms"), std::string::npos);
  status.p99_ms = std::numeric_limits<double>::quiet_NaN();
  status.rate_per_second = std::numeric_limits<double>::infinity();
  status.elapsed = 36'000s;
  const std::string line = format_status_line(status);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(line.find('\r'), std::string::npos);
  EXPECT_EQ(line.rfind("36000s  sent 0  rate 0/s", 0), 0u) << line;
  EXPECT_TRUE(line.ends_with("  p99 -")) << line;
}

}  // namespace
}  // namespace iot::loadgen

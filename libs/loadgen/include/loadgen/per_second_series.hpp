#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "loadgen/hdr_histogram.hpp"

namespace iot::loadgen {

// One second of a load test: a row of the report's time series and a point of its
// "latency over time" chart.
struct SecondSample {
  std::uint64_t second = 0;  // since the start of the run: second 0 is [0 s, 1 s)
  std::uint64_t sent = 0;    // requests sent
  std::uint64_t ok = 0;      // 2.xx answers received
  std::uint64_t errors = 0;  // other answers, timeouts and send errors
  // Latency of the answers received in this second; empty when none was.
  std::optional<double> p50_ms{};
  std::optional<double> p99_ms{};

  bool operator==(const SecondSample&) const = default;
};

// Builds the per-second time series from events as they happen, for one sender (not
// thread-safe; with several sender threads, merge per-second HdrHistograms and use
// summarize_latency() from load_report.hpp instead). Each event counts in the second of `now`;
// only the open (latest) second keeps a latency histogram, so memory does not grow with the run
// beyond one small row per second.
//
// Recording is O(1) without allocation except when an event opens a new second, which closes
// the previous one (a histogram reset and a row appended: once a second).
class PerSecondSeries {
 public:
  using Clock = std::chrono::steady_clock;

  // `expected_seconds` reserves rows up front, so appending never allocates during the run.
  explicit PerSecondSeries(Clock::time_point start, std::size_t expected_seconds = 0);

  void record_sent(Clock::time_point now, std::uint64_t count = 1);
  // A 2.xx answer, `latency_us` after its intended send time.
  void record_ok(Clock::time_point now, std::uint64_t latency_us);
  // A non-2.xx answer (with its latency) or a request that got no answer: a timeout or a send
  // error (without).
  void record_error(Clock::time_point now, std::optional<std::uint64_t> latency_us = std::nullopt);

  // Closes every second that ended at or before `now`, including quiet ones, so rows() is
  // complete up to now. Call it once a second, e.g. before printing the status line.
  void close_until(Clock::time_point now);
  // Closes the open second as well, even if it is not over: at the end of the run.
  void close_all();

  // Closed seconds, in order and without gaps.
  const std::vector<SecondSample>& rows() const noexcept { return rows_; }

 private:
  // The second `now` falls into; events from a second already closed count in the open one.
  std::uint64_t second_of(Clock::time_point now) const noexcept;
  void advance_to(std::uint64_t second);
  void close_open_second();

  Clock::time_point start_;
  std::vector<SecondSample> rows_;
  std::uint64_t open_second_ = 0;  // the second events count in; all before it are in rows_
  SecondSample open_counts_;
  HdrHistogram open_latency_us_;
};

}  // namespace iot::loadgen

#include "loadgen/per_second_series.hpp"

#include <algorithm>

namespace iot::loadgen {

PerSecondSeries::PerSecondSeries(Clock::time_point start, std::size_t expected_seconds)
    : start_(start) {
  rows_.reserve(expected_seconds);
}

std::uint64_t PerSecondSeries::second_of(Clock::time_point now) const noexcept {
  if (now < start_) return open_second_;
  const auto elapsed = std::chrono::duration_cast<std::chrono::seconds>(now - start_).count();
  return std::max(static_cast<std::uint64_t>(elapsed), open_second_);
}

void PerSecondSeries::close_open_second() {
  SecondSample row = open_counts_;
  row.second = open_second_;
  if (open_latency_us_.total_count() > 0) {
    row.p50_ms = static_cast<double>(open_latency_us_.value_at_percentile(50)) / 1000.0;
    row.p99_ms = static_cast<double>(open_latency_us_.value_at_percentile(99)) / 1000.0;
    open_latency_us_.reset();  // only when used: quiet seconds cost no histogram sweep
  }
  rows_.push_back(row);
  open_counts_ = SecondSample{};
  ++open_second_;
}

void PerSecondSeries::advance_to(std::uint64_t second) {
  while (open_second_ < second) close_open_second();
}

void PerSecondSeries::record_sent(Clock::time_point now, std::uint64_t count) {
  advance_to(second_of(now));
  open_counts_.sent += count;
}

void PerSecondSeries::record_ok(Clock::time_point now, std::uint64_t latency_us) {
  advance_to(second_of(now));
  ++open_counts_.ok;
  open_latency_us_.record(latency_us);
}

void PerSecondSeries::record_error(Clock::time_point now, std::optional<std::uint64_t> latency_us) {
  advance_to(second_of(now));
  ++open_counts_.errors;
  if (latency_us) open_latency_us_.record(*latency_us);
}

void PerSecondSeries::close_until(Clock::time_point now) {
  if (now < start_) return;
  const auto ended = std::chrono::duration_cast<std::chrono::seconds>(now - start_).count();
  advance_to(static_cast<std::uint64_t>(ended));
}

void PerSecondSeries::close_all() {
  close_open_second();
}

}  // namespace iot::loadgen

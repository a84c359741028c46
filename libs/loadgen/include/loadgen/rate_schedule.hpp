#pragma once

#include <chrono>
#include <cstdint>

namespace iot::loadgen {

// When each request of an open-loop load test is due: request n at start + n / rate, whatever
// happened to the requests before it. Each time is computed from n alone, in integer
// nanoseconds, so there is no accumulated drift, and a sender that stalled finds every request
// it owes in due_by() and sends them as a burst. Measuring each latency from its intended send
// time rather than from the actual send keeps a stall from hiding in the results (coordinated
// omission, Gil Tene: "How NOT to Measure Latency").
//
// The rate is honoured to a millionth of a request per second (7 req/s is exact; the n-th
// request is never more than 1 ns early).
class OpenLoopSchedule {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr double kMinRequestsPerSecond = 0.000'001;
  static constexpr double kMaxRequestsPerSecond = 10'000'000;

  // std::invalid_argument unless kMinRequestsPerSecond <= requests_per_second <=
  // kMaxRequestsPerSecond (NaN and infinities included).
  OpenLoopSchedule(double requests_per_second, Clock::time_point start);

  // start + n / rate, rounded down to the nanosecond; Clock::time_point::max() if that is
  // beyond the clock's range.
  Clock::time_point intended_send_time(std::uint64_t n) const noexcept;
  // How many requests should have been sent by `now`: the number of n with
  // intended_send_time(n) <= now (request 0 is due at start itself; 0 before start).
  std::uint64_t due_by(Clock::time_point now) const noexcept;

  // The rate as honoured, after rounding to a millionth of a request per second.
  double requests_per_second() const noexcept;
  Clock::time_point start() const noexcept { return start_; }

 private:
  Clock::time_point start_;
  std::uint64_t micro_requests_per_second_;
};

}  // namespace iot::loadgen

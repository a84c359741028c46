#include "loadgen/rate_schedule.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace iot::loadgen {
namespace {

// n / (r µreq/s) seconds = n * 10^15 / r nanoseconds. The product exceeds 64 bits after ~18 000
// requests, so it is formed in 128 bits (n < 2^64 and 10^15 < 2^50 leave room).
using Wide = unsigned __int128;
using SignedWide = __int128;
constexpr Wide kNanosecondsPerSecondInMicros = 1'000'000'000'000'000;

// In 128 bits, so differences of any two time points stay exact.
SignedWide nanoseconds_since_epoch(OpenLoopSchedule::Clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count();
}

}  // namespace

OpenLoopSchedule::OpenLoopSchedule(double requests_per_second, Clock::time_point start)
    : start_(start), micro_requests_per_second_(0) {
  if (!(requests_per_second >= kMinRequestsPerSecond &&
        requests_per_second <= kMaxRequestsPerSecond)) {
    throw std::invalid_argument(
        "OpenLoopSchedule: requests per second must be a number from 0.000001 to 10000000, got " +
        std::to_string(requests_per_second));
  }
  micro_requests_per_second_ = static_cast<std::uint64_t>(std::llround(requests_per_second * 1e6));
}

OpenLoopSchedule::Clock::time_point OpenLoopSchedule::intended_send_time(
    std::uint64_t n) const noexcept {
  const Wide offset_ns = Wide{n} * kNanosecondsPerSecondInMicros / micro_requests_per_second_;
  const SignedWide latest_offset_ns =
      nanoseconds_since_epoch(Clock::time_point::max()) - nanoseconds_since_epoch(start_);
  if (static_cast<SignedWide>(offset_ns) > latest_offset_ns) return Clock::time_point::max();
  return start_ + std::chrono::duration_cast<Clock::duration>(
                      std::chrono::nanoseconds(static_cast<std::int64_t>(offset_ns)));
}

std::uint64_t OpenLoopSchedule::due_by(Clock::time_point now) const noexcept {
  if (now < start_) return 0;
  const auto elapsed_ns =
      static_cast<Wide>(nanoseconds_since_epoch(now) - nanoseconds_since_epoch(start_));
  // floor(n * 10^15 / r) <= e  <=>  n * 10^15 < (e + 1) * r, so the count of such n (from 0) is
  // ceil((e + 1) * r / 10^15).
  const Wide bound = (elapsed_ns + 1) * micro_requests_per_second_;
  return static_cast<std::uint64_t>((bound + kNanosecondsPerSecondInMicros - 1) /
                                    kNanosecondsPerSecondInMicros);
}

double OpenLoopSchedule::requests_per_second() const noexcept {
  return static_cast<double>(micro_requests_per_second_) / 1e6;
}

}  // namespace iot::loadgen

#include "elastic/retry_policy.hpp"

#include <algorithm>

namespace iot::elastic {

RetryPolicy::RetryPolicy(std::chrono::milliseconds base, std::chrono::milliseconds cap)
    : base_(std::max(base, std::chrono::milliseconds::zero())),
      cap_(std::max(cap, std::chrono::milliseconds::zero())) {}

std::chrono::milliseconds RetryPolicy::ceiling(unsigned attempt) const {
  const auto base = static_cast<std::uint64_t>(base_.count());
  const auto cap = static_cast<std::uint64_t>(cap_.count());
  // base << attempt would overflow (or be undefined for attempt >= 64) long before a retry loop
  // gives up, so compare against cap >> attempt instead: base <= cap >> attempt exactly when
  // base * 2^attempt <= cap.
  if (attempt >= 64 || base > (cap >> attempt)) return cap_;
  return std::chrono::milliseconds(static_cast<std::int64_t>(base << attempt));
}

std::chrono::milliseconds RetryPolicy::delay(unsigned attempt, std::uint64_t random) const {
  const auto bound = static_cast<std::uint64_t>(ceiling(attempt).count()) + 1;
  return std::chrono::milliseconds(static_cast<std::int64_t>(random % bound));
}

}  // namespace iot::elastic

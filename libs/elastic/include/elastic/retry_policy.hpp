#pragma once

#include <chrono>
#include <cstdint>

namespace iot::elastic {

// Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff And Jitter"):
// delay = uniform(0, min(cap, base * 2^attempt)). Full jitter spreads the retries of many
// collectors so a recovering Elasticsearch is not hit by synchronised waves.
class RetryPolicy {
 public:
  RetryPolicy(std::chrono::milliseconds base, std::chrono::milliseconds cap);
  // attempt: 0 for the first retry. random: a uniformly distributed 64-bit value (injected so
  // tests are deterministic).
  std::chrono::milliseconds delay(unsigned attempt, std::uint64_t random) const;
  // The upper bound of delay(attempt, ...), e.g. for a Max-Age hint.
  std::chrono::milliseconds ceiling(unsigned attempt) const;

 private:
  std::chrono::milliseconds base_, cap_;
};

}  // namespace iot::elastic

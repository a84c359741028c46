#pragma once

#include "random_source.hpp"

namespace iot::simulation {

// A mean-reverting random walk (Ornstein–Uhlenbeck process): weather anomalies, cloud cover,
// appliance noise. Stepped with the exact transition of the process, not Euler's, so its
// statistics do not depend on how often the device is read: one step of a day and 1440 steps of
// a minute give the same distribution, and a step of any length keeps the value finite.
class OrnsteinUhlenbeck {
 public:
  // stationary_deviation: the standard deviation the walk settles into; relaxation_seconds: the
  // time over which a departure from the mean decays by 1/e (the memory of the process).
  OrnsteinUhlenbeck(double mean, double stationary_deviation, double relaxation_seconds) noexcept;

  // Draws the value from the stationary distribution: a device switched on mid-run.
  void start(RandomSource& random) noexcept;
  // elapsed_seconds >= 0.
  void advance(double elapsed_seconds, RandomSource& random) noexcept;
  double value() const noexcept { return value_; }

 private:
  double mean_;
  double stationary_deviation_;
  double relaxation_seconds_;
  double value_;
};

}  // namespace iot::simulation

#include "ornstein_uhlenbeck.hpp"

#include <cmath>

namespace iot::simulation {

OrnsteinUhlenbeck::OrnsteinUhlenbeck(double mean, double stationary_deviation,
                                     double relaxation_seconds) noexcept
    : mean_(mean),
      stationary_deviation_(stationary_deviation),
      relaxation_seconds_(relaxation_seconds),
      value_(mean) {}

void OrnsteinUhlenbeck::start(RandomSource& random) noexcept {
  value_ = mean_ + stationary_deviation_ * random.normal();
}

void OrnsteinUhlenbeck::advance(double elapsed_seconds, RandomSource& random) noexcept {
  // X(t+dt) = mean + (X(t) - mean) e^(-dt/tau) + sigma sqrt(1 - e^(-2 dt/tau)) N(0, 1)
  const double decay = std::exp(-elapsed_seconds / relaxation_seconds_);
  value_ = mean_ + (value_ - mean_) * decay +
           stationary_deviation_ * std::sqrt(1.0 - decay * decay) * random.normal();
}

}  // namespace iot::simulation

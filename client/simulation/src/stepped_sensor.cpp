#include "stepped_sensor.hpp"

#include <cmath>

namespace iot::simulation {

void SteppedSensor::read(TimePoint now, std::vector<Reading>& out) {
  if (!previous_read_) {
    start(now);
  } else if (now == *previous_read_) {
    out = previous_readings_;
    return;
  } else {
    const double elapsed = std::chrono::duration<double>(now - *previous_read_).count();
    advance(now, elapsed > 0 ? elapsed : 0.0);
  }
  previous_read_ = now;
  previous_readings_.clear();
  report(now, previous_readings_);
  out = previous_readings_;
}

double rounded(double value, double step) noexcept {
  // Dividing by the inverse of the step (10, 100, 1000: exact) gives the closest double to the
  // decimal, where multiplying by 0.1 would not.
  const double per_unit = std::round(1 / step);
  return std::round(value * per_unit) / per_unit;
}

}  // namespace iot::simulation

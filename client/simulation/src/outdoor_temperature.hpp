#pragma once

#include "ornstein_uhlenbeck.hpp"
#include "random_source.hpp"
#include "solar_time.hpp"

namespace iot::simulation {

// The air temperature at one device's site, in °C, without sensor noise: the site's climate,
// the weather of the last days and the time of day. Shared by the temperature and the humidity
// sensors (relative humidity follows the air temperature).
class OutdoorTemperature {
 public:
  // Draws the site (longitude, climate, daily range) from `random`.
  explicit OutdoorTemperature(RandomSource& random);

  void start(RandomSource& random) noexcept { weather_.start(random); }
  void advance(double elapsed_seconds, RandomSource& random) noexcept {
    weather_.advance(elapsed_seconds, random);
  }

  // The temperature of the day without its daily cycle: climate plus weather.
  double daily_mean() const noexcept { return base_level_ + weather_.value(); }
  double at(TimePoint now) const noexcept;

 private:
  double longitude_degrees_;
  double base_level_;
  double daily_half_range_;
  OrnsteinUhlenbeck weather_;
};

}  // namespace iot::simulation

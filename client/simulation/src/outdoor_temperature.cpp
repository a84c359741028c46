#include "outdoor_temperature.hpp"

#include <cmath>
#include <numbers>

namespace iot::simulation {
namespace {

// Screen-level air is coldest around sunrise and warmest in mid-afternoon, the ground having
// stored the day's heat; these are the usual climatological hours at mid latitudes.
constexpr double kColdestHour = 5;
constexpr double kWarmestHour = 15;
// Annual mean temperatures from Scandinavia to the Mediterranean are ~5..20 °C; a little more
// on top covers indoor-ish or sheltered sites.
constexpr double kLowestBaseLevel = 5;
constexpr double kHighestBaseLevel = 25;
// The daily temperature range of mid-latitude land stations is typically 6..12 °C.
constexpr double kSmallestHalfRange = 3;
constexpr double kLargestHalfRange = 6;
// Day-to-day anomalies of mid-latitude weather: a standard deviation of ~3 °C, with weather
// systems passing over 2..3 days (the synoptic time scale).
constexpr double kWeatherDeviation = 3;
constexpr double kWeatherRelaxationSeconds = 2 * 86'400;

// -1 at the coldest hour, +1 at the warmest, half-cosines in between: the air warms for 10 hours
// and cools for 14, the asymmetry of a real daily curve.
double daily_cycle(double hour) noexcept {
  const double warming_hours = kWarmestHour - kColdestHour;
  const double since_coldest = std::fmod(hour - kColdestHour + 24, 24.0);
  if (since_coldest <= warming_hours) {
    return -std::cos(std::numbers::pi * since_coldest / warming_hours);
  }
  return std::cos(std::numbers::pi * (since_coldest - warming_hours) / (24 - warming_hours));
}

}  // namespace

OutdoorTemperature::OutdoorTemperature(RandomSource& random)
    : longitude_degrees_(
          random.uniform(-kDeviceLongitudeSpreadDegrees, kDeviceLongitudeSpreadDegrees)),
      base_level_(random.uniform(kLowestBaseLevel, kHighestBaseLevel)),
      daily_half_range_(random.uniform(kSmallestHalfRange, kLargestHalfRange)),
      weather_(0, kWeatherDeviation, kWeatherRelaxationSeconds) {}

double OutdoorTemperature::at(TimePoint now) const noexcept {
  return daily_mean() + daily_half_range_ * daily_cycle(local_solar_hour(now, longitude_degrees_));
}

}  // namespace iot::simulation

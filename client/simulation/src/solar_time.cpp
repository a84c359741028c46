#include "solar_time.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace iot::simulation {
namespace {

constexpr double kSecondsPerDay = 86'400;
constexpr double kDegreesToRadians = std::numbers::pi / 180;
// Mean tropical year; with the epoch's day count it places the seasons within a day or two for
// centuries, plenty for a simulation.
constexpr double kDaysPerYear = 365.2422;
constexpr double kAxialTiltDegrees = 23.44;

double declination_radians(TimePoint utc) noexcept {
  const double days = epoch_seconds(utc) / kSecondsPerDay;
  // 1970-01-01 is day 0 of its year; the winter solstice falls ~10 days before 1 January.
  double day_of_year = std::fmod(days, kDaysPerYear);
  if (day_of_year < 0) day_of_year += kDaysPerYear;
  return -kAxialTiltDegrees * kDegreesToRadians *
         std::cos(2 * std::numbers::pi * (day_of_year + 10) / kDaysPerYear);
}

double hour_angle_radians(TimePoint utc, double longitude_degrees) noexcept {
  return (local_solar_hour(utc, longitude_degrees) - 12) * 15 * kDegreesToRadians;
}

}  // namespace

double epoch_seconds(TimePoint time) noexcept {
  return std::chrono::duration<double>(time.time_since_epoch()).count();
}

double local_solar_hour(TimePoint utc, double longitude_degrees) noexcept {
  return local_solar_hour(epoch_seconds(utc), longitude_degrees);
}

double local_solar_hour(double seconds, double longitude_degrees) noexcept {
  const double seconds_of_day = seconds - std::floor(seconds / kSecondsPerDay) * kSecondsPerDay;
  double hour = seconds_of_day / 3600 + longitude_degrees / 15;
  hour = std::fmod(hour, 24.0);
  if (hour < 0) hour += 24;
  // fmod of a value a hair below 24 can round up to 24 itself once shifted.
  return hour >= 24 ? 0 : hour;
}

double hours_apart_on_clock(double hour, double other_hour) noexcept {
  const double apart = std::fmod(std::fabs(hour - other_hour), 24.0);
  return std::min(apart, 24 - apart);
}

double sun_elevation_sine(TimePoint utc, double longitude_degrees,
                          double latitude_degrees) noexcept {
  const double latitude = latitude_degrees * kDegreesToRadians;
  const double declination = declination_radians(utc);
  return std::sin(latitude) * std::sin(declination) +
         std::cos(latitude) * std::cos(declination) *
             std::cos(hour_angle_radians(utc, longitude_degrees));
}

double sun_incidence_cosine_on_latitude_tilt(TimePoint utc, double longitude_degrees) noexcept {
  return std::cos(declination_radians(utc)) * std::cos(hour_angle_radians(utc, longitude_degrees));
}

}  // namespace iot::simulation

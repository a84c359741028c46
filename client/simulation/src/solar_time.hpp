#pragma once

#include <chrono>

namespace iot::simulation {

using TimePoint = std::chrono::system_clock::time_point;

// Every device is placed at a longitude within this many degrees of Greenwich: a fleet in one
// region (think Western and Central Europe) whose devices are at most an hour off UTC solar
// time. Spread round the globe, the fleet's daily cycles would average out on a dashboard.
inline constexpr double kDeviceLongitudeSpreadDegrees = 15;

// Seconds since the Unix epoch, with a fraction: good to a few microseconds for centuries.
double epoch_seconds(TimePoint time) noexcept;

// Local mean solar time at a longitude (degrees, east positive), in hours [0, 24): UTC plus four
// minutes per degree. The equation of time (up to ±16 minutes) is left out: the devices' daily
// cycles only need to be in the right hour.
double local_solar_hour(TimePoint utc, double longitude_degrees) noexcept;
// The same, from epoch_seconds(utc): for models that keep their own event times.
double local_solar_hour(double utc_epoch_seconds, double longitude_degrees) noexcept;

// Distance in hours between two times of day, going round midnight: 23:00 and 01:00 are 2 apart.
double hours_apart_on_clock(double hour, double other_hour) noexcept;

// Sine of the sun's elevation above the horizon (negative at night), from the textbook
// approximation sin(e) = sin(lat) sin(decl) + cos(lat) cos(decl) cos(hour angle), with the
// declination -23.44° cos(360° (day of year + 10) / 365). Sunrise and sunset come out within
// about a quarter of an hour (no equation of time, no refraction), seasons included.
double sun_elevation_sine(TimePoint utc, double longitude_degrees,
                          double latitude_degrees) noexcept;

// Cosine of the angle between the sun and the normal of a panel facing the equator, tilted by
// the site's latitude (the usual fixed mounting): cos(decl) cos(hour angle). Negative when the
// sun is behind the panel.
double sun_incidence_cosine_on_latitude_tilt(TimePoint utc, double longitude_degrees) noexcept;

}  // namespace iot::simulation

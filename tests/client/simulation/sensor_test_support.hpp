#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "simulation/sensor_models.hpp"

namespace iot::simulation::test_support {

using TimePoint = std::chrono::system_clock::time_point;
using namespace std::chrono_literals;

// Midnight UTC, 1 January 2024: a fixed start keeps every test independent of today's date.
inline constexpr TimePoint kNewYear2024 = std::chrono::sys_days{std::chrono::year{2024} / 1 / 1};

// The value of the reading of `type`; fails the test (and throws) when there is none.
inline const Reading& reading_of(const std::vector<Reading>& readings, std::string_view type) {
  for (const auto& reading : readings) {
    if (reading.type == type) return reading;
  }
  ADD_FAILURE() << "no reading of type " << type;
  throw std::runtime_error("no reading of type " + std::string(type));
}

inline double number_of(const std::vector<Reading>& readings, std::string_view type) {
  const auto& value = reading_of(readings, type).value;
  if (const auto* number = std::get_if<double>(&value)) return *number;
  ADD_FAILURE() << type << " is not a number";
  throw std::runtime_error(std::string(type) + " is not a number");
}

// Readings compared field by field: Reading has no operator==, the public API needs none.
inline bool same_readings(const std::vector<Reading>& a, const std::vector<Reading>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].type != b[i].type || a[i].value != b[i].value || a[i].unit != b[i].unit) return false;
  }
  return true;
}

// Devices sit within an hour of UTC solar time (the header's ±15° of longitude), so a test of
// local times reads the fleet at UTC hours and leaves an hour of slack either side.
constexpr int kLongitudeSlackHours = 1;

}  // namespace iot::simulation::test_support

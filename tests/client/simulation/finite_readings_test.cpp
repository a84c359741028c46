#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "sensor_test_support.hpp"

namespace iot::simulation {
namespace {

using namespace test_support;

void expect_finite(const std::vector<Reading>& readings, Profile profile, std::uint64_t seed) {
  ASSERT_FALSE(readings.empty());
  for (const auto& reading : readings) {
    if (const auto* number = std::get_if<double>(&reading.value)) {
      ASSERT_TRUE(std::isfinite(*number))
          << profile_name(profile) << " seed " << seed << " " << reading.type;
    }
  }
}

TEST(SimulationFiniteReadingsTest, AYearOfHourlyReadsHasNoNanOrInfinity) {
  std::vector<Reading> readings;
  for (const Profile profile : all_profiles()) {
    for (std::uint64_t seed = 0; seed < 10; ++seed) {
      const auto sensor = make_sensor(profile, seed);
      for (int hour = 0; hour < 366 * 24; ++hour) {
        sensor->read(kNewYear2024 + std::chrono::hours(hour), readings);
        expect_finite(readings, profile, seed);
      }
    }
  }
}

TEST(SimulationFiniteReadingsTest, ExtremeSeedsTimesAndGaps) {
  std::vector<Reading> readings;
  const TimePoint epoch{};
  for (const Profile profile : all_profiles()) {
    for (const std::uint64_t seed : {std::uint64_t{0}, ~std::uint64_t{0}}) {
      const auto sensor = make_sensor(profile, seed);
      // Before the epoch, at it, a century's silence, and the nanosecond after.
      for (const TimePoint t :
           {epoch - std::chrono::years(30), epoch, epoch + 1ns, epoch + std::chrono::years(100),
            epoch + std::chrono::years(100) + 1ns, epoch + std::chrono::years(200)}) {
        sensor->read(t, readings);
        expect_finite(readings, profile, seed);
      }
    }
  }
}

}  // namespace
}  // namespace iot::simulation

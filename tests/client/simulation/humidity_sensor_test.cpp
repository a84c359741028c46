#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "sensor_test_support.hpp"

namespace iot::simulation {
namespace {

using namespace test_support;

TEST(SimulationHumiditySensorTest, AlwaysAPercentageInTenths) {
  std::vector<Reading> readings;
  int saturated = 0, total = 0;
  double lowest = 100, highest = 0;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    const auto sensor = make_sensor(Profile::humidity, seed);
    for (int hour = 0; hour < 365 * 24; ++hour) {
      sensor->read(kNewYear2024 + std::chrono::hours(hour), readings);
      const double percent = number_of(readings, "humidity");
      ASSERT_GE(percent, 0);
      ASSERT_LE(percent, 100);
      ASSERT_NEAR(percent * 10, std::round(percent * 10), 1e-6) << percent;
      lowest = std::min(lowest, percent);
      highest = std::max(highest, percent);
      if (percent >= 99.5) ++saturated;
      ++total;
    }
  }
  EXPECT_LT(lowest, 40) << "dry afternoons happen";
  EXPECT_GT(highest, 90) << "damp dawns happen";
  EXPECT_LT(saturated, total / 5) << "fog is not the usual weather";
}

TEST(SimulationHumiditySensorTest, RelativeHumidityFallsAsTheDayWarms) {
  std::vector<Reading> readings;
  double dawn = 0, afternoon = 0;
  int days = 0;
  for (std::uint64_t seed = 1; seed <= 50; ++seed) {
    const auto sensor = make_sensor(Profile::humidity, seed);
    for (int day = 0; day < 30; ++day) {
      sensor->read(kNewYear2024 + std::chrono::days(day) + 5h, readings);
      dawn += number_of(readings, "humidity");
      sensor->read(kNewYear2024 + std::chrono::days(day) + 15h, readings);
      afternoon += number_of(readings, "humidity");
      ++days;
    }
  }
  EXPECT_LT(afternoon / days + 10, dawn / days)
      << "afternoon " << afternoon / days << " % dawn " << dawn / days << " %";
}

}  // namespace
}  // namespace iot::simulation

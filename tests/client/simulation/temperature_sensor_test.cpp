#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include "sensor_test_support.hpp"

namespace iot::simulation {
namespace {

using namespace test_support;

constexpr int kDevices = 50;
constexpr int kDays = 30;

// The fleet's mean temperature at each UTC hour, over kDays days read hourly.
std::array<double, 24> fleet_mean_by_hour() {
  std::array<double, 24> sum{};
  std::vector<Reading> readings;
  for (std::uint64_t seed = 1; seed <= kDevices; ++seed) {
    const auto sensor = make_sensor(Profile::temperature, seed);
    for (int hour = 0; hour < kDays * 24; ++hour) {
      sensor->read(kNewYear2024 + std::chrono::hours(hour), readings);
      sum[hour % 24] += number_of(readings, "temperature");
    }
  }
  for (double& total : sum) total /= kDevices * kDays;
  return sum;
}

TEST(SimulationTemperatureSensorTest, AfternoonIsWarmerThanDawn) {
  const auto mean = fleet_mean_by_hour();
  // Every device's daily range is 6..12 °C: the fleet's 15:00 is several degrees above its 05:00
  // whatever the weather did that month.
  EXPECT_GT(mean[15], mean[5] + 4) << "15:00 " << mean[15] << " 05:00 " << mean[5];
  const auto coldest = std::min_element(mean.begin(), mean.end()) - mean.begin();
  const auto warmest = std::max_element(mean.begin(), mean.end()) - mean.begin();
  EXPECT_GE(coldest, 5 - kLongitudeSlackHours);
  EXPECT_LE(coldest, 5 + kLongitudeSlackHours);
  EXPECT_GE(warmest, 15 - kLongitudeSlackHours);
  EXPECT_LE(warmest, 15 + kLongitudeSlackHours);
}

TEST(SimulationTemperatureSensorTest, ReadingsAreTenthsOfPlausibleOutdoorTemperatures) {
  std::vector<Reading> readings;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    const auto sensor = make_sensor(Profile::temperature, seed);
    for (int hour = 0; hour < 365 * 24; hour += 3) {
      sensor->read(kNewYear2024 + std::chrono::hours(hour), readings);
      const double celsius = number_of(readings, "temperature");
      ASSERT_GT(celsius, -40);
      ASSERT_LT(celsius, 60);
      ASSERT_NEAR(celsius * 10, std::round(celsius * 10), 1e-6) << celsius;
    }
  }
}

TEST(SimulationTemperatureSensorTest, WeatherChangesFromDayToDayButNotFromMinuteToMinute) {
  std::vector<Reading> readings;
  const auto sensor = make_sensor(Profile::temperature, 11);
  double previous = 0;
  double largest_minute_step = 0;
  std::vector<double> noon;
  for (int minute = 0; minute < 60 * 24 * 60; ++minute) {
    sensor->read(kNewYear2024 + std::chrono::minutes(minute), readings);
    const double celsius = number_of(readings, "temperature");
    if (minute > 0)
      largest_minute_step = std::max(largest_minute_step, std::fabs(celsius - previous));
    if (minute % (24 * 60) == 12 * 60) noon.push_back(celsius);
    previous = celsius;
  }
  EXPECT_LT(largest_minute_step, 1.5) << "a sensor does not jump by degrees within a minute";
  const auto [low, high] = std::minmax_element(noon.begin(), noon.end());
  EXPECT_GT(*high - *low, 3) << "60 days of weather move the noon temperature by degrees";
}

}  // namespace
}  // namespace iot::simulation

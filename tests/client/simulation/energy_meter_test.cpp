#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <vector>

#include "sensor_test_support.hpp"

namespace iot::simulation {
namespace {

using namespace test_support;

// A reported register is rounded to 1 Wh: the difference of two is within 1 Wh of the truth.
constexpr double kRegisterRoundingKilowattHours = 0.001 + 1e-6;

// Reads the meter at the given times and checks, at every read, that the register never went
// down and that it moved by exactly the trapezoid of the reported powers.
void expect_register_integrates_power(std::uint64_t seed, const std::vector<TimePoint>& times) {
  const auto meter = make_sensor(Profile::energy_meter, seed);
  std::vector<Reading> readings;
  meter->read(times.at(0), readings);
  const double first_energy = number_of(readings, "energy");
  double previous_energy = first_energy;
  double previous_power = number_of(readings, "power");
  double integral_kwh = 0;
  for (std::size_t i = 1; i < times.size(); ++i) {
    meter->read(times[i], readings);
    const double energy = number_of(readings, "energy");
    const double power = number_of(readings, "power");
    ASSERT_GE(power, 0) << "seed " << seed << " read " << i;
    ASSERT_GE(energy, previous_energy) << "seed " << seed << " read " << i;
    const double hours =
        std::max(0.0, std::chrono::duration<double>(times[i] - times[i - 1]).count() / 3600);
    integral_kwh += (previous_power + power) / 2 * hours / 1000;
    ASSERT_NEAR(energy - first_energy, integral_kwh, kRegisterRoundingKilowattHours)
        << "seed " << seed << " read " << i;
    previous_energy = energy;
    previous_power = power;
  }
}

TEST(SimulationEnergyMeterTest, RegisterNeverDecreasesAndIntegratesPowerOverAWeek) {
  std::vector<TimePoint> times;
  for (int minute = 0; minute <= 7 * 24 * 60; ++minute) {
    times.push_back(kNewYear2024 + std::chrono::minutes(minute));
  }
  for (std::uint64_t seed = 1; seed <= 10; ++seed) expect_register_integrates_power(seed, times);
}

TEST(SimulationEnergyMeterTest, IrregularReadsRepeatedTimesAndAClockSteppingBack) {
  std::vector<TimePoint> times;
  TimePoint t = kNewYear2024 + 1234ms;
  for (int i = 0; i < 3000; ++i) {
    times.push_back(t);
    if (i % 50 == 7) times.push_back(t);          // the same instant twice
    if (i % 300 == 11) times.push_back(t - 90s);  // NTP stepped the clock back
    t += std::chrono::milliseconds(1 + (i * 104'729) % 900'000);
  }
  for (std::uint64_t seed = 1; seed <= 5; ++seed) expect_register_integrates_power(seed, times);
}

TEST(SimulationEnergyMeterTest, PowerFollowsAHouseholdsDay) {
  std::array<double, 24> watts_by_hour{};
  std::vector<Reading> readings;
  double daily_kwh_low = 1e9, daily_kwh_high = 0;
  constexpr int kDays = 14;
  for (std::uint64_t seed = 1; seed <= 50; ++seed) {
    const auto meter = make_sensor(Profile::energy_meter, seed);
    meter->read(kNewYear2024, readings);
    const double start = number_of(readings, "energy");
    for (int minute = 1; minute <= kDays * 24 * 60; ++minute) {
      meter->read(kNewYear2024 + std::chrono::minutes(minute), readings);
      watts_by_hour[minute / 60 % 24] += number_of(readings, "power");
    }
    const double per_day = (number_of(readings, "energy") - start) / kDays;
    daily_kwh_low = std::min(daily_kwh_low, per_day);
    daily_kwh_high = std::max(daily_kwh_high, per_day);
  }
  EXPECT_GT(watts_by_hour[19], 2.5 * watts_by_hour[3]) << "evening peak";
  EXPECT_GT(watts_by_hour[7], 1.5 * watts_by_hour[3]) << "morning peak";
  EXPECT_GT(watts_by_hour[19], watts_by_hour[7]) << "the evening peak is the larger";
  // Households use ~2500..4000 kWh a year; small flats and large homes stretch that both ways.
  EXPECT_GT(daily_kwh_low, 2);
  EXPECT_LT(daily_kwh_high, 30);
}

}  // namespace
}  // namespace iot::simulation

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "sensor_test_support.hpp"

namespace iot::simulation {
namespace {

using namespace test_support;

TEST(SimulationSolarPanelTest, DarkAtMidnightAndProducingAtNoonAllYear) {
  std::vector<Reading> readings;
  int producing_noons = 0, noons = 0;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    const auto panel = make_sensor(Profile::solar, seed);
    for (int day = 0; day < 366; ++day) {
      const TimePoint midnight = kNewYear2024 + std::chrono::days(day);
      panel->read(midnight, readings);
      ASSERT_EQ(number_of(readings, "current"), 0) << "seed " << seed << " day " << day;
      ASSERT_EQ(number_of(readings, "voltage"), 0) << "seed " << seed << " day " << day;
      panel->read(midnight + 12h, readings);
      ++noons;
      if (number_of(readings, "current") > 0) {
        ++producing_noons;
        EXPECT_GT(number_of(readings, "voltage"), 20);
        EXPECT_LT(number_of(readings, "voltage"), 34);
        EXPECT_LT(number_of(readings, "current"), 10);
      }
    }
  }
  EXPECT_GT(producing_noons, noons * 9 / 10);
}

// Fleet current summed per UTC hour of `days` days from `first_day`, read every 10 minutes.
std::vector<double> current_by_hour(int first_day, int days, double* hours_lit) {
  std::vector<double> amperes(24, 0);
  std::vector<Reading> readings;
  int lit_reads = 0;
  constexpr int kPanels = 20;
  for (std::uint64_t seed = 1; seed <= kPanels; ++seed) {
    const auto panel = make_sensor(Profile::solar, seed);
    for (int step = 0; step < days * 24 * 6; ++step) {
      panel->read(kNewYear2024 + std::chrono::days(first_day) + std::chrono::minutes(10 * step),
                  readings);
      const double current = number_of(readings, "current");
      amperes[step / 6 % 24] += current;
      if (current > 0) ++lit_reads;
    }
  }
  *hours_lit = lit_reads / 6.0 / kPanels / days;
  return amperes;
}

TEST(SimulationSolarPanelTest, ABellCurveOverTheDayLongerInSummer) {
  double june_hours = 0, december_hours = 0;
  const auto june = current_by_hour(152, 30, &june_hours);
  const auto december = current_by_hour(335, 30, &december_hours);
  EXPECT_GT(june[12], june[9]);
  EXPECT_GT(june[9], june[6]);
  EXPECT_GT(june[12], june[15]);
  EXPECT_GT(june[15], june[18]);
  EXPECT_EQ(june[0], 0);
  EXPECT_GT(june[12], 1.5 * december[12]) << "the winter sun is low";
  // 40..55° N: ~15..17 h of daylight in June, ~7.5..9.5 h in December.
  EXPECT_GT(june_hours, 14);
  EXPECT_LT(june_hours, 18);
  EXPECT_GT(december_hours, 6.5);
  EXPECT_LT(december_hours, 10);
}

TEST(SimulationSolarPanelTest, CloudsDipTheCurrent) {
  std::vector<Reading> readings;
  int dips = 0, noon_reads = 0;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    const auto panel = make_sensor(Profile::solar, seed);
    double previous = 0;
    for (int step = 0; step < 30 * 24 * 12; ++step) {  // June, every 5 minutes
      panel->read(kNewYear2024 + std::chrono::days(152) + std::chrono::minutes(5 * step), readings);
      const double current = number_of(readings, "current");
      const int hour = step / 12 % 24;
      if (hour >= 10 && hour < 14) {
        ++noon_reads;
        // Around noon the clear-sky current changes by a few percent in 5 minutes; a third
        // gone is a cloud.
        if (current < 0.67 * previous) ++dips;
      }
      previous = current;
    }
  }
  EXPECT_GT(dips, noon_reads / 200) << dips << " dips in " << noon_reads << " reads";
  EXPECT_LT(dips, noon_reads / 4) << dips << " dips in " << noon_reads << " reads";
}

}  // namespace
}  // namespace iot::simulation

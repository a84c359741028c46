#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "sensor_test_support.hpp"

namespace iot::simulation {
namespace {

using namespace test_support;

bool is_open(const std::vector<Reading>& readings) {
  const auto state = std::get<std::string_view>(reading_of(readings, "door").value);
  if (state != "open" && state != "closed") ADD_FAILURE() << "door state '" << state << "'";
  return state == "open";
}

TEST(SimulationDoorSensorTest, ChangesAreMoreFrequentByDayThanByNight) {
  std::array<int, 24> changes_by_hour{};
  std::vector<Reading> readings;
  for (std::uint64_t seed = 1; seed <= 100; ++seed) {
    const auto sensor = make_sensor(Profile::door, seed);
    sensor->read(kNewYear2024, readings);
    bool previous = is_open(readings);
    for (int minute = 1; minute < 7 * 24 * 60; ++minute) {
      sensor->read(kNewYear2024 + std::chrono::minutes(minute), readings);
      const bool open = is_open(readings);
      if (open != previous) ++changes_by_hour[minute / 60 % 24];
      previous = open;
    }
  }
  // 10:00..17:59 is day and 01:00..04:59 night for every device, even an hour off UTC.
  int day = 0, night = 0;
  for (int hour = 10; hour < 18; ++hour) day += changes_by_hour[hour];
  for (int hour = 1; hour < 5; ++hour) night += changes_by_hour[hour];
  const double day_per_hour = day / 8.0, night_per_hour = night / 4.0;
  EXPECT_GT(day_per_hour, 4 * night_per_hour) << "day " << day << " night " << night;
  EXPECT_GT(night, 0) << "someone still comes home late now and then";
}

TEST(SimulationDoorSensorTest, StatesLastAtLeastTwoSecondsAndTheDoorIsMostlyClosed) {
  std::vector<Reading> readings;
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    const auto sensor = make_sensor(Profile::door, seed);
    sensor->read(kNewYear2024, readings);
    bool previous = is_open(readings);
    int last_change = -1000, open_seconds = 0, changes = 0;
    constexpr int kSeconds = 24 * 3600;
    for (int second = 1; second < kSeconds; ++second) {
      sensor->read(kNewYear2024 + std::chrono::seconds(second), readings);
      const bool open = is_open(readings);
      if (open) ++open_seconds;
      if (open != previous) {
        ASSERT_GE(second - last_change, 2) << "seed " << seed << " flapped at " << second;
        last_change = second;
        ++changes;
      }
      previous = open;
    }
    EXPECT_GT(changes, 4) << "seed " << seed;
    EXPECT_LT(open_seconds, kSeconds / 4) << "seed " << seed;
  }
}

TEST(SimulationDoorSensorTest, TheDoorsHistoryDoesNotDependOnWhenItIsRead) {
  // One device read every second and its twin every 7 seconds: where the reads meet, the door
  // is in the same state.
  const auto every_second = make_sensor(Profile::door, 21);
  const auto every_seventh = make_sensor(Profile::door, 21);
  std::vector<Reading> a, b;
  int compared = 0;
  for (int second = 0; second < 2 * 24 * 3600; ++second) {
    const TimePoint t = kNewYear2024 + std::chrono::seconds(second);
    every_second->read(t, a);
    if (second % 7 == 0) {
      every_seventh->read(t, b);
      ASSERT_EQ(is_open(a), is_open(b)) << "at second " << second;
      ++compared;
    }
  }
  EXPECT_GT(compared, 20'000);
}

TEST(SimulationDoorSensorTest, ALongSilenceEndsInAnOrdinaryState) {
  const auto sensor = make_sensor(Profile::door, 5);
  std::vector<Reading> readings;
  sensor->read(kNewYear2024, readings);
  // Fifty years without a read: no replay of every opening, just a door in some state.
  sensor->read(kNewYear2024 + std::chrono::years(50), readings);
  is_open(readings);
  sensor->read(kNewYear2024 + std::chrono::years(50) + 1s, readings);
  is_open(readings);
}

}  // namespace
}  // namespace iot::simulation

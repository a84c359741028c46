#include <gtest/gtest.h>

#include <vector>

#include "sensor_test_support.hpp"

namespace iot::simulation {
namespace {

using namespace test_support;

// Irregular steps, as a real scheduler gives them, including two reads at the same instant.
std::vector<TimePoint> read_times() {
  std::vector<TimePoint> times;
  TimePoint t = kNewYear2024 + 123'456ms;
  for (int i = 0; i < 2000; ++i) {
    times.push_back(t);
    if (i % 97 != 0) t += std::chrono::milliseconds(60'000 + (i * 7919) % 600'000);
  }
  return times;
}

std::vector<std::vector<Reading>> series(Profile profile, std::uint64_t seed) {
  const auto sensor = make_sensor(profile, seed);
  std::vector<std::vector<Reading>> all;
  std::vector<Reading> readings;
  for (const TimePoint t : read_times()) {
    sensor->read(t, readings);
    all.push_back(readings);
  }
  return all;
}

bool same_series(const std::vector<std::vector<Reading>>& a,
                 const std::vector<std::vector<Reading>>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!same_readings(a[i], b[i])) return false;
  }
  return true;
}

TEST(SimulationDeterminismTest, SameSeedAndTimesGiveTheSameReadings) {
  for (const Profile profile : all_profiles()) {
    EXPECT_TRUE(same_series(series(profile, 42), series(profile, 42))) << profile_name(profile);
  }
}

TEST(SimulationDeterminismTest, NeighbouringSeedsGiveDifferentDevices) {
  for (const Profile profile : all_profiles()) {
    const auto first = series(profile, 1);
    EXPECT_FALSE(same_series(first, series(profile, 2))) << profile_name(profile);
    EXPECT_FALSE(same_series(first, series(profile, 0))) << profile_name(profile);
  }
}

TEST(SimulationDeterminismTest, FleetDevicesDifferAtTheSameMoment) {
  // Every device has its own base level, phase and noise: at one instant, a fleet of 20 shows
  // many different values (the door excepted: most doors are closed at any moment).
  for (const Profile profile :
       {Profile::temperature, Profile::humidity, Profile::energy_meter, Profile::solar}) {
    std::vector<std::vector<Reading>> fleet;
    std::vector<Reading> readings;
    for (std::uint64_t seed = 1; seed <= 20; ++seed) {
      make_sensor(profile, seed)->read(kNewYear2024 + 12h, readings);
      fleet.push_back(readings);
    }
    int distinct_pairs = 0;
    for (std::size_t i = 1; i < fleet.size(); ++i) {
      if (!same_readings(fleet[0], fleet[i])) ++distinct_pairs;
    }
    EXPECT_EQ(distinct_pairs, 19) << profile_name(profile);
  }
}

TEST(SimulationDeterminismTest, ReadingTwiceAtTheSameTimeRepeatsTheReadings) {
  for (const Profile profile : all_profiles()) {
    const auto sensor = make_sensor(profile, 7);
    std::vector<Reading> first, second;
    sensor->read(kNewYear2024 + 10h, first);
    sensor->read(kNewYear2024 + 10h, second);
    EXPECT_TRUE(same_readings(first, second)) << profile_name(profile);
    sensor->read(kNewYear2024 + 11h, first);
    sensor->read(kNewYear2024 + 11h, second);
    EXPECT_TRUE(same_readings(first, second)) << profile_name(profile);
  }
}

TEST(SimulationDeterminismTest, ReadReplacesWhatWasInTheOutputVector) {
  for (const Profile profile : all_profiles()) {
    const auto sensor = make_sensor(profile, 7);
    std::vector<Reading> readings(3, Reading{"stale", 1.0, "x"});
    sensor->read(kNewYear2024, readings);
    const std::size_t expected =
        profile == Profile::energy_meter || profile == Profile::solar ? 2 : 1;
    ASSERT_EQ(readings.size(), expected) << profile_name(profile);
    for (const auto& reading : readings) EXPECT_NE(reading.type, "stale");
  }
}

TEST(SimulationDeterminismTest, ReadingsOutliveTheirSensor) {
  std::vector<Reading> readings;
  make_sensor(Profile::door, 3)->read(kNewYear2024, readings);
  // The strings point to static storage; under ASan a dangling view would be caught here.
  EXPECT_EQ(readings.at(0).type, "door");
  EXPECT_TRUE(std::get<std::string_view>(readings.at(0).value) == "closed" ||
              std::get<std::string_view>(readings.at(0).value) == "open");
}

TEST(SimulationDeterminismTest, TypesAndUnitsAreTheDocumentedOnes) {
  const auto types_and_units = [](Profile profile) {
    std::vector<Reading> readings;
    make_sensor(profile, 5)->read(kNewYear2024 + 12h, readings);
    std::vector<std::pair<std::string_view, std::string_view>> result;
    result.reserve(readings.size());
    for (const auto& r : readings) result.emplace_back(r.type, r.unit);
    return result;
  };
  using Pairs = std::vector<std::pair<std::string_view, std::string_view>>;
  EXPECT_EQ(types_and_units(Profile::temperature), (Pairs{{"temperature", "C"}}));
  EXPECT_EQ(types_and_units(Profile::humidity), (Pairs{{"humidity", "%"}}));
  EXPECT_EQ(types_and_units(Profile::door), (Pairs{{"door", ""}}));
  EXPECT_EQ(types_and_units(Profile::energy_meter), (Pairs{{"energy", "kWh"}, {"power", "W"}}));
  EXPECT_EQ(types_and_units(Profile::solar), (Pairs{{"voltage", "V"}, {"current", "A"}}));
}

}  // namespace
}  // namespace iot::simulation

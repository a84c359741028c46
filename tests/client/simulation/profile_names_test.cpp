#include <gtest/gtest.h>

#include <set>
#include <string>

#include "simulation/sensor_models.hpp"

namespace iot::simulation {
namespace {

TEST(SimulationProfileNamesTest, EveryProfileRoundTripsThroughItsName) {
  ASSERT_EQ(all_profiles().size(), 5u);
  std::set<std::string_view> names;
  for (const Profile profile : all_profiles()) {
    const std::string_view name = profile_name(profile);
    names.insert(name);
    EXPECT_EQ(parse_profile(name), profile) << name;
  }
  EXPECT_EQ(names.size(), 5u) << "names are distinct";
}

TEST(SimulationProfileNamesTest, NamesAreTheOnesTheCommandLineUses) {
  EXPECT_EQ(parse_profile("temperature"), Profile::temperature);
  EXPECT_EQ(parse_profile("humidity"), Profile::humidity);
  EXPECT_EQ(parse_profile("door"), Profile::door);
  EXPECT_EQ(parse_profile("energy-meter"), Profile::energy_meter);
  EXPECT_EQ(parse_profile("solar"), Profile::solar);
}

TEST(SimulationProfileNamesTest, UnknownNamesAreRejected) {
  using namespace std::string_view_literals;
  for (const std::string_view name :
       {""sv, "Temperature"sv, "TEMPERATURE"sv, "energy_meter"sv, "energy"sv, "solar "sv, " door"sv,
        "doors"sv, "temp"sv, "humidity\n"sv, "door\0"sv}) {
    EXPECT_EQ(parse_profile(name), std::nullopt) << '"' << name << '"';
  }
}

TEST(SimulationProfileNamesTest, EveryProfileMakesASensor) {
  for (const Profile profile : all_profiles()) {
    EXPECT_NE(make_sensor(profile, 1), nullptr) << profile_name(profile);
  }
}

}  // namespace
}  // namespace iot::simulation

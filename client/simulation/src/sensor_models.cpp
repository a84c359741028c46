#include "simulation/sensor_models.hpp"

#include <array>
#include <stdexcept>

#include "sensor_factories.hpp"

namespace iot::simulation {
namespace {

constexpr std::array kProfiles{Profile::temperature, Profile::humidity, Profile::door,
                               Profile::energy_meter, Profile::solar};

}  // namespace

std::optional<Profile> parse_profile(std::string_view name) {
  for (const Profile profile : kProfiles) {
    if (profile_name(profile) == name) return profile;
  }
  return std::nullopt;
}

std::string_view profile_name(Profile profile) {
  switch (profile) {
    case Profile::temperature:
      return "temperature";
    case Profile::humidity:
      return "humidity";
    case Profile::door:
      return "door";
    case Profile::energy_meter:
      return "energy-meter";
    case Profile::solar:
      return "solar";
  }
  return "unknown";
}

std::span<const Profile> all_profiles() {
  return kProfiles;
}

std::unique_ptr<SensorModel> make_sensor(Profile profile, std::uint64_t seed) {
  switch (profile) {
    case Profile::temperature:
      return make_temperature_sensor(seed);
    case Profile::humidity:
      return make_humidity_sensor(seed);
    case Profile::door:
      return make_door_sensor(seed);
    case Profile::energy_meter:
      return make_energy_meter(seed);
    case Profile::solar:
      return make_solar_panel(seed);
  }
  throw std::invalid_argument("make_sensor: not a Profile value");
}

}  // namespace iot::simulation

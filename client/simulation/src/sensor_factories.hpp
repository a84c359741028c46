#pragma once

#include <cstdint>
#include <memory>

#include "simulation/sensor_models.hpp"

// One factory per profile, each defined next to its model; make_sensor picks among them.
namespace iot::simulation {

// The RandomSource stream of a profile: a temperature sensor and a door with the same seed draw
// different numbers.
constexpr std::uint64_t random_stream(Profile profile) noexcept {
  return static_cast<std::uint64_t>(profile) + 1;
}

std::unique_ptr<SensorModel> make_temperature_sensor(std::uint64_t seed);
std::unique_ptr<SensorModel> make_humidity_sensor(std::uint64_t seed);
std::unique_ptr<SensorModel> make_door_sensor(std::uint64_t seed);
std::unique_ptr<SensorModel> make_energy_meter(std::uint64_t seed);
std::unique_ptr<SensorModel> make_solar_panel(std::uint64_t seed);

}  // namespace iot::simulation

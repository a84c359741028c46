#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <variant>
#include <vector>

namespace iot::simulation {

// The kinds of device `iotc simulate --profile` can play.
enum class Profile { temperature, humidity, door, energy_meter, solar };

// "temperature", "humidity", "door", "energy-meter", "solar" (exact, lower case); nullopt
// otherwise.
std::optional<Profile> parse_profile(std::string_view name);
// The name parse_profile accepts for the profile.
std::string_view profile_name(Profile profile);
// Every profile, in declaration order.
std::span<const Profile> all_profiles();

// One value a device reports. The strings point to static storage: a Reading stays valid after
// its model is gone.
struct Reading {
  std::string_view type;  // payload.type: "temperature", "humidity", "door", "energy", "power",
                          // "voltage", "current"
  std::variant<double, bool, std::string_view> value;
  std::string_view unit;  // "C", "%", "kWh", "W", "V", "A"; "" for the door
};

// One device's sensor. What each profile reports:
//   temperature   "temperature" °C, one decimal
//   humidity      "humidity" % relative humidity in [0, 100], one decimal
//   door          "door" "open" or "closed" (a string, unit "")
//   energy-meter  "energy" kWh, 3 decimals, a register that never decreases; then "power" W,
//                 one decimal, never negative. Energy grows by the trapezoid of the reported
//                 powers: (previous power + this power) / 2 * elapsed time.
//   solar         "voltage" V and "current" A, two decimals, of one ~300 W panel at its maximum
//                 power point: both exactly 0 while the sun is below the horizon.
//
// Each device sits at its own longitude within 15° of Greenwich, so its local solar time is
// within an hour of UTC (the solar panel also has a latitude, 40..55° N). Daily cycles follow
// local solar time: the fleet shares one region's day, each device slightly shifted.
//
// Deterministic: the same seed and the same sequence of read times give the same readings. The
// random draws are our own, not std:: distributions (which differ between standard libraries),
// so a seed replays the same fleet with any compiler; only last-bit differences of another math
// library could move a rounded value. Devices of a fleet should get distinct seeds; neighbouring
// seeds (1, 2, 3...) give unrelated devices.
class SensorModel {
 public:
  virtual ~SensorModel() = default;
  // Advances the model to `now` and replaces the contents of `out` with the readings at that
  // time. Reading twice at the same time gives the same readings. Times should not go backwards;
  // as the wall clock can step back (NTP), an earlier time is taken as no time passing: the
  // readings follow the time of day of `now`, counters do not move.
  virtual void read(std::chrono::system_clock::time_point now, std::vector<Reading>& out) = 0;
};

// A new device of the given profile; its base levels, phase and noise are drawn from `seed`.
// std::invalid_argument for a value outside the enumeration.
std::unique_ptr<SensorModel> make_sensor(Profile profile, std::uint64_t seed);

}  // namespace iot::simulation

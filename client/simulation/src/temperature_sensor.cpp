// Outdoor air temperature sensor: the site's temperature plus the noise of a cheap digital
// sensor, reported to 0.1 °C.
#include "outdoor_temperature.hpp"
#include "random_source.hpp"
#include "sensor_factories.hpp"
#include "stepped_sensor.hpp"

namespace iot::simulation {
namespace {

// The reading-to-reading noise of sensors like the DS18B20 or SHT3x is ~0.1 °C (their accuracy,
// ±0.2..0.5 °C, is an offset and hides in the site's base level).
constexpr double kSensorNoise = 0.1;

class TemperatureSensor final : public SteppedSensor {
 public:
  explicit TemperatureSensor(std::uint64_t seed)
      : random_(seed, random_stream(Profile::temperature)), air_(random_) {}

 private:
  void start(TimePoint) override { air_.start(random_); }
  void advance(TimePoint, double elapsed_seconds) override {
    air_.advance(elapsed_seconds, random_);
  }
  void report(TimePoint now, std::vector<Reading>& out) override {
    const double celsius = air_.at(now) + kSensorNoise * random_.normal();
    out.push_back({"temperature", rounded(celsius, 0.1), "C"});
  }

  RandomSource random_;
  OutdoorTemperature air_;
};

}  // namespace

std::unique_ptr<SensorModel> make_temperature_sensor(std::uint64_t seed) {
  return std::make_unique<TemperatureSensor>(seed);
}

}  // namespace iot::simulation

// Outdoor relative humidity sensor. The air's moisture (its dew point) changes slowly with the
// weather while the temperature goes up and down each day, so relative humidity is highest at
// dawn and lowest in the afternoon, as at any weather station.
#include <algorithm>
#include <cmath>

#include "ornstein_uhlenbeck.hpp"
#include "outdoor_temperature.hpp"
#include "random_source.hpp"
#include "sensor_factories.hpp"
#include "stepped_sensor.hpp"

namespace iot::simulation {
namespace {

// How far the dew point sits below the day's mean temperature: ~5 °C in a damp climate,
// ~12 °C in a dry one, wandering by a few degrees as air masses pass (a few days).
constexpr double kSmallestDewPointDepression = 5;
constexpr double kLargestDewPointDepression = 12;
constexpr double kDepressionDeviation = 2.5;
constexpr double kDepressionRelaxationSeconds = 3 * 86'400;
// Reading-to-reading noise of capacitive sensors (SHT3x: 0.1..0.2 %RH repeatability, with a few
// tenths more from the air itself).
constexpr double kSensorNoise = 0.5;
// The Magnus formula is fitted for -45..60 °C; keeping both temperatures inside also keeps it
// away from its pole at -243 °C.
constexpr double kMagnusLowest = -45;
constexpr double kMagnusHighest = 60;

// ln of the saturation vapour pressure over water, up to a constant: the Magnus formula with
// the WMO (2008) coefficients, 17.62 and 243.12 °C.
double log_saturation_pressure(double celsius) noexcept {
  const double t = std::clamp(celsius, kMagnusLowest, kMagnusHighest);
  return 17.62 * t / (243.12 + t);
}

class HumiditySensor final : public SteppedSensor {
 public:
  explicit HumiditySensor(std::uint64_t seed)
      : random_(seed, random_stream(Profile::humidity)),
        air_(random_),
        dew_point_depression_(
            random_.uniform(kSmallestDewPointDepression, kLargestDewPointDepression),
            kDepressionDeviation, kDepressionRelaxationSeconds) {}

 private:
  void start(TimePoint) override {
    air_.start(random_);
    dew_point_depression_.start(random_);
  }
  void advance(TimePoint, double elapsed_seconds) override {
    air_.advance(elapsed_seconds, random_);
    dew_point_depression_.advance(elapsed_seconds, random_);
  }
  void report(TimePoint now, std::vector<Reading>& out) override {
    const double dew_point = air_.daily_mean() - dew_point_depression_.value();
    // Relative humidity = vapour pressure / saturation vapour pressure; air colder than its dew
    // point is saturated (dew, fog), hence the cap at 100 before the noise.
    const double relative = std::min(100.0, 100 * std::exp(log_saturation_pressure(dew_point) -
                                                           log_saturation_pressure(air_.at(now))));
    const double percent = std::clamp(relative + kSensorNoise * random_.normal(), 0.0, 100.0);
    out.push_back({"humidity", rounded(percent, 0.1), "%"});
  }

  RandomSource random_;
  OutdoorTemperature air_;
  OrnsteinUhlenbeck dew_point_depression_;
};

}  // namespace

std::unique_ptr<SensorModel> make_humidity_sensor(std::uint64_t seed) {
  return std::make_unique<HumiditySensor>(seed);
}

}  // namespace iot::simulation

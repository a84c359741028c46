// One photovoltaic module on a fixed mount, monitored at its maximum power point (what a charge
// controller or micro-inverter holds it at). Current follows the light on the panel; voltage
// hardly does, falling only logarithmically as the light dims. Clouds come as a slow cover
// (hours) and passing clouds (minutes) that dip the light.
//
// Why the maximum power point and not the open-circuit voltage (~38 V): a panel delivering
// current is not open-circuit; with voltage at open circuit and current near short circuit,
// voltage x current would claim ~20 % more power than the panel can make.
#include <algorithm>
#include <cmath>

#include "ornstein_uhlenbeck.hpp"
#include "random_source.hpp"
#include "sensor_factories.hpp"
#include "solar_time.hpp"
#include "stepped_sensor.hpp"

namespace iot::simulation {
namespace {

// Mid latitudes: from northern Spain to southern Scandinavia. Below 66° the sun always sets,
// so midnight is dark all year.
constexpr double kSouthernmostLatitude = 40, kNorthernmostLatitude = 55;
// A 60-cell ~300 W module at standard test conditions (1000 W/m², 25 °C): Vmp ~31.5 V,
// Imp ~9 A (Voc ~38 V, Isc ~9.6 A), within manufacturing spread.
constexpr double kLowestStcVoltage = 30.5, kHighestStcVoltage = 32.5;
constexpr double kLowestStcCurrent = 8.5, kHighestStcCurrent = 9.3;
constexpr double kStcIrradiance = 1000;
// Voltage falls by n Ns kT/q per e-fold drop of light: 1.2 x 60 cells x 25.7 mV.
constexpr double kVoltagePerLogIrradiance = 1.85;
// Below this much light the controller cannot hold a working point: the panel reads 0 V, 0 A.
constexpr double kLeastWorkingIrradiance = 1;
// Dirt, shading, wiring and mounting losses: 0..15 %.
constexpr double kWorstSiteFactor = 0.85;
// Clear-sky direct light, Meinel & Meinel (1976): 1353 W/m² x 0.7^(AM^0.678), AM = 1/sin(e),
// capped where the formula leaves its range near the horizon; diffuse light adds ~10 %.
constexpr double kSolarConstant = 1353;
constexpr double kDiffuseFraction = 0.1;
constexpr double kHighestAirMass = 40;
// Cloud cover: a logistic of the sum of a slow walk (cover, 6 h memory; its mean is the site's
// climate) and a fast one (single clouds crossing the sun, 5 min memory). Thick cloud still lets
// ~20 % through as diffuse light.
constexpr double kSunniestClimate = -2.5, kCloudiestClimate = -0.5;
constexpr double kCoverDeviation = 1.5, kCoverRelaxationSeconds = 6 * 3600;
constexpr double kPassingDeviation = 1, kPassingRelaxationSeconds = 5 * 60;
constexpr double kCloudSharpness = 3;
constexpr double kThickCloudTransmission = 0.2;
// Measurement noise of a typical shunt/divider monitor.
constexpr double kVoltageNoise = 0.05, kCurrentNoise = 0.01;

class SolarPanel final : public SteppedSensor {
 public:
  explicit SolarPanel(std::uint64_t seed)
      : random_(seed, random_stream(Profile::solar)),
        longitude_degrees_(
            random_.uniform(-kDeviceLongitudeSpreadDegrees, kDeviceLongitudeSpreadDegrees)),
        latitude_degrees_(random_.uniform(kSouthernmostLatitude, kNorthernmostLatitude)),
        stc_voltage_(random_.uniform(kLowestStcVoltage, kHighestStcVoltage)),
        stc_current_(random_.uniform(kLowestStcCurrent, kHighestStcCurrent)),
        site_factor_(random_.uniform(kWorstSiteFactor, 1)),
        cloud_cover_(random_.uniform(kSunniestClimate, kCloudiestClimate), kCoverDeviation,
                     kCoverRelaxationSeconds),
        passing_clouds_(0, kPassingDeviation, kPassingRelaxationSeconds) {}

 private:
  void start(TimePoint) override {
    cloud_cover_.start(random_);
    passing_clouds_.start(random_);
  }

  void advance(TimePoint, double elapsed_seconds) override {
    cloud_cover_.advance(elapsed_seconds, random_);
    passing_clouds_.advance(elapsed_seconds, random_);
  }

  void report(TimePoint now, std::vector<Reading>& out) override {
    const double irradiance = clear_sky_irradiance(now) * cloud_transmission() * site_factor_;
    double volts = 0;
    double amperes = 0;
    if (irradiance >= kLeastWorkingIrradiance) {
      volts = stc_voltage_ + kVoltagePerLogIrradiance * std::log(irradiance / kStcIrradiance) +
              kVoltageNoise * random_.normal();
      amperes = stc_current_ * irradiance / kStcIrradiance + kCurrentNoise * random_.normal();
    }
    out.push_back({"voltage", rounded(std::max(0.0, volts), 0.01), "V"});
    out.push_back({"current", rounded(std::max(0.0, amperes), 0.01), "A"});
  }

  // W/m² on the panel under a clear sky: 0 while the sun is below the horizon.
  double clear_sky_irradiance(TimePoint now) const noexcept {
    const double elevation_sine = sun_elevation_sine(now, longitude_degrees_, latitude_degrees_);
    if (elevation_sine <= 0) return 0;
    const double air_mass = std::min(1 / elevation_sine, kHighestAirMass);
    const double direct = kSolarConstant * std::pow(0.7, std::pow(air_mass, 0.678));
    const double incidence =
        std::max(0.0, sun_incidence_cosine_on_latitude_tilt(now, longitude_degrees_));
    return direct * (incidence + kDiffuseFraction);
  }

  double cloud_transmission() const noexcept {
    const double cloudiness =
        1 / (1 + std::exp(-kCloudSharpness * (cloud_cover_.value() + passing_clouds_.value())));
    return 1 - (1 - kThickCloudTransmission) * cloudiness;
  }

  RandomSource random_;
  double longitude_degrees_;
  double latitude_degrees_;
  double stc_voltage_;
  double stc_current_;
  double site_factor_;
  OrnsteinUhlenbeck cloud_cover_;
  OrnsteinUhlenbeck passing_clouds_;
};

}  // namespace

std::unique_ptr<SensorModel> make_solar_panel(std::uint64_t seed) {
  return std::make_unique<SolarPanel>(seed);
}

}  // namespace iot::simulation

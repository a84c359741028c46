// Household electricity meter. Power follows the daily load curve of a home (a base load of
// fridge and standby devices, a morning peak, a larger evening peak) times slowly wandering
// noise for appliances switching on and off; the energy register adds up the power it reports.
#include <algorithm>
#include <cmath>

#include "ornstein_uhlenbeck.hpp"
#include "random_source.hpp"
#include "sensor_factories.hpp"
#include "stepped_sensor.hpp"

namespace iot::simulation {
namespace {

// A European household uses ~2500..4000 kWh a year (~300..450 W on average). The curve below
// gives ~9.5 kWh a day at scale 1; devices range from a flat to a large family home.
constexpr double kSmallestScale = 0.6, kLargestScale = 1.6;
// Fridge, router and standby devices: 80..250 W around the clock.
constexpr double kLeastBaseLoadWatts = 80, kMostBaseLoadWatts = 250;
// Standard load profiles (e.g. BDEW H0) peak at breakfast and, higher and wider, at dinner.
constexpr double kEarliestMorningPeak = 6.5, kLatestMorningPeak = 8;
constexpr double kMorningPeakWatts = 600, kMorningPeakHours = 1;
constexpr double kEarliestEveningPeak = 18, kLatestEveningPeak = 20;
constexpr double kEveningPeakWatts = 1200, kEveningPeakHours = 1.5;
// Appliances (kettle, oven, washing machine) multiply the load by a log-normal factor whose
// logarithm wanders with a 15-minute memory: bursts and lulls, never below zero.
constexpr double kLoadNoiseDeviation = 0.35;
constexpr double kLoadNoiseRelaxationSeconds = 15 * 60;
// A meter installed some years ago: its register starts anywhere up to 20 000 kWh.
constexpr double kHighestInitialKilowattHours = 20'000;

double bump(double hour, double peak_hour, double width_hours) noexcept {
  const double apart = hours_apart_on_clock(hour, peak_hour);
  return std::exp(-apart * apart / (2 * width_hours * width_hours));
}

class EnergyMeter final : public SteppedSensor {
 public:
  explicit EnergyMeter(std::uint64_t seed)
      : random_(seed, random_stream(Profile::energy_meter)),
        longitude_degrees_(
            random_.uniform(-kDeviceLongitudeSpreadDegrees, kDeviceLongitudeSpreadDegrees)),
        scale_(random_.uniform(kSmallestScale, kLargestScale)),
        base_load_watts_(random_.uniform(kLeastBaseLoadWatts, kMostBaseLoadWatts)),
        morning_peak_hour_(random_.uniform(kEarliestMorningPeak, kLatestMorningPeak)),
        evening_peak_hour_(random_.uniform(kEarliestEveningPeak, kLatestEveningPeak)),
        load_noise_(0, kLoadNoiseDeviation, kLoadNoiseRelaxationSeconds),
        register_watt_hours_(random_.uniform(0, kHighestInitialKilowattHours) * 1000) {}

 private:
  void start(TimePoint now) override {
    load_noise_.start(random_);
    power_watts_ = power_at(now);
  }

  void advance(TimePoint now, double elapsed_seconds) override {
    load_noise_.advance(elapsed_seconds, random_);
    const double previous_watts = power_watts_;
    power_watts_ = power_at(now);
    // Trapezoid of the two reported powers: whoever stores the readings can recompute the
    // register from them. Both are >= 0, so the register never decreases.
    register_watt_hours_ += (previous_watts + power_watts_) / 2 * elapsed_seconds / 3600;
  }

  void report(TimePoint, std::vector<Reading>& out) override {
    out.push_back({"energy", rounded(register_watt_hours_ / 1000, 0.001), "kWh"});
    out.push_back({"power", power_watts_, "W"});
  }

  // Rounded to the 0.1 W the meter reports, so the register integrates exactly what is reported.
  double power_at(TimePoint now) const noexcept {
    const double hour = local_solar_hour(now, longitude_degrees_);
    const double curve = base_load_watts_ +
                         kMorningPeakWatts * bump(hour, morning_peak_hour_, kMorningPeakHours) +
                         kEveningPeakWatts * bump(hour, evening_peak_hour_, kEveningPeakHours);
    // exp(x - s^2/2) has mean 1 for x ~ N(0, s^2): the noise leaves the daily energy unchanged.
    const double noise =
        std::exp(load_noise_.value() - kLoadNoiseDeviation * kLoadNoiseDeviation / 2);
    return std::max(0.0, rounded(scale_ * curve * noise, 0.1));
  }

  RandomSource random_;
  double longitude_degrees_;
  double scale_;
  double base_load_watts_;
  double morning_peak_hour_;
  double evening_peak_hour_;
  OrnsteinUhlenbeck load_noise_;
  double register_watt_hours_;
  double power_watts_ = 0;
};

}  // namespace

std::unique_ptr<SensorModel> make_energy_meter(std::uint64_t seed) {
  return std::make_unique<EnergyMeter>(seed);
}

}  // namespace iot::simulation

#pragma once

#include <optional>
#include <vector>

#include "simulation/sensor_models.hpp"
#include "solar_time.hpp"

namespace iot::simulation {

// The read-time contract every model shares, so each model only says how it starts, how it
// moves on and what it reports:
// - the first read starts the model at that time (a device switched on mid-run);
// - a read at the previous read's time repeats the previous readings, without drawing anything;
// - a read at an earlier time (the wall clock stepped back) moves the model on by zero seconds.
class SteppedSensor : public SensorModel {
 public:
  void read(TimePoint now, std::vector<Reading>& out) final;

 protected:
  virtual void start(TimePoint now) = 0;
  // elapsed_seconds >= 0: since the previous read, 0 if the clock stepped back.
  virtual void advance(TimePoint now, double elapsed_seconds) = 0;
  // Appends the readings at `now`, after start() or advance() for that time.
  virtual void report(TimePoint now, std::vector<Reading>& out) = 0;

 private:
  std::optional<TimePoint> previous_read_;
  std::vector<Reading> previous_readings_;
};

// `value` rounded to a multiple of `step` (0.1, 0.01, 0.001): the resolution a real device
// reports. Rounding is monotonic, so a counter that never decreases stays so once rounded.
double rounded(double value, double step) noexcept;

}  // namespace iot::simulation

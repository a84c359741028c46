// Door contact sensor. Openings arrive as a Poisson process whose rate follows the day (people
// come and go by day, rarely at night); each opening lasts a walk-through, now and then much
// longer (propped open). The door is simulated event by event in its own time, so its history
// does not depend on when it is read: a read only reports where the door is at that moment.
//
// The value is the string "open" or "closed" rather than a boolean: it reads unambiguously in
// stored events and dashboards (a bare true says nothing about which state it means), and it is
// what a person types with `iotc send door open`.
#include <cmath>

#include "random_source.hpp"
#include "sensor_factories.hpp"
#include "stepped_sensor.hpp"

namespace iot::simulation {
namespace {

// A home's front door opens some 10..20 times a day, a shop or office entrance far more often:
// between the two, 1..8 openings an hour by day, and 2..8 % of that at night.
constexpr double kFewestDaytimeOpeningsPerHour = 1;
constexpr double kMostDaytimeOpeningsPerHour = 8;
constexpr double kLowestNightFraction = 0.02;
constexpr double kHighestNightFraction = 0.08;
// Local hours the building wakes up and goes to sleep, per device; the rate changes over ~half
// an hour around each.
constexpr double kEarliestWaking = 6, kLatestWaking = 8;
constexpr double kEarliestSleep = 21, kLatestSleep = 23;
constexpr double kTransitionHours = 0.3;
// Walking through takes a few seconds plus however long the door is held; 1 opening in 20 is
// left open for minutes (deliveries, airing).
constexpr double kShortestOpenSeconds = 2;
constexpr double kLeastMeanHoldSeconds = 5, kMostMeanHoldSeconds = 15;
constexpr double kProppedOpenProbability = 0.05;
constexpr double kMeanProppedOpenSeconds = 300;
// A door closer needs a moment to latch before the door can swing open again: no two changes
// of state come closer than this.
constexpr double kShortestClosedSeconds = 2;
// After a gap longer than this between reads, the door's past no longer matters: instead of
// replaying every opening of a long gap, the door starts afresh, closed, a day before the read.
constexpr double kLongestReplaySeconds = 2 * 86'400;
constexpr double kFreshStartSeconds = 86'400;

double logistic(double x) noexcept {
  return 1 / (1 + std::exp(-x));
}

class DoorSensor final : public SteppedSensor {
 public:
  explicit DoorSensor(std::uint64_t seed)
      : random_(seed, random_stream(Profile::door)),
        longitude_degrees_(
            random_.uniform(-kDeviceLongitudeSpreadDegrees, kDeviceLongitudeSpreadDegrees)),
        daytime_openings_per_second_(
            random_.uniform(kFewestDaytimeOpeningsPerHour, kMostDaytimeOpeningsPerHour) / 3600),
        night_openings_per_second_(daytime_openings_per_second_ *
                                   random_.uniform(kLowestNightFraction, kHighestNightFraction)),
        waking_hour_(random_.uniform(kEarliestWaking, kLatestWaking)),
        sleep_hour_(random_.uniform(kEarliestSleep, kLatestSleep)),
        mean_hold_seconds_(random_.uniform(kLeastMeanHoldSeconds, kMostMeanHoldSeconds)) {}

 private:
  void start(TimePoint now) override { start_closed_at(epoch_seconds(now)); }

  void advance(TimePoint now, double) override {
    const double now_seconds = epoch_seconds(now);
    if (now_seconds - next_change_ > kLongestReplaySeconds) {
      start_closed_at(now_seconds - kFreshStartSeconds);
    }
    while (next_change_ <= now_seconds) {
      if (open_) {
        open_ = false;
        next_change_ = next_opening_after(next_change_ + kShortestClosedSeconds);
      } else {
        open_ = true;
        next_change_ += open_duration();
      }
    }
  }

  void report(TimePoint, std::vector<Reading>& out) override {
    out.push_back({"door", std::string_view(open_ ? "open" : "closed"), ""});
  }

  void start_closed_at(double seconds) noexcept {
    open_ = false;
    next_change_ = next_opening_after(seconds);
  }

  double openings_per_second(double epoch_second) const noexcept {
    const double local = local_solar_hour(epoch_second, longitude_degrees_);
    const double daytime = logistic((local - waking_hour_) / kTransitionHours) *
                           logistic((sleep_hour_ - local) / kTransitionHours);
    return night_openings_per_second_ +
           (daytime_openings_per_second_ - night_openings_per_second_) * daytime;
  }

  // The first opening after `seconds`, by thinning (Lewis & Shedler): candidates at the highest
  // rate, each kept with probability rate(t) / highest rate, gives exactly the time-varying rate.
  double next_opening_after(double seconds) noexcept {
    const double highest = daytime_openings_per_second_;
    for (;;) {
      seconds += random_.exponential(1 / highest);
      if (random_.uniform() * highest < openings_per_second(seconds)) return seconds;
    }
  }

  double open_duration() noexcept {
    if (random_.uniform() < kProppedOpenProbability) {
      return kShortestOpenSeconds + random_.exponential(kMeanProppedOpenSeconds);
    }
    return kShortestOpenSeconds + random_.exponential(mean_hold_seconds_);
  }

  RandomSource random_;
  double longitude_degrees_;
  double daytime_openings_per_second_;
  double night_openings_per_second_;
  double waking_hour_;
  double sleep_hour_;
  double mean_hold_seconds_;
  bool open_ = false;
  double next_change_ = 0;  // epoch seconds of the next opening or closing
};

}  // namespace

std::unique_ptr<SensorModel> make_door_sensor(std::uint64_t seed) {
  return std::make_unique<DoorSensor>(seed);
}

}  // namespace iot::simulation

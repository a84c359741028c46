// HdrHistogram's percentile iteration and its .hgrm text output, kept apart from the recording
// code: this half runs once per report, never on the measurement path.
#include <algorithm>
#include <cmath>
#include <ostream>
#include <stdexcept>
#include <string>

#include "loadgen/hdr_histogram.hpp"
#include "text_format.hpp"

namespace iot::loadgen {
namespace {

// The level after `level`: the distance to 100 % is halved again and again, and each half gets
// the same number of ticks, so the steps shrink as the tail gets interesting (0, 10, ..., 50, 55,
// ..., 75, 77.5, ...). Computed the way the reference does (log ratio, truncated), so the rows
// match its output.
double next_level(double level, int ticks_per_half_distance) {
  const double halvings = std::log(100.0 / (100.0 - level)) / std::log(2.0);
  // Past ~1000 halvings the step is far below a double's resolution anyway; the guard only keeps
  // 100 % (an infinite ratio) from reaching the integer conversion.
  const double whole_halvings =
      std::isfinite(halvings) ? std::min(std::trunc(halvings), 1000.0) : 1000.0;
  const double reporting_ticks =
      ticks_per_half_distance * std::ldexp(1.0, static_cast<int>(whole_halvings) + 1);
  return level + 100.0 / reporting_ticks;
}

}  // namespace

std::vector<PercentilePoint> HdrHistogram::percentile_distribution(
    int ticks_per_half_distance) const {
  if (ticks_per_half_distance < 1) {
    throw std::invalid_argument("HdrHistogram: ticks_per_half_distance must be at least 1");
  }
  std::vector<PercentilePoint> points;
  if (total_count_ == 0) return points;

  const auto total = static_cast<double>(total_count_);
  std::size_t index = 0;
  std::uint64_t cumulative = 0;
  bool index_counted = false;  // counts_[index] already added to `cumulative`
  double level = 0.0;
  bool final_step_done = false;

  while (true) {
    if (cumulative >= total_count_) {
      // Every value is behind us: one last step reports 100 % at the largest value.
      if (final_step_done) break;
      level = 100.0;
      final_step_done = true;
    }
    // Several levels can be reached in one bucket, so stay on it until it falls behind.
    bool reached = false;
    while (index < counts_.size()) {
      if (!index_counted) {
        cumulative += counts_[index];
        index_counted = true;
      }
      if (counts_[index] != 0 && (cumulative == total_count_ ||
                                  100.0 * static_cast<double>(cumulative) / total >= level)) {
        reached = true;
        break;
      }
      ++index;
      index_counted = false;
    }
    if (!reached) break;  // only if the counts and total_count_ disagree (a wrapped count)
    points.push_back({highest_equivalent_value(value_from_index(index)), level, cumulative});
    if (final_step_done) break;
    level = next_level(level, ticks_per_half_distance);
  }
  return points;
}

void HdrHistogram::write_percentile_distribution(std::ostream& out, double value_unit_scaling,
                                                 int ticks_per_half_distance) const {
  if (!(value_unit_scaling > 0.0) || !std::isfinite(value_unit_scaling)) {
    throw std::invalid_argument("HdrHistogram: value_unit_scaling must be positive and finite");
  }
  // Numbers are rounded like Java's Formatter (see text::fixed_half_up), so the text is the
  // reference implementation's byte for byte, not just its layout.
  const std::vector<PercentilePoint> points = percentile_distribution(ticks_per_half_distance);
  const int digits = significant_digits_;
  auto scaled = [&](double value) {
    return text::pad_left(text::fixed_half_up(value / value_unit_scaling, digits), 12);
  };

  std::string hgrm = "       Value     Percentile TotalCount 1/(1-Percentile)\n\n";
  for (const PercentilePoint& point : points) {
    const double fraction = point.percentile / 100.0;
    hgrm += scaled(static_cast<double>(point.value));
    hgrm += ' ';
    hgrm += text::pad_left(text::fixed_half_up(fraction, 12), 2);
    hgrm += ' ';
    hgrm += text::pad_left(text::integer(point.total_count), 10);
    if (point.percentile != 100.0) {  // 1/(1-p) is infinite on the last row, so it is left out
      hgrm += ' ';
      hgrm += text::pad_left(text::fixed_half_up(1.0 / (1.0 - fraction), 2), 14);
    }
    hgrm += '\n';
  }
  hgrm += "#[Mean    = " + scaled(mean()) + ", StdDeviation   = " + scaled(stddev()) + "]\n";
  hgrm += "#[Max     = " + scaled(static_cast<double>(max())) +
          ", Total count    = " + text::pad_left(text::integer(total_count_), 12) + "]\n";
  hgrm += "#[Buckets = " +
          text::pad_left(text::integer(static_cast<std::uint64_t>(bucket_count_)), 12) +
          ", SubBuckets     = " +
          text::pad_left(text::integer(static_cast<std::uint64_t>(sub_bucket_count_)), 12) + "]\n";
  out << hgrm;
}

}  // namespace iot::loadgen

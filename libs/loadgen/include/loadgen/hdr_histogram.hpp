#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <vector>

namespace iot::loadgen {

// One step of a percentile distribution, as HdrHistogram's PercentileIterator reports it.
struct PercentilePoint {
  std::uint64_t value = 0;  // highest value equivalent to the bucket where the level is reached
  double percentile = 0;    // the reporting level, 0..100
  std::uint64_t total_count = 0;  // values recorded at or below `value`
};

// Gil Tene's High Dynamic Range histogram: integer values from `lowest_discernible` to
// `highest_trackable`, each counted in a bucket no wider than 10^-significant_digits of its value
// (3 digits: 0.1 %). Buckets are log-linear: bucket k holds sub-buckets of width 2^k, so recording
// is a count-leading-zeros, two shifts and an increment: O(1), no allocation, which keeps a load
// generator from becoming the bottleneck it measures.
//
// Results follow the reference implementation (org.HdrHistogram.AbstractHistogram): min(), max()
// and percentiles are bucket bounds (lowest/highest equivalent values), mean() and stddev() use
// bucket midpoints. Not thread-safe: one recorder per thread, merged for the report.
class HdrHistogram {
 public:
  // 1 µs to 1 h at 3 significant digits: 188 KiB of counts.
  explicit HdrHistogram(std::uint64_t lowest_discernible = 1,
                        std::uint64_t highest_trackable = 3'600'000'000,
                        int significant_digits = 3);

  // A value above highest_trackable() is counted as highest_trackable() and in saturated_count(),
  // so an outlier is never lost and never out of bounds.
  void record(std::uint64_t value, std::uint64_t count = 1) noexcept;
  // Adds every count of `other`, which must have been built with the same three arguments
  // (otherwise std::invalid_argument).
  void merge(const HdrHistogram& other);
  void reset() noexcept;

  std::uint64_t total_count() const noexcept { return total_count_; }
  std::uint64_t saturated_count() const noexcept { return saturated_count_; }
  // Lowest equivalent value of the smallest recorded value; 0 when empty.
  std::uint64_t min() const noexcept;
  // Highest equivalent value of the largest recorded value; 0 when empty. Equals
  // value_at_percentile(100).
  std::uint64_t max() const noexcept;
  double mean() const noexcept;
  double stddev() const noexcept;

  // The highest equivalent value of the bucket where the cumulative count first reaches
  // ceil(percentile / 100 * total_count()) (at least 1); for 0, the lowest equivalent value of
  // the first recorded bucket. 0 when empty. std::invalid_argument unless 0 <= percentile <= 100.
  std::uint64_t value_at_percentile(double percentile) const;

  // The range of values counted together with `value`.
  std::uint64_t lowest_equivalent_value(std::uint64_t value) const noexcept;
  std::uint64_t highest_equivalent_value(std::uint64_t value) const noexcept;

  // The steps of outputPercentileDistribution: 0 %, then `ticks_per_half_distance` steps in each
  // half of the remaining distance to 100 % (0, 10, ..., 50, 55, ..., 75, 77.5, ...), ending with
  // a 100 % step at the largest value. Empty when nothing was recorded.
  std::vector<PercentilePoint> percentile_distribution(int ticks_per_half_distance = 5) const;
  // HdrHistogram's .hgrm text (outputPercentileDistribution): what the online HdrHistogram
  // plotter loads. Values are divided by `value_unit_scaling` (1000 turns microseconds into ms).
  void write_percentile_distribution(std::ostream& out, double value_unit_scaling,
                                     int ticks_per_half_distance = 5) const;

  std::uint64_t lowest_discernible() const noexcept { return lowest_discernible_; }
  std::uint64_t highest_trackable() const noexcept { return highest_trackable_; }
  int significant_digits() const noexcept { return significant_digits_; }
  int bucket_count() const noexcept { return bucket_count_; }
  int sub_bucket_count() const noexcept { return sub_bucket_count_; }

 private:
  int bucket_index(std::uint64_t value) const noexcept;
  std::size_t counts_index(std::uint64_t value) const noexcept;
  std::uint64_t value_from_index(std::size_t index) const noexcept;
  std::uint64_t equivalent_range_size(std::uint64_t value) const noexcept;
  std::uint64_t median_equivalent_value(std::uint64_t value) const noexcept;

  std::uint64_t lowest_discernible_;
  std::uint64_t highest_trackable_;
  int significant_digits_;
  int unit_magnitude_;                   // log2 of lowest_discernible, rounded down
  int sub_bucket_half_count_magnitude_;  // log2(sub_bucket_count_) - 1
  int sub_bucket_count_;                 // power of two >= 2 * 10^significant_digits
  int sub_bucket_half_count_;
  std::uint64_t sub_bucket_mask_;  // (sub_bucket_count_ - 1) << unit_magnitude_
  int leading_zero_count_base_;    // 64 - unit_magnitude_ - log2(sub_bucket_count_)
  int bucket_count_;

  std::vector<std::uint64_t> counts_;
  std::uint64_t total_count_ = 0;
  std::uint64_t saturated_count_ = 0;
  std::uint64_t min_recorded_;  // raw extremes; bucket bounds are applied when they are read
  std::uint64_t max_recorded_ = 0;
};

}  // namespace iot::loadgen

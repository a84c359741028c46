#include "loadgen/hdr_histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace iot::loadgen {
namespace {

constexpr std::uint64_t kNoValueYet = std::numeric_limits<std::uint64_t>::max();

// Buckets double in width; the first covers sub_bucket_count values from 0. Counting them with
// shifts instead of multiplying highest_trackable out keeps the loop free of overflow.
int buckets_to_cover(std::uint64_t highest_trackable, int sub_bucket_count, int unit_magnitude) {
  std::uint64_t smallest_untrackable = static_cast<std::uint64_t>(sub_bucket_count)
                                       << unit_magnitude;
  int buckets = 1;
  while (smallest_untrackable <= highest_trackable) {
    if (smallest_untrackable > std::numeric_limits<std::uint64_t>::max() / 2) return buckets + 1;
    smallest_untrackable <<= 1;
    ++buckets;
  }
  return buckets;
}

}  // namespace

HdrHistogram::HdrHistogram(std::uint64_t lowest_discernible, std::uint64_t highest_trackable,
                           int significant_digits)
    : lowest_discernible_(lowest_discernible),
      highest_trackable_(highest_trackable),
      significant_digits_(significant_digits),
      min_recorded_(kNoValueYet) {
  if (lowest_discernible < 1) {
    throw std::invalid_argument("HdrHistogram: lowest_discernible must be at least 1");
  }
  if (highest_trackable / 2 < lowest_discernible) {
    throw std::invalid_argument(
        "HdrHistogram: highest_trackable must be at least 2 * lowest_discernible");
  }
  if (significant_digits < 0 || significant_digits > 5) {
    throw std::invalid_argument("HdrHistogram: significant_digits must be between 0 and 5");
  }
  // Unit resolution up to 2 * 10^digits guarantees the relative precision at every magnitude.
  std::uint64_t single_unit_resolution_limit = 2;
  for (int digit = 0; digit < significant_digits; ++digit) single_unit_resolution_limit *= 10;
  const auto sub_bucket_count_magnitude =
      static_cast<int>(std::bit_width(single_unit_resolution_limit - 1));

  unit_magnitude_ = static_cast<int>(std::bit_width(lowest_discernible)) - 1;
  sub_bucket_half_count_magnitude_ = std::max(sub_bucket_count_magnitude, 1) - 1;
  if (unit_magnitude_ + sub_bucket_half_count_magnitude_ > 61) {
    throw std::invalid_argument(
        "HdrHistogram: lowest_discernible is too large for the requested significant_digits");
  }
  sub_bucket_count_ = 1 << (sub_bucket_half_count_magnitude_ + 1);
  sub_bucket_half_count_ = sub_bucket_count_ / 2;
  sub_bucket_mask_ = static_cast<std::uint64_t>(sub_bucket_count_ - 1) << unit_magnitude_;
  leading_zero_count_base_ = 64 - unit_magnitude_ - sub_bucket_half_count_magnitude_ - 1;
  bucket_count_ = buckets_to_cover(highest_trackable, sub_bucket_count_, unit_magnitude_);
  counts_.assign(static_cast<std::size_t>(bucket_count_ + 1) * sub_bucket_half_count_, 0);
}

int HdrHistogram::bucket_index(std::uint64_t value) const noexcept {
  // OR-ing in the mask puts every value below the first bucket's end into bucket 0.
  return leading_zero_count_base_ - std::countl_zero(value | sub_bucket_mask_);
}

std::size_t HdrHistogram::counts_index(std::uint64_t value) const noexcept {
  const int bucket = bucket_index(value);
  const std::uint64_t sub_bucket = value >> (bucket + unit_magnitude_);
  // Bucket k > 0 only uses its upper half of sub-buckets (the lower half is covered by k - 1 at
  // finer resolution), so buckets are laid out half a bucket apart.
  const std::size_t bucket_base = static_cast<std::size_t>(bucket + 1)
                                  << sub_bucket_half_count_magnitude_;
  return bucket_base - static_cast<std::size_t>(sub_bucket_half_count_) +
         static_cast<std::size_t>(sub_bucket);
}

std::uint64_t HdrHistogram::value_from_index(std::size_t index) const noexcept {
  int bucket = static_cast<int>(index >> sub_bucket_half_count_magnitude_) - 1;
  std::uint64_t sub_bucket = (index & static_cast<std::size_t>(sub_bucket_half_count_ - 1)) +
                             static_cast<std::uint64_t>(sub_bucket_half_count_);
  if (bucket < 0) {
    sub_bucket -= static_cast<std::uint64_t>(sub_bucket_half_count_);
    bucket = 0;
  }
  return sub_bucket << (bucket + unit_magnitude_);
}

std::uint64_t HdrHistogram::equivalent_range_size(std::uint64_t value) const noexcept {
  return std::uint64_t{1} << (unit_magnitude_ + bucket_index(value));
}

std::uint64_t HdrHistogram::lowest_equivalent_value(std::uint64_t value) const noexcept {
  const int shift = bucket_index(value) + unit_magnitude_;
  return (value >> shift) << shift;
}

std::uint64_t HdrHistogram::highest_equivalent_value(std::uint64_t value) const noexcept {
  // Unsigned wrap-around makes the top bucket end at 2^64 - 1, which is exactly right.
  return lowest_equivalent_value(value) + equivalent_range_size(value) - 1;
}

std::uint64_t HdrHistogram::median_equivalent_value(std::uint64_t value) const noexcept {
  return lowest_equivalent_value(value) + (equivalent_range_size(value) >> 1);
}

void HdrHistogram::record(std::uint64_t value, std::uint64_t count) noexcept {
  if (count == 0) return;
  if (value > highest_trackable_) {
    value = highest_trackable_;
    saturated_count_ += count;
  }
  counts_[counts_index(value)] += count;
  total_count_ += count;
  min_recorded_ = std::min(min_recorded_, value);
  max_recorded_ = std::max(max_recorded_, value);
}

void HdrHistogram::merge(const HdrHistogram& other) {
  if (other.lowest_discernible_ != lowest_discernible_ ||
      other.highest_trackable_ != highest_trackable_ ||
      other.significant_digits_ != significant_digits_) {
    throw std::invalid_argument(
        "HdrHistogram::merge: histograms differ in lowest_discernible, highest_trackable or "
        "significant_digits");
  }
  for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  total_count_ += other.total_count_;
  saturated_count_ += other.saturated_count_;
  min_recorded_ = std::min(min_recorded_, other.min_recorded_);
  max_recorded_ = std::max(max_recorded_, other.max_recorded_);
}

void HdrHistogram::reset() noexcept {
  std::fill(counts_.begin(), counts_.end(), 0);
  total_count_ = 0;
  saturated_count_ = 0;
  min_recorded_ = kNoValueYet;
  max_recorded_ = 0;
}

std::uint64_t HdrHistogram::min() const noexcept {
  return total_count_ == 0 ? 0 : lowest_equivalent_value(min_recorded_);
}

std::uint64_t HdrHistogram::max() const noexcept {
  return total_count_ == 0 ? 0 : highest_equivalent_value(max_recorded_);
}

double HdrHistogram::mean() const noexcept {
  if (total_count_ == 0) return 0.0;
  double total = 0.0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    if (counts_[i] == 0) continue;
    total += static_cast<double>(median_equivalent_value(value_from_index(i))) *
             static_cast<double>(counts_[i]);
  }
  return total / static_cast<double>(total_count_);
}

double HdrHistogram::stddev() const noexcept {
  if (total_count_ == 0) return 0.0;
  const double average = mean();
  double squared_deviations = 0.0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    if (counts_[i] == 0) continue;
    const double deviation =
        static_cast<double>(median_equivalent_value(value_from_index(i))) - average;
    squared_deviations += deviation * deviation * static_cast<double>(counts_[i]);
  }
  return std::sqrt(squared_deviations / static_cast<double>(total_count_));
}

std::uint64_t HdrHistogram::value_at_percentile(double percentile) const {
  if (!(percentile >= 0.0 && percentile <= 100.0)) {
    throw std::invalid_argument(
        "HdrHistogram::value_at_percentile: percentile must be in [0, 100]");
  }
  if (total_count_ == 0) return 0;
  // One ulp below the request keeps a product that should be a whole count (99.9 % of 1000)
  // from rounding up past it and into the next bucket.
  const double requested = std::max(std::nextafter(percentile, 0.0), 0.0);
  const double wanted = std::ceil(requested * static_cast<double>(total_count_) / 100.0);
  // Compared as doubles first: converting a double at or above 2^64 to an integer is undefined.
  const std::uint64_t count_at_percentile =
      wanted >= static_cast<double>(total_count_)
          ? total_count_
          : std::max<std::uint64_t>(static_cast<std::uint64_t>(wanted), 1);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    cumulative += counts_[i];
    if (cumulative >= count_at_percentile) {
      const std::uint64_t value = value_from_index(i);
      return percentile == 0.0 ? lowest_equivalent_value(value) : highest_equivalent_value(value);
    }
  }
  return max();
}

}  // namespace iot::loadgen

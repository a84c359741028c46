#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace iot::metrics {

// A monotonically increasing count with one writer (its worker thread) and any number of
// readers (the admin thread): relaxed atomics, no locks on the hot path.
class Counter {
 public:
  void add(std::uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// Fixed-bucket latency histogram in seconds. Buckets are chosen for a collector whose work per
// request is microseconds and whose acknowledgement may wait for Elasticsearch (milliseconds).
class LatencyHistogram {
 public:
  static constexpr std::array<double, 14> kUpperBounds{0.00001, 0.000025, 0.00005, 0.0001, 0.00025,
                                                       0.0005,  0.001,    0.0025,  0.005,  0.01,
                                                       0.025,   0.05,     0.1,     1.0};

  void observe_ns(std::uint64_t nanoseconds) noexcept;

  struct Snapshot {
    std::array<std::uint64_t, kUpperBounds.size() + 1>
        buckets{};  // last one is +Inf; not cumulative
    std::uint64_t count = 0;
    double sum_seconds = 0;
    Snapshot& operator+=(const Snapshot& other);
  };
  Snapshot snapshot() const noexcept;

 private:
  std::array<std::atomic<std::uint64_t>, kUpperBounds.size() + 1> buckets_{};
  std::atomic<std::uint64_t> sum_ns_{0};
};

// Builds a Prometheus text exposition (format 0.0.4). Families must be written whole, one at a
// time: header() then its samples.
class PrometheusWriter {
 public:
  void header(std::string_view name, std::string_view type, std::string_view help);
  // labels: already formatted `key="value",...` (values escaped by label()), or empty.
  void sample(std::string_view name, std::string_view labels, double value);
  void sample(std::string_view name, std::string_view labels, std::uint64_t value);
  void histogram(std::string_view name, std::string_view labels,
                 const LatencyHistogram::Snapshot& snapshot);
  const std::string& text() const { return out_; }

  // `key="escaped value"` for one label.
  static std::string label(std::string_view key, std::string_view value);

 private:
  std::string out_;
};

}  // namespace iot::metrics

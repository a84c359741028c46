#include "metrics/metrics.hpp"

#include <charconv>

namespace iot::metrics {

void LatencyHistogram::observe_ns(std::uint64_t nanoseconds) noexcept {
  const double seconds = static_cast<double>(nanoseconds) * 1e-9;
  std::size_t bucket = 0;
  while (bucket < kUpperBounds.size() && seconds > kUpperBounds[bucket]) ++bucket;
  buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(nanoseconds, std::memory_order_relaxed);
}

LatencyHistogram::Snapshot LatencyHistogram::snapshot() const noexcept {
  Snapshot s;
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    s.buckets[i] = buckets_[i].load(std::memory_order_relaxed);
    s.count += s.buckets[i];
  }
  s.sum_seconds = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) * 1e-9;
  return s;
}

LatencyHistogram::Snapshot& LatencyHistogram::Snapshot::operator+=(const Snapshot& other) {
  for (std::size_t i = 0; i < buckets.size(); ++i) buckets[i] += other.buckets[i];
  count += other.count;
  sum_seconds += other.sum_seconds;
  return *this;
}

namespace {

void append_double(std::string& out, double value) {
  char buffer[32];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::general);
  out.append(buffer, ec == std::errc() ? end : buffer);
}

void append_series(std::string& out, std::string_view name, std::string_view labels) {
  out += name;
  if (!labels.empty()) {
    out.push_back('{');
    out += labels;
    out.push_back('}');
  }
  out.push_back(' ');
}

}  // namespace

void PrometheusWriter::header(std::string_view name, std::string_view type, std::string_view help) {
  out_ += "# HELP ";
  out_ += name;
  out_.push_back(' ');
  out_ += help;
  out_ += "\n# TYPE ";
  out_ += name;
  out_.push_back(' ');
  out_ += type;
  out_.push_back('\n');
}

void PrometheusWriter::sample(std::string_view name, std::string_view labels, double value) {
  append_series(out_, name, labels);
  append_double(out_, value);
  out_.push_back('\n');
}

void PrometheusWriter::sample(std::string_view name, std::string_view labels, std::uint64_t value) {
  append_series(out_, name, labels);
  out_ += std::to_string(value);
  out_.push_back('\n');
}

void PrometheusWriter::histogram(std::string_view name, std::string_view labels,
                                 const LatencyHistogram::Snapshot& snapshot) {
  const std::string bucket_name = std::string(name) + "_bucket";
  const std::string prefix = labels.empty() ? std::string() : std::string(labels) + ",";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < LatencyHistogram::kUpperBounds.size(); ++i) {
    cumulative += snapshot.buckets[i];
    std::string le;
    append_double(le, LatencyHistogram::kUpperBounds[i]);
    sample(bucket_name, prefix + label("le", le), cumulative);
  }
  sample(bucket_name, prefix + label("le", "+Inf"), snapshot.count);
  sample(std::string(name) + "_sum", labels, snapshot.sum_seconds);
  sample(std::string(name) + "_count", labels, snapshot.count);
}

std::string PrometheusWriter::label(std::string_view key, std::string_view value) {
  std::string out(key);
  out += "=\"";
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

}  // namespace iot::metrics

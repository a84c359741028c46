#include <cmath>
#include <string>

#include "loadgen/load_report.hpp"
#include "text_format.hpp"

namespace iot::loadgen {
namespace {

// Two or three significant digits are all a glance at a live line can use.
std::string glanceable_ms(double ms) {
  if (ms < 1.0) return text::fixed(ms, 2);
  if (ms < 100.0) return text::fixed(ms, 1);
  return text::fixed(ms, 0);
}

}  // namespace

std::string format_status_line(const LiveStatus& status) {
  const auto elapsed = status.elapsed.count() < 0 ? 0 : status.elapsed.count();
  const double rate = std::isfinite(status.rate_per_second) && status.rate_per_second > 0
                          ? status.rate_per_second
                          : 0.0;
  // The elapsed column has a fixed width so the rest of the line stays put for the first hours.
  std::string line = text::pad_left(text::integer(static_cast<std::uint64_t>(elapsed)), 4) + "s";
  line += "  sent " + text::integer(status.sent);
  line += "  rate " + text::fixed(rate, 0) + "/s";
  line += "  ok " + text::integer(status.ok);
  line += "  err " + text::integer(status.errors);
  line += "  timeouts " + text::integer(status.timeouts);
  const bool has_p99 = status.p99_ms && std::isfinite(*status.p99_ms);
  line += "  p99 " + (has_p99 ? glanceable_ms(*status.p99_ms) + " ms" : std::string("-"));
  return line;
}

}  // namespace iot::loadgen

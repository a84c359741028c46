#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace iot::event {

// Parses RFC 3339 date-time with a zone ("2026-11-22T10:00:00Z", "...T10:00:00.123+02:00"),
// fractional seconds of any length (truncated to milliseconds). Returns Unix epoch milliseconds,
// or nullopt for anything else (no zone, out-of-range fields, trailing text).
std::optional<std::int64_t> parse_rfc3339_ms(std::string_view text);

// Formats Unix epoch milliseconds as "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC, always 3 fraction digits).
std::string format_rfc3339_ms(std::int64_t epoch_ms);

// A system clock time as Unix epoch milliseconds (truncated), the unit the functions above use.
inline std::int64_t epoch_ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace iot::event

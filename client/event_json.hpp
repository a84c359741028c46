#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace iot::client {

// A payload value as the collector accepts it.
using EventValue = std::variant<double, bool, std::string>;

// "21.5" -> number, "true"/"false" -> boolean, anything else -> string (what a person typing
// `iotc send door open` means).
EventValue parse_event_value(std::string_view text);

struct EventFields {
  std::string_view namespace_;
  std::string_view sender;
  std::string_view origin;
  std::string_view type;
  EventValue value;
  std::string_view unit;  // left out when empty
  std::chrono::system_clock::time_point timestamp;
};

// One event as the collector's JSON: {"namespace","sender","origin","timestamp","payload":{...}}
// with the timestamp in RFC 3339 UTC, milliseconds.
std::string event_json(const EventFields& event);

// --timestamp: RFC 3339 with a zone, or epoch milliseconds. Throws cli::UsageError.
std::chrono::system_clock::time_point parse_event_timestamp(std::string_view text);

}  // namespace iot::client

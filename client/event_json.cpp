#include "event_json.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <cmath>

#include "cli/flag_set.hpp"
#include "event/timestamp.hpp"

namespace iot::client {

EventValue parse_event_value(std::string_view text) {
  if (text == "true") return true;
  if (text == "false") return false;
  double number = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, error] = std::from_chars(text.data(), end, number);
  if (error == std::errc() && ptr == end && !text.empty() && std::isfinite(number)) return number;
  return std::string(text);
}

std::string event_json(const EventFields& event) {
  boost::json::object payload{{"type", event.type}};
  std::visit([&](const auto& v) { payload["value"] = v; }, event.value);
  if (!event.unit.empty()) payload["unit"] = event.unit;
  const boost::json::object object{
      {"namespace", event.namespace_},
      {"sender", event.sender},
      {"origin", event.origin},
      {"timestamp", event::format_rfc3339_ms(event::epoch_ms(event.timestamp))},
      {"payload", std::move(payload)},
  };
  return boost::json::serialize(object);
}

std::chrono::system_clock::time_point parse_event_timestamp(std::string_view text) {
  std::int64_t ms = 0;
  const auto* end = text.data() + text.size();
  if (const auto [ptr, error] = std::from_chars(text.data(), end, ms);
      error == std::errc() && ptr == end && !text.empty()) {
    return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
  }
  if (const auto parsed = event::parse_rfc3339_ms(text)) {
    return std::chrono::system_clock::time_point(std::chrono::milliseconds(*parsed));
  }
  throw cli::UsageError("expected RFC 3339 (2026-11-23T10:00:00Z) or epoch milliseconds, got '" +
                        std::string(text) + "'");
}

}  // namespace iot::client

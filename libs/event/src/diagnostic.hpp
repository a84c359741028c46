#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "event/validator.hpp"

namespace iot::event::detail {

// Diagnostics go back to devices as text/plain and into logs, so names taken from the request
// are cut short and stripped to printable ASCII before they are echoed.
inline constexpr std::size_t kMaxEchoedName = 32;

// Appends "event" for a single-object body, or "event[index]" for an element of an array body.
void append_event_prefix(std::string& out, bool in_array, std::size_t index);

// Appends `name` as printable ASCII: other bytes become '?', and it is shortened with "...".
void append_echoed_name(std::string& out, std::string_view name);

// "<path>: <detail>", with an overlong path shortened so the message stays near 120 bytes.
ValidationError make_error(RejectReason reason, std::string path, std::string_view detail);

}  // namespace iot::event::detail

#pragma once

#include <boost/json/object.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "event/event.hpp"
#include "event/validator.hpp"

namespace iot::event::detail {

// Where an event sits in the request body, for diagnostics.
struct EventLocation {
  bool in_array;
  std::size_t index;
};

// Applies the field rules to one event object that has already passed the structural checks
// (unique keys, nesting depth) and appends it to `out`. The event's payload is moved out of
// `object`, not copied: it keeps `object`'s storage (the validator's arena).
std::optional<ValidationError> read_event(boost::json::object& object, EventLocation location,
                                          std::int64_t received_at_ms,
                                          const ValidationLimits& limits,
                                          std::string_view authenticated_sender,
                                          std::vector<Event>& out);

}  // namespace iot::event::detail

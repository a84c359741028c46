#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <string>

namespace iot::event {

// One device event after validation and normalisation: every field is known to be well formed.
struct Event {
  std::string event_namespace;  // "namespace" on the wire; "default" when the device omits it
  std::string sender;
  std::string origin;
  // Holds "type" (string), "value" and any further device fields. From EventValidator, it is in
  // the validator's memory (see ValidationResult).
  boost::json::object payload;
  std::int64_t timestamp_ms = 0;       // event time, Unix epoch milliseconds (UTC)
  bool timestamp_from_device = false;  // false: the collector's receive time was used
};

}  // namespace iot::event

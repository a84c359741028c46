#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "event/event.hpp"

namespace iot::event {

// What the collector adds to every stored document.
struct StoredDocumentContext {
  std::string_view index;       // data stream name, e.g. "iot-events"
  std::string_view collector;   // instance name of this collector (pod name)
  std::int64_t received_at_ms;  // when this collector received the request
};

// Deterministic document id from the event's identity (namespace, sender, origin, timestamp_ms,
// payload as serialised): the same event always gets the same id, so a retried bulk request or
// a device's retransmission is refused by Elasticsearch as a 409 instead of stored twice.
// 32 lowercase hex characters (XXH3-128).
std::string event_id(const Event& event);

// Appends one Elasticsearch bulk pair, each line ending in '\n':
//   {"create":{"_index":"<index>","_id":"<event_id>"}}
//   {"@timestamp":"<event time>","namespace":..,"sender":..,"origin":..,"payload":{..},
//    ["timestamp":"<event time>" only when the device sent one,]
//    "received_at":"<rfc3339>","collector":"<instance>"}
// Times are formatted by format_rfc3339_ms. Strings are JSON-escaped.
void append_bulk_create(std::string& out, const Event& event, const StoredDocumentContext& context);

}  // namespace iot::event

#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "event/event.hpp"

namespace iot::event {

// Why a request body was refused; one metric label per value (see reject_reason_name).
enum class RejectReason {
  malformed_json,   // not JSON, or trailing garbage
  schema,           // missing/unknown/wrongly typed field, bad identifier, nesting too deep
  bad_timestamp,    // not RFC 3339 with zone nor epoch ms, or more than max_future ahead
  batch_too_large,  // array longer than max_batch, or empty array
  sender_mismatch,  // a sender other than the device's authenticated identity (CoAP 4.03)
};
inline constexpr std::size_t kRejectReasonCount = 5;
std::string_view reject_reason_name(RejectReason reason);  // "malformed_json", ...

struct ValidationLimits {
  std::size_t max_batch = 100;
  std::size_t max_depth = 8;  // nesting of the whole event document; the event object is depth 1
  std::chrono::milliseconds max_future = std::chrono::hours(24);
};

struct ValidationError {
  RejectReason reason;
  // Short diagnostic for the device (CoAP 4.00 payload, text/plain): what and where, at most
  // ~120 bytes, e.g. "event[3].sender: 1-128 chars of [A-Za-z0-9._:-] required".
  // Style: "<path>: <problem>". The path starts with "event" for a single-object body or
  // "event[<i>]" for element i of an array body, then the field's JSON path (".payload.value",
  // "[2]"); it is "event" alone for the body as a whole ("event: empty array"). Names echoed from
  // the request are cut to 32 printable ASCII chars. Syntax errors read
  // "malformed JSON at byte <offset>: <parser message>".
  std::string message;
};

// The events' payloads live in the validator's memory, which its next validate() reuses: use a
// result before validating again, and copy a payload (json::object(payload, storage)) to keep it.
// Borrowing rather than copying saves a heap allocation and a free per payload member.
struct ValidationResult {
  std::vector<Event> events;             // empty when error is set
  std::optional<ValidationError> error;  // all-or-nothing: one bad event rejects the batch
  bool ok() const { return !error.has_value(); }
};

// Parses and checks a POST /events body: one event object, or an array of 1..max_batch of them.
// Not thread-safe: each worker owns one (it reuses parser memory between calls).
class EventValidator {
 public:
  explicit EventValidator(ValidationLimits limits);
  ~EventValidator();
  EventValidator(const EventValidator&) = delete;
  EventValidator& operator=(const EventValidator&) = delete;

  // received_at_ms: the collector's receive time (epoch ms), used when the event has no timestamp
  // and as "now" for the future-timestamp bound.
  // The first problem found is reported. Checks made while parsing come first, in byte order:
  // JSON syntax, body shape, nesting depth, duplicate keys, batch size. Field rules run only on a
  // complete, well-formed body, event by event in array order.
  //
  // authenticated_sender: the device's proven identity (DTLS), or empty. When set, an event
  // without a sender gets it, and one naming another sender fails with sender_mismatch.
  ValidationResult validate(std::string_view body, std::int64_t received_at_ms,
                            std::string_view authenticated_sender = {});

 private:
  struct State;
  ValidationLimits limits_;
  std::unique_ptr<State> state_;
};

}  // namespace iot::event

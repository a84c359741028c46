#include "event/validator.hpp"

namespace iot::event {

std::string_view reject_reason_name(RejectReason reason) {
  switch (reason) {
    case RejectReason::malformed_json:
      return "malformed_json";
    case RejectReason::schema:
      return "schema";
    case RejectReason::bad_timestamp:
      return "bad_timestamp";
    case RejectReason::batch_too_large:
      return "batch_too_large";
    case RejectReason::sender_mismatch:
      return "sender_mismatch";
  }
  return "unknown";
}

}  // namespace iot::event

#include "elastic/bulk_response.hpp"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <cstdint>
#include <optional>
#include <utility>

namespace iot::elastic {
namespace {

namespace json = boost::json;

constexpr std::size_t kMaxReason = 300;
// What is kept of an error's type or reason: the reason is cut to kMaxReason bytes and the cut
// looks at the byte just past the limit to find a character boundary, so the first
// kMaxReason + 1 bytes of "<type>: <reason>" decide the result.
constexpr std::size_t kMaxCapture = kMaxReason + 1;
// The shortest item, {"":{}}, and its comma: bounds what the body can hold whatever the caller
// expects.
constexpr std::size_t kMinItemBytes = 8;

ItemOutcome classify_item(int status) {
  if (status == 200 || status == 201) return ItemOutcome::created;
  if (status == 409) return ItemOutcome::duplicate;
  if (status >= 400 && status < 500 && status != 429) return ItemOutcome::rejected;
  // 429, 5xx and anything unexpected: the deterministic _id makes a needless retry harmless,
  // while a needless rejection would lose the event.
  return ItemOutcome::retry;
}

// Cuts at a UTF-8 character boundary: the reason ends up in logs and in the dead-letter stream,
// where an invalid byte sequence could get that document rejected in turn.
void truncate_utf8(std::string& text, std::size_t limit) {
  if (text.size() <= limit) return;
  std::size_t end = limit;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  text.resize(end);
}

// 0 stands for a status that is missing, not an integer, or not a plausible HTTP status.
int plausible_status(std::uint64_t value) {
  return value >= 100 && value <= 999 ? static_cast<int>(value) : 0;
}

void capture(std::string& out, json::string_view part) {
  if (out.size() >= kMaxCapture) return;
  out.append(part.data(), std::min(part.size(), kMaxCapture - out.size()));
}

// Handler for json::basic_parser: reads the status and error of each item as the body streams
// by, without building a DOM. The containers of interest sit at fixed places (root object,
// "items" array, item object, operation object, error object): `level_` says which one the parser
// is directly inside, `field_` what the last key there makes of the next value. Any other value
// is skipped with everything it contains: `skip_` counts the containers open inside it.
//
// The answer is the one the DOM walk gave: nothing is refused while parsing, so invalid JSON
// anywhere still wins over a shape error, and finish() checks the shape in the DOM walk's order.
// Duplicate keys get what json::object gives them: the last one wins (a second "items" starts
// the items again, a repeated operation key replaces the operation, a second "status" or "error"
// replaces the first, including by a value of the wrong kind).
class BulkHandler {
 public:
  // Those of json::parser, so that the same bodies are refused.
  static constexpr std::size_t max_object_size = json::object::max_size();
  static constexpr std::size_t max_array_size = json::array::max_size();
  static constexpr std::size_t max_key_size = json::string::max_size();
  static constexpr std::size_t max_string_size = json::string::max_size();

  BulkHandler(std::size_t expected_items, std::size_t body_size)
      : expected_items_(expected_items),
        reserve_(std::min(expected_items, body_size / kMinItemBytes + 1)) {}

  // The shape checks of the DOM walk, in its order, once the body has parsed.
  std::variant<BulkResult, std::string> finish() {
    if (!root_is_object_) return std::string("bulk response is not a JSON object");
    if (!items_present_) return std::string("bulk response has no \"items\"");
    if (!items_is_array_) return std::string("bulk response \"items\" is not an array");
    if (items_seen_ != expected_items_) {
      return "bulk response has " + std::to_string(items_seen_) + " items, " +
             std::to_string(expected_items_) + " expected";
    }
    if (item_error_) {
      const std::string index = std::to_string(item_error_->index);
      return item_error_->operation_not_object
                 ? "bulk response item " + index + " operation is not an object"
                 : "bulk response item " + index + " is not an object with exactly one operation";
    }
    return std::move(result_);
  }

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }

  bool on_object_begin(json::error_code&) {
    if (skip_ > 0) {
      ++skip_;
      return true;
    }
    switch (level_) {
      case Level::document:
        root_is_object_ = true;
        level_ = Level::root;
        return true;
      case Level::items:
        if (begin_element(true)) {
          level_ = Level::item;
          return true;
        }
        break;
      case Level::item:
        if (field_ == Field::operation) {
          operation_is_object_ = true;
          level_ = Level::operation;
          return true;
        }
        break;
      case Level::operation:
        if (field_ == Field::error) {
          error_kind_ = ErrorKind::object;
          level_ = Level::error;
          return true;
        }
        break;
      default:
        break;
    }
    skip_ = 1;
    return true;
  }

  bool on_object_end(std::size_t, json::error_code&) {
    if (skip_ > 0) {
      --skip_;
      return true;
    }
    switch (level_) {
      case Level::root:
        level_ = Level::document;
        break;
      case Level::item:
        end_item();
        level_ = Level::items;
        break;
      case Level::operation:
        level_ = Level::item;
        break;
      case Level::error:
        level_ = Level::operation;
        break;
      default:
        break;
    }
    return true;
  }

  bool on_array_begin(json::error_code&) {
    if (skip_ > 0) {
      ++skip_;
      return true;
    }
    if (level_ == Level::root && field_ == Field::items) {
      items_is_array_ = true;
      result_.items.reserve(reserve_);
      level_ = Level::items;
      return true;
    }
    if (level_ == Level::items) begin_element(false);
    skip_ = 1;
    return true;
  }

  bool on_array_end(std::size_t, json::error_code&) {
    if (skip_ > 0) {
      --skip_;
    } else {
      level_ = Level::root;  // the "items" array is the only one entered
    }
    return true;
  }

  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    if (skip_ == 0) key_.append(s.data(), s.size());
    return true;
  }

  bool on_key(json::string_view s, std::size_t, json::error_code&) {
    if (skip_ > 0) return true;
    std::string_view key(s.data(), s.size());
    if (!key_.empty()) {
      key_.append(s.data(), s.size());
      key = key_;
    }
    begin_field(key);
    key_.clear();
    return true;
  }

  bool on_string_part(json::string_view s, std::size_t, json::error_code&) {
    if (skip_ == 0) capture_string(s);
    return true;
  }

  bool on_string(json::string_view s, std::size_t, json::error_code&) {
    if (skip_ > 0) return true;
    capture_string(s);
    if (level_ == Level::operation && field_ == Field::error) {
      error_kind_ = ErrorKind::string;  // Elasticsearch 1.x sent the error as one string
    } else if (level_ == Level::error && field_ == Field::type) {
      has_type_ = true;
    } else if (level_ == Level::error && field_ == Field::reason) {
      has_reason_ = true;
    } else {
      scalar();
    }
    return true;
  }

  bool on_number_part(json::string_view, json::error_code&) { return true; }

  bool on_int64(std::int64_t i, json::string_view, json::error_code&) {
    if (at_status()) {
      status_ = i < 0 ? 0 : plausible_status(static_cast<std::uint64_t>(i));
    } else {
      scalar();
    }
    return true;
  }

  bool on_uint64(std::uint64_t u, json::string_view, json::error_code&) {
    if (at_status()) {
      status_ = plausible_status(u);
    } else {
      scalar();
    }
    return true;
  }

  bool on_double(double, json::string_view, json::error_code&) {
    scalar();
    return true;
  }

  bool on_bool(bool, json::error_code&) {
    scalar();
    return true;
  }

  bool on_null(json::error_code&) {
    scalar();
    return true;
  }

  // Comments are disabled in the parse options.
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

 private:
  enum class Level : unsigned char { document, root, items, item, operation, error };
  enum class Field : unsigned char { other, items, operation, status, error, type, reason };
  enum class ErrorKind : unsigned char { none, string, object };

  struct ItemError {
    std::size_t index;
    bool operation_not_object;
  };

  bool at_status() const {
    return skip_ == 0 && level_ == Level::operation && field_ == Field::status;
  }

  // A key of an object of interest: resets what its value is about to set, so that a repeated key
  // replaces the earlier value even by one of the wrong kind.
  void begin_field(std::string_view key) {
    field_ = Field::other;
    switch (level_) {
      case Level::root:
        if (key == "items") {
          field_ = Field::items;
          items_present_ = true;
          items_is_array_ = false;
          items_seen_ = 0;
          item_error_.reset();
          result_.items.clear();
        }
        break;
      case Level::item:
        // Exactly one key, the operation: with more, which one belongs to this document is
        // unknown. The same key again is the same operation, replaced.
        if (item_keys_ == 0) {
          operation_key_.assign(key);
        } else if (key != operation_key_) {
          two_operations_ = true;
        }
        ++item_keys_;
        if (!two_operations_) {
          field_ = Field::operation;
          operation_is_object_ = false;
          status_ = 0;
          begin_error();
        }
        break;
      case Level::operation:
        if (key == "status") {
          field_ = Field::status;
          status_ = 0;
        } else if (key == "error") {
          field_ = Field::error;
          begin_error();
        }
        break;
      case Level::error:
        // Only the error's own type and reason: those of caused_by are skipped with it.
        if (key == "type") {
          field_ = Field::type;
          has_type_ = false;
          type_.clear();
        } else if (key == "reason") {
          field_ = Field::reason;
          has_reason_ = false;
          reason_.clear();
        }
        break;
      default:
        break;
    }
  }

  void begin_error() {
    error_kind_ = ErrorKind::none;
    has_type_ = false;
    has_reason_ = false;
    type_.clear();
    reason_.clear();
  }

  // A string, or a piece of one: kept where it may become the reason.
  void capture_string(json::string_view s) {
    if (level_ == Level::operation && field_ == Field::error) {
      capture(reason_, s);
    } else if (level_ == Level::error && field_ == Field::type) {
      capture(type_, s);
    } else if (level_ == Level::error && field_ == Field::reason) {
      capture(reason_, s);
    }
  }

  // A scalar none of whose places wants it: only an element of "items" has to be counted.
  void scalar() {
    if (skip_ == 0 && level_ == Level::items) begin_element(false);
  }

  // Counts an element of "items"; returns whether it is an item to read. Elements beyond the
  // expected count are only counted: the count is then wrong whatever they hold.
  bool begin_element(bool is_object) {
    const std::size_t index = items_seen_++;
    if (index >= expected_items_) return false;
    if (!is_object) {
      fail_item(index, false);
      return false;
    }
    item_keys_ = 0;
    two_operations_ = false;
    operation_is_object_ = false;
    status_ = 0;
    begin_error();
    return true;
  }

  void end_item() {
    const std::size_t index = items_seen_ - 1;
    if (item_keys_ == 0 || two_operations_) return fail_item(index, false);
    if (!operation_is_object_) return fail_item(index, true);
    if (item_error_) return;  // the answer is that error: nothing more to keep
    ItemResult& entry = result_.items.emplace_back();
    entry.status = status_;
    entry.outcome = classify_item(status_);
    if (entry.outcome == ItemOutcome::retry || entry.outcome == ItemOutcome::rejected) {
      entry.reason = error_reason();
      if (entry.status == 0 && entry.reason.empty()) entry.reason = "no valid status in the item";
    }
  }

  void fail_item(std::size_t index, bool operation_not_object) {
    if (!item_error_) item_error_ = ItemError{index, operation_not_object};
  }

  std::string error_reason() const {
    std::string out;
    if (error_kind_ == ErrorKind::string) {
      out = reason_;
    } else if (error_kind_ == ErrorKind::object) {
      out.reserve(type_.size() + 2 + reason_.size());  // one allocation
      if (has_type_) out = type_;
      if (has_reason_) {
        if (!out.empty()) out += ": ";
        out += reason_;
      }
    }
    truncate_utf8(out, kMaxReason);
    return out;
  }

  const std::size_t expected_items_;
  const std::size_t reserve_;
  BulkResult result_;

  Level level_ = Level::document;
  Field field_ = Field::other;
  std::size_t skip_ = 0;  // containers open inside a skipped value
  std::string key_;       // a key arriving in pieces

  bool root_is_object_ = false;
  bool items_present_ = false;
  bool items_is_array_ = false;
  std::size_t items_seen_ = 0;
  std::optional<ItemError> item_error_;  // the first, as the DOM walk reported it

  // The item being read. The strings keep their capacity from one item to the next.
  std::size_t item_keys_ = 0;
  bool two_operations_ = false;
  std::string operation_key_;
  bool operation_is_object_ = false;
  int status_ = 0;
  ErrorKind error_kind_ = ErrorKind::none;
  bool has_type_ = false;
  bool has_reason_ = false;
  std::string type_;
  std::string reason_;  // the error's reason, or the whole error when it is a string
};

}  // namespace

std::variant<BulkResult, std::string> parse_bulk_response(std::string_view body,
                                                          std::size_t expected_items) {
  json::parse_options options;
  // The error of an item nests through caused_by; leave room beyond the default of 32.
  options.max_depth = 128;
  json::basic_parser<BulkHandler> parser(options, expected_items, body.size());
  json::error_code ec;
  const std::size_t consumed = parser.write_some(false, body.data(), body.size(), ec);
  // As json::parse says it.
  if (!ec && consumed < body.size()) ec = json::error::extra_data;
  if (ec) return "bulk response is not valid JSON: " + ec.message();
  return parser.handler().finish();
}

StatusClass classify_bulk_status(int http_status) {
  switch (http_status) {
    case 200:
      return StatusClass::success;
    case 429:
    case 502:
    case 503:
    case 504:
      return StatusClass::retry;
    default:
      return StatusClass::fatal;
  }
}

}  // namespace iot::elastic

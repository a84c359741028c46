#include "event/validator.hpp"

#include <algorithm>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/value.hpp>
#include <boost/json/value_stack.hpp>
#include <cmath>
#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "diagnostic.hpp"
#include "event_reader.hpp"

namespace iot::event {
namespace {

namespace json = boost::json;

// Handler for json::basic_parser. It builds each event of the body as its own json::value (the
// array around a batch is never materialised) and applies, while parsing, the checks that
// Boost.JSON's own parser cannot: duplicate keys (json::object silently keeps the last one),
// per-event nesting depth, the type of the top-level value and its elements, and the batch size.
// Any of these aborts the parse at once, so hostile input costs no more than its first problem.
class BodyHandler {
 public:
  static constexpr std::size_t max_array_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_object_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_string_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_key_size = static_cast<std::size_t>(-1);

  BodyHandler(const ValidationLimits& limits, unsigned char* stack_buffer,
              std::size_t stack_buffer_size)
      : limits_(limits), values_(json::storage_ptr(), stack_buffer, stack_buffer_size) {}

  // Drops every value of the previous body, so that their memory can be reused.
  void clear() {
    values_.reset();
    events_.clear();
    frames_.clear();
    key_starts_.clear();
    key_chars_.clear();
    array_body_ = false;
    error_.reset();
  }

  // Prepares for a new body; every value will be allocated from `storage`.
  void start(json::storage_ptr storage) {
    clear();
    storage_ = std::move(storage);
    values_.reset(storage_);
  }

  bool array_body() const { return array_body_; }
  std::vector<json::value>& events() { return events_; }
  std::optional<ValidationError>& error() { return error_; }

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }

  bool on_object_begin(json::error_code& ec) {
    if (at_event_level()) {
      if (array_body_ && frames_.front().count >= limits_.max_batch) {
        return fail(ec, RejectReason::batch_too_large, "event",
                    "more than " + std::to_string(limits_.max_batch) + " events in array");
      }
      values_.reset(storage_);
    }
    return open_container(ec, true);
  }

  bool on_object_end(std::size_t n, json::error_code& ec) {
    if (n > 1 && !check_unique_keys(ec)) return false;
    const Frame& closed = frames_.back();
    key_starts_.resize(closed.first_key);
    key_chars_.resize(closed.first_char);
    frames_.pop_back();
    values_.push_object(n);
    if (at_event_level()) {
      events_.push_back(values_.release());
    }
    return value_done();
  }

  bool on_array_begin(json::error_code& ec) {
    if (frames_.empty()) {
      array_body_ = true;
      frames_.push_back(Frame{false, 0, 0, 0});
      return true;
    }
    if (at_event_level()) return fail_not_event(ec);
    return open_container(ec, false);
  }

  bool on_array_end(std::size_t n, json::error_code& ec) {
    frames_.pop_back();
    if (frames_.empty()) {
      if (n == 0) return fail(ec, RejectReason::batch_too_large, "event", "empty array");
      return true;
    }
    values_.push_array(n);
    return value_done();
  }

  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    key_chars_.append(s.data(), s.size());
    values_.push_chars(s);
    return true;
  }

  bool on_key(json::string_view s, std::size_t n, json::error_code&) {
    key_chars_.append(s.data(), s.size());
    key_starts_.push_back(key_chars_.size() - n);
    values_.push_key(s);
    return true;
  }

  bool on_string_part(json::string_view s, std::size_t, json::error_code& ec) {
    if (at_event_level()) return fail_not_event(ec);
    values_.push_chars(s);
    return true;
  }

  bool on_string(json::string_view s, std::size_t, json::error_code& ec) {
    if (at_event_level()) return fail_not_event(ec);
    values_.push_string(s);
    return value_done();
  }

  bool on_number_part(json::string_view, json::error_code&) { return true; }

  bool on_int64(std::int64_t i, json::string_view, json::error_code& ec) {
    if (at_event_level()) return fail_not_event(ec);
    values_.push_int64(i);
    return value_done();
  }

  bool on_uint64(std::uint64_t u, json::string_view, json::error_code& ec) {
    if (at_event_level()) return fail_not_event(ec);
    values_.push_uint64(u);
    return value_done();
  }

  bool on_double(double d, json::string_view, json::error_code& ec) {
    if (at_event_level()) return fail_not_event(ec);
    // Boost.JSON reads a number beyond a double's range (1e999) as infinity, which JSON cannot
    // carry: the stored document would not parse.
    if (!std::isfinite(d)) {
      return fail(ec, RejectReason::schema, value_path(), "number out of range");
    }
    values_.push_double(d);
    return value_done();
  }

  bool on_bool(bool b, json::error_code& ec) {
    if (at_event_level()) return fail_not_event(ec);
    values_.push_bool(b);
    return value_done();
  }

  bool on_null(json::error_code& ec) {
    if (at_event_level()) return fail_not_event(ec);
    values_.push_null();
    return value_done();
  }

  // Comments are disabled in the parse options.
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

 private:
  struct Frame {
    bool is_object;
    std::size_t first_key;   // index into key_starts_ of this object's first key
    std::size_t first_char;  // offset into key_chars_ of this object's first key
    std::size_t count;       // completed elements, for arrays: the index of the one being parsed
  };

  // True where the next value is an event: the top level, or directly inside the body array.
  bool at_event_level() const { return frames_.size() == (array_body_ ? 1U : 0U); }

  bool open_container(json::error_code& ec, bool is_object) {
    const std::size_t event_depth = frames_.size() + (array_body_ ? 0U : 1U);
    if (event_depth > limits_.max_depth) {
      return fail(ec, RejectReason::schema, container_path(true),
                  "nesting deeper than " + std::to_string(limits_.max_depth));
    }
    frames_.push_back(Frame{is_object, key_starts_.size(), key_chars_.size(), 0});
    return true;
  }

  bool value_done() {
    if (!frames_.empty()) ++frames_.back().count;
    return true;
  }

  json::string_view key_at(std::size_t i) const {
    const std::size_t begin = key_starts_[i];
    const std::size_t end = i + 1 < key_starts_.size() ? key_starts_[i + 1] : key_chars_.size();
    return {key_chars_.data() + begin, end - begin};
  }

  // Small objects (the common case) are checked pairwise; large ones by sorting, so a hostile
  // object with thousands of keys stays O(n log n).
  bool check_unique_keys(json::error_code& ec) {
    const std::size_t first = frames_.back().first_key;
    const std::size_t count = key_starts_.size() - first;
    constexpr std::size_t kPairwiseLimit = 16;
    if (count <= kPairwiseLimit) {
      for (std::size_t i = first + 1; i < key_starts_.size(); ++i) {
        const json::string_view key = key_at(i);
        for (std::size_t j = first; j < i; ++j) {
          if (key_at(j) == key) return fail_duplicate(ec, key);
        }
      }
      return true;
    }
    sorted_keys_.clear();
    for (std::size_t i = first; i < key_starts_.size(); ++i) sorted_keys_.push_back(key_at(i));
    std::sort(sorted_keys_.begin(), sorted_keys_.end());
    const auto duplicate = std::adjacent_find(sorted_keys_.begin(), sorted_keys_.end());
    if (duplicate != sorted_keys_.end()) return fail_duplicate(ec, *duplicate);
    return true;
  }

  // Path of the innermost open container, e.g. "event[2].payload.value"; with `pending_child`,
  // of the container about to be opened inside it.
  std::string container_path(bool pending_child) const {
    std::string path;
    std::size_t first_frame = 0;
    if (array_body_) {
      append_event_prefix_for_body(path);
      first_frame = 1;
    } else {
      path += "event";
    }
    const std::size_t end = frames_.size() + (pending_child ? 1 : 0);
    for (std::size_t f = first_frame + 1; f < end; ++f) {
      // The child's key is the last one before its own first key.
      const std::size_t child_first_key =
          f < frames_.size() ? frames_[f].first_key : key_starts_.size();
      append_step(path, frames_[f - 1], child_first_key);
    }
    return path;
  }

  // Path of the scalar value being parsed, e.g. "event.payload.value" or "event.payload.x[3]".
  std::string value_path() const {
    std::string path = container_path(false);
    append_step(path, frames_.back(), key_starts_.size());
    return path;
  }

  // One step below `parent`: ".key" for an object (its key is the last one before
  // `keys_before`), "[n]" for an array.
  void append_step(std::string& path, const Frame& parent, std::size_t keys_before) const {
    if (parent.is_object) {
      path += '.';
      const json::string_view key = key_at(keys_before - 1);
      detail::append_echoed_name(path, std::string_view(key.data(), key.size()));
    } else {
      path += '[';
      path += std::to_string(parent.count);
      path += ']';
    }
  }

  void append_event_prefix_for_body(std::string& path) const {
    detail::append_event_prefix(path, true, frames_.front().count);
  }

  bool fail_duplicate(json::error_code& ec, json::string_view key) {
    std::string path = container_path(false);
    path += '.';
    detail::append_echoed_name(path, std::string_view(key.data(), key.size()));
    return fail(ec, RejectReason::schema, std::move(path), "duplicate key");
  }

  bool fail_not_event(json::error_code& ec) {
    if (array_body_) {
      std::string path;
      append_event_prefix_for_body(path);
      return fail(ec, RejectReason::schema, std::move(path), "object required");
    }
    return fail(ec, RejectReason::schema, "event", "object or array of objects required");
  }

  bool fail(json::error_code& ec, RejectReason reason, std::string path, std::string_view detail) {
    error_ = detail::make_error(reason, std::move(path), detail);
    return fail(ec);
  }

  // The code only stops basic_parser; error_ carries what the device is told.
  static bool fail(json::error_code& ec) {
    ec = json::error::exception;
    return false;
  }

  const ValidationLimits& limits_;
  json::value_stack values_;
  json::storage_ptr storage_;
  std::vector<json::value> events_;
  std::vector<Frame> frames_;
  std::vector<std::size_t> key_starts_;  // keys of all open objects, outermost first
  std::string key_chars_;                // their characters, back to back
  std::vector<json::string_view> sorted_keys_;
  bool array_body_ = false;
  std::optional<ValidationError> error_;
};

json::parse_options parse_options_for(const ValidationLimits& limits) {
  json::parse_options options;
  // basic_parser refuses the container beyond its limit before BodyHandler sees it, so leave room
  // for the body array plus the one level BodyHandler needs to see to report the offending path.
  // This bound then only guarantees that nothing deeper is ever parsed.
  options.max_depth = limits.max_depth + 2;
  return options;
}

// Enough for a full batch of small events without touching the heap.
constexpr std::size_t kArenaSize = std::size_t{64} * 1024;
constexpr std::size_t kValueStackSize = std::size_t{4} * 1024;

}  // namespace

struct EventValidator::State {
  explicit State(const ValidationLimits& limits)
      : parser(parse_options_for(limits), limits, value_stack_buffer, sizeof(value_stack_buffer)) {}

  // Re-created rather than release()d for every body: Boost 1.81's release() keeps the doubled
  // size of the next upstream block, so every body larger than the arena would double it again
  // until allocation fails.
  json::storage_ptr fresh_arena() {
    arena_resource.emplace(arena, sizeof(arena));
    return json::storage_ptr(&*arena_resource);
  }

  // Declaration order matters: the parser holds values allocated from arena_resource.
  alignas(std::max_align_t) unsigned char arena[kArenaSize]{};
  alignas(json::value) unsigned char value_stack_buffer[kValueStackSize]{};
  std::optional<json::monotonic_resource> arena_resource;
  json::basic_parser<BodyHandler> parser;
};

EventValidator::EventValidator(ValidationLimits limits)
    : limits_(limits), state_(std::make_unique<State>(limits_)) {}

EventValidator::~EventValidator() = default;

ValidationResult EventValidator::validate(std::string_view body, std::int64_t received_at_ms,
                                          std::string_view authenticated_sender) {
  ValidationResult result;
  if (body.empty()) {
    result.error = ValidationError{RejectReason::malformed_json, "malformed JSON: empty body"};
    return result;
  }

  BodyHandler& handler = state_->parser.handler();
  // The previous request's values live in the arena: drop every reference before reusing it.
  handler.clear();
  handler.start(state_->fresh_arena());
  state_->parser.reset();

  json::error_code ec;
  const std::size_t consumed = state_->parser.write_some(false, body.data(), body.size(), ec);
  if (handler.error()) {
    result.error = std::move(handler.error());
    return result;
  }
  if (ec || consumed < body.size()) {
    const std::string what = ec ? ec.message() : std::string("trailing data after the value");
    result.error =
        ValidationError{RejectReason::malformed_json,
                        "malformed JSON at byte " + std::to_string(consumed) + ": " + what};
    return result;
  }

  std::vector<json::value>& events = handler.events();
  result.events.reserve(events.size());
  for (std::size_t i = 0; i < events.size(); ++i) {
    auto error =
        detail::read_event(events[i].get_object(), detail::EventLocation{handler.array_body(), i},
                           received_at_ms, limits_, authenticated_sender, result.events);
    if (error) {
      result.events.clear();
      result.error = std::move(error);
      return result;
    }
  }
  return result;
}

}  // namespace iot::event

#include "elastic/bulk_response.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <utility>

namespace iot::elastic {
namespace {

namespace json = boost::json;

constexpr std::size_t kMaxReason = 300;

ItemOutcome classify_item(int status) {
  if (status == 200 || status == 201) return ItemOutcome::created;
  if (status == 409) return ItemOutcome::duplicate;
  if (status >= 400 && status < 500 && status != 429) return ItemOutcome::rejected;
  // 429, 5xx and anything unexpected: the deterministic _id makes a needless retry harmless,
  // while a needless rejection would lose the event.
  return ItemOutcome::retry;
}

std::string_view view(const json::string& text) {
  return {text.data(), text.size()};
}

// Cuts at a UTF-8 character boundary: the reason ends up in logs and in the dead-letter stream,
// where an invalid byte sequence could get that document rejected in turn.
void truncate_utf8(std::string& text, std::size_t limit) {
  if (text.size() <= limit) return;
  std::size_t end = limit;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  text.resize(end);
}

std::string error_reason(const json::value* error) {
  if (error == nullptr) return {};
  std::string out;
  if (const json::string* text = error->if_string()) {
    // Elasticsearch 1.x sent the error as one string.
    out = view(*text);
  } else if (const json::object* object = error->if_object()) {
    const json::value* type = object->if_contains("type");
    const json::value* reason = object->if_contains("reason");
    if (type != nullptr && type->is_string()) out = view(type->get_string());
    if (reason != nullptr && reason->is_string()) {
      if (!out.empty()) out += ": ";
      out += view(reason->get_string());
    }
  }
  truncate_utf8(out, kMaxReason);
  return out;
}

// 0 stands for a status that is missing, not an integer, or not a plausible HTTP status.
int read_status(const json::value* status) {
  if (status == nullptr) return 0;
  if (status->is_int64()) {
    const std::int64_t value = status->get_int64();
    return value >= 100 && value <= 999 ? static_cast<int>(value) : 0;
  }
  if (status->is_uint64()) {
    const std::uint64_t value = status->get_uint64();
    return value >= 100 && value <= 999 ? static_cast<int>(value) : 0;
  }
  return 0;
}

}  // namespace

std::variant<BulkResult, std::string> parse_bulk_response(std::string_view body,
                                                          std::size_t expected_items) {
  // A 1000-item answer is about 100 KB of JSON and tens of thousands of small values: one arena
  // sized from the body, freed at once, instead of an allocation per value.
  json::monotonic_resource resource(body.size() * 2 + 1024);
  json::parse_options options;
  // The error of an item nests through caused_by; leave room beyond the default of 32.
  options.max_depth = 128;
  json::error_code ec;
  const json::value root =
      json::parse(json::string_view(body.data(), body.size()), ec, &resource, options);
  if (ec) return "bulk response is not valid JSON: " + ec.message();

  const json::object* object = root.if_object();
  if (object == nullptr) return std::string("bulk response is not a JSON object");
  const json::value* items_value = object->if_contains("items");
  if (items_value == nullptr) return std::string("bulk response has no \"items\"");
  const json::array* items = items_value->if_array();
  if (items == nullptr) return std::string("bulk response \"items\" is not an array");
  if (items->size() != expected_items) {
    return "bulk response has " + std::to_string(items->size()) + " items, " +
           std::to_string(expected_items) + " expected";
  }

  BulkResult result;
  result.items.reserve(items->size());
  for (std::size_t i = 0; i < items->size(); ++i) {
    const json::object* item = (*items)[i].if_object();
    // Exactly one key, the operation: with more, which one belongs to this document is unknown.
    if (item == nullptr || item->size() != 1) {
      return "bulk response item " + std::to_string(i) +
             " is not an object with exactly one operation";
    }
    const json::object* operation = item->begin()->value().if_object();
    if (operation == nullptr) {
      return "bulk response item " + std::to_string(i) + " operation is not an object";
    }
    ItemResult& entry = result.items.emplace_back();
    entry.status = read_status(operation->if_contains("status"));
    entry.outcome = classify_item(entry.status);
    if (entry.outcome == ItemOutcome::retry || entry.outcome == ItemOutcome::rejected) {
      entry.reason = error_reason(operation->if_contains("error"));
      if (entry.status == 0 && entry.reason.empty()) entry.reason = "no valid status in the item";
    }
  }
  return result;
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

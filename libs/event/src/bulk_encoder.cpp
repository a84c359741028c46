#include "event/bulk_encoder.hpp"

#include <array>
#include <boost/json/serializer.hpp>
#include <charconv>

#include "rfc3339.hpp"

#define XXH_STATIC_LINKING_ONLY  // XXH3_state_t on the stack instead of XXH3_createState()
#include <xxhash.h>

namespace iot::event {
namespace {

namespace json = boost::json;

constexpr std::size_t kIdChars = 32;
using EventId = std::array<char, kIdChars>;

void append_serialized(std::string& out, json::serializer& serializer) {
  char chunk[512];
  while (!serializer.done()) {
    const json::string_view part = serializer.read(chunk);
    out.append(part.data(), part.size());
  }
}

void append_json_string(std::string& out, json::serializer& serializer, std::string_view text) {
  serializer.reset(json::string_view(text.data(), text.size()));
  append_serialized(out, serializer);
}

template <typename Number>
void append_number(std::string& out, Number value) {
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  out.append(buffer, result.ptr);
}

// Boost.JSON writes 21.5 as 2.15E1; analysts read _source in Kibana, so numbers are written in
// their shortest round-trip form instead (21.5, 1e+21). Depth is bounded by the validator.
void append_value(std::string& out, json::serializer& serializer, const json::value& value);

void append_object(std::string& out, json::serializer& serializer, const json::object& object) {
  out += '{';
  bool first = true;
  for (const auto& member : object) {
    if (!first) out += ',';
    first = false;
    append_json_string(out, serializer, std::string_view(member.key().data(), member.key().size()));
    out += ':';
    append_value(out, serializer, member.value());
  }
  out += '}';
}

void append_value(std::string& out, json::serializer& serializer, const json::value& value) {
  switch (value.kind()) {
    case json::kind::object:
      append_object(out, serializer, value.get_object());
      return;
    case json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& element : value.get_array()) {
        if (!first) out += ',';
        first = false;
        append_value(out, serializer, element);
      }
      out += ']';
      return;
    }
    case json::kind::string: {
      const auto& text = value.get_string();
      append_json_string(out, serializer, std::string_view(text.data(), text.size()));
      return;
    }
    case json::kind::double_:
      append_number(out, value.get_double());
      return;
    case json::kind::int64:
      append_number(out, value.get_int64());
      return;
    case json::kind::uint64:
      append_number(out, value.get_uint64());
      return;
    case json::kind::bool_:
      out += value.get_bool() ? "true" : "false";
      return;
    case json::kind::null:
      out += "null";
      return;
  }
}

void append_time(std::string& out, std::int64_t epoch_ms) {
  char buffer[detail::kRfc3339MaxChars];
  out.append(buffer, detail::write_rfc3339_ms(epoch_ms, buffer));
}

void hash_u64(XXH3_state_t& state, std::uint64_t value) {
  // Fixed little-endian so ids do not depend on the host.
  unsigned char bytes[8];
  for (unsigned char& byte : bytes) {
    byte = static_cast<unsigned char>(value & 0xff);
    value >>= 8;
  }
  XXH3_128bits_update(&state, bytes, sizeof(bytes));
}

void hash_part(XXH3_state_t& state, std::string_view part) {
  hash_u64(state, part.size());
  XXH3_128bits_update(&state, part.data(), part.size());
}

// The identity is hashed as len(namespace) namespace len(sender) sender len(origin) origin
// timestamp_ms payload, lengths and timestamp as 8-byte little-endian integers. The length
// prefixes keep ("ab","c") and ("a","bc") apart; the payload needs none because it comes last.
// Changing this changes every id, and with it the deduplication of retried requests.
EventId compute_id(const Event& event, std::string_view serialized_payload) {
  XXH3_state_t state;
  XXH3_INITSTATE(&state);
  XXH3_128bits_reset(&state);
  hash_part(state, event.event_namespace);
  hash_part(state, event.sender);
  hash_part(state, event.origin);
  hash_u64(state, static_cast<std::uint64_t>(event.timestamp_ms));
  XXH3_128bits_update(&state, serialized_payload.data(), serialized_payload.size());

  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, XXH3_128bits_digest(&state));
  constexpr char kHex[] = "0123456789abcdef";
  EventId id;
  for (std::size_t i = 0; i < sizeof(canonical.digest); ++i) {
    id[2 * i] = kHex[canonical.digest[i] >> 4];
    id[2 * i + 1] = kHex[canonical.digest[i] & 0x0f];
  }
  return id;
}

}  // namespace

std::string event_id(const Event& event) {
  json::serializer serializer;
  std::string payload;
  append_object(payload, serializer, event.payload);
  const EventId id = compute_id(event, payload);
  return std::string(id.data(), id.size());
}

void append_bulk_create(std::string& out, const Event& event,
                        const StoredDocumentContext& context) {
  json::serializer serializer;

  out += R"({"create":{"_index":)";
  append_json_string(out, serializer, context.index);
  out += R"(,"_id":")";
  // The id hashes the payload exactly as written below, so it is filled in afterwards rather
  // than serialising the payload twice.
  const std::size_t id_at = out.size();
  out.append(kIdChars, '0');
  out += "\"}}\n";

  out += R"({"@timestamp":")";
  append_time(out, event.timestamp_ms);
  out += R"(","namespace":)";
  append_json_string(out, serializer, event.event_namespace);
  out += R"(,"sender":)";
  append_json_string(out, serializer, event.sender);
  out += R"(,"origin":)";
  append_json_string(out, serializer, event.origin);
  out += R"(,"payload":)";
  const std::size_t payload_at = out.size();
  append_object(out, serializer, event.payload);
  const std::size_t payload_size = out.size() - payload_at;
  // payload.value is kept unindexed (any JSON type, never a mapping conflict); these copies make
  // it chartable (numbers) and searchable (text, booleans). Not part of the id: derived data.
  if (const auto* value = event.payload.if_contains("value")) {
    if (value->is_number()) {
      out += R"(,"value_number":)";
      append_value(out, serializer, *value);
    } else if (value->is_string()) {
      out += R"(,"value_text":)";
      append_value(out, serializer, *value);
    } else if (value->is_bool()) {
      out += value->get_bool() ? R"(,"value_text":"true")" : R"(,"value_text":"false")";
    }
  }
  if (event.timestamp_from_device) {
    out += R"(,"timestamp":")";
    append_time(out, event.timestamp_ms);
    out += '"';
  }
  out += R"(,"received_at":")";
  append_time(out, context.received_at_ms);
  out += R"(","collector":)";
  append_json_string(out, serializer, context.collector);
  out += "}\n";

  const EventId id = compute_id(event, std::string_view(out).substr(payload_at, payload_size));
  out.replace(id_at, kIdChars, id.data(), kIdChars);
}

}  // namespace iot::event

#include "bulk_document_check.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdio>
#include <string_view>

#include "fuzz_check.hpp"

namespace iot::fuzz {
namespace {

boost::json::value parse_line(std::string_view line) {
  boost::system::error_code error;
  boost::json::value value = boost::json::parse(line, error);
  if (error) {
    std::fprintf(stderr, "not JSON (%s): %.*s\n", error.message().c_str(),
                 static_cast<int>(line.size()), line.data());
  }
  FUZZ_CHECK(!error);
  FUZZ_CHECK(value.is_object());
  return value;
}

bool is_lower_hex(std::string_view text) {
  for (const char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

void check_bulk_document(std::string_view document) {
  FUZZ_CHECK(!document.empty() && document.back() == '\n');
  const std::size_t first_end = document.find('\n');
  FUZZ_CHECK(first_end != std::string_view::npos);
  FUZZ_CHECK(first_end + 1 < document.size());  // a second line follows the action line
  const std::string_view action = document.substr(0, first_end);
  const std::string_view source = document.substr(first_end + 1, document.size() - first_end - 2);
  FUZZ_CHECK(source.find('\n') == std::string_view::npos);  // raw newlines would split the NDJSON

  const boost::json::value action_json = parse_line(action);
  const auto* create = action_json.as_object().if_contains("create");
  FUZZ_CHECK(create != nullptr && create->is_object());
  const auto* id = create->as_object().if_contains("_id");
  FUZZ_CHECK(id != nullptr && id->is_string());
  FUZZ_CHECK(id->as_string().size() == 32 && is_lower_hex(id->as_string()));

  const boost::json::value source_json = parse_line(source);
  for (const char* field : {"@timestamp", "namespace", "sender", "origin", "received_at"}) {
    const auto* value = source_json.as_object().if_contains(field);
    FUZZ_CHECK(value != nullptr && value->is_string());
  }
  const auto* payload = source_json.as_object().if_contains("payload");
  FUZZ_CHECK(payload != nullptr && payload->is_object());
}

}  // namespace iot::fuzz

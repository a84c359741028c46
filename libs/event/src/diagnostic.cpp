#include "diagnostic.hpp"

#include <utility>

namespace iot::event::detail {
namespace {

constexpr std::size_t kMaxPath = 80;

}  // namespace

void append_event_prefix(std::string& out, bool in_array, std::size_t index) {
  out += "event";
  if (in_array) {
    out += '[';
    out += std::to_string(index);
    out += ']';
  }
}

void append_echoed_name(std::string& out, std::string_view name) {
  const bool shortened = name.size() > kMaxEchoedName;
  if (shortened) name = name.substr(0, kMaxEchoedName - 3);
  for (const char c : name) out += c >= 0x20 && c < 0x7f ? c : '?';
  if (shortened) out += "...";
}

ValidationError make_error(RejectReason reason, std::string path, std::string_view detail) {
  if (path.size() > kMaxPath) {
    path.resize(kMaxPath - 3);
    path += "...";
  }
  path += ": ";
  path += detail;
  return ValidationError{reason, std::move(path)};
}

}  // namespace iot::event::detail

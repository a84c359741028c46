#pragma once

#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <variant>

namespace iot::logging {

enum class Format { text, json };
enum class Level { trace, debug, info, warn, error, off };

// Parses "trace|debug|info|warn|error|off"; throws std::invalid_argument otherwise.
Level parse_level(std::string_view text);

// Configures the process-wide logger once, before threads start: stderr, UTC timestamps.
//   text: 2026-11-23T10:00:00.123Z info ready coap=0.0.0.0:5683 threads=2
//   json:
//   {"ts":"2026-11-23T10:00:00.123Z","level":"info","msg":"ready","coap":"0.0.0.0:5683","threads":2}
void configure(Format format, Level level);

bool enabled(Level level);

// One structured field of a log line. Values are never secrets: callers pass only what an
// operator may see.
class Field {
 public:
  Field(std::string_view key, std::string_view value) : key_(key), value_(value) {}
  Field(std::string_view key, const char* value) : key_(key), value_(std::string_view(value)) {}
  Field(std::string_view key, const std::string& value)
      : key_(key), value_(std::string_view(value)) {}
  Field(std::string_view key, bool value) : key_(key), value_(value) {}
  Field(std::string_view key, double value) : key_(key), value_(value) {}
  template <std::signed_integral T>
  Field(std::string_view key, T value) : key_(key), value_(static_cast<std::int64_t>(value)) {}
  template <std::unsigned_integral T>
  requires(!std::same_as<T, bool>) Field(std::string_view key, T value)
      : key_(key), value_(static_cast<std::uint64_t>(value)) {}

  std::string_view key() const { return key_; }
  const auto& value() const { return value_; }

 private:
  std::string_view key_;
  std::variant<std::string_view, std::int64_t, std::uint64_t, double, bool> value_;
};

void write(Level level, std::string_view message, std::span<const Field> fields);
inline void write(Level level, std::string_view message, std::initializer_list<Field> fields) {
  write(level, message, std::span<const Field>(fields.begin(), fields.size()));
}

inline void trace(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::trace, m, f);
}
inline void debug(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::debug, m, f);
}
inline void info(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::info, m, f);
}
inline void warn(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::warn, m, f);
}
inline void error(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::error, m, f);
}

}  // namespace iot::logging

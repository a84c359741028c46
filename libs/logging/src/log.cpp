#include "logging/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <charconv>
#include <stdexcept>

namespace iot::logging {
namespace {

// Set once in configure() before any worker thread exists; read-only afterwards.
std::atomic<Format> g_format{Format::text};

spdlog::level::level_enum to_spdlog(Level level) {
  switch (level) {
    case Level::trace:
      return spdlog::level::trace;
    case Level::debug:
      return spdlog::level::debug;
    case Level::info:
      return spdlog::level::info;
    case Level::warn:
      return spdlog::level::warn;
    case Level::error:
      return spdlog::level::err;
    case Level::off:
      return spdlog::level::off;
  }
  return spdlog::level::info;
}

void append_json_string(std::string& out, std::string_view text) {
  out.push_back('"');
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          static constexpr char kHex[] = "0123456789abcdef";
          out += "\\u00";
          out.push_back(kHex[(c >> 4) & 0xf]);
          out.push_back(kHex[c & 0xf]);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

// Text values are quoted only when they would otherwise be ambiguous (logfmt style).
void append_text_value(std::string& out, std::string_view text) {
  bool needs_quotes = text.empty();
  for (char c : text) {
    if (c == ' ' || c == '"' || c == '=' || static_cast<unsigned char>(c) < 0x20)
      needs_quotes = true;
  }
  if (needs_quotes) {
    append_json_string(out, text);
  } else {
    out += text;
  }
}

template <typename T>
void append_number(std::string& out, T value) {
  char buffer[32];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, ec == std::errc() ? end : buffer);
}

void append_value(std::string& out, const Field& field, bool json) {
  std::visit(
      [&](const auto& v) {
        using V = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<V, std::string_view>) {
          json ? append_json_string(out, v) : append_text_value(out, v);
        } else if constexpr (std::is_same_v<V, bool>) {
          out += v ? "true" : "false";
        } else {
          append_number(out, v);
        }
      },
      field.value());
}

}  // namespace

Level parse_level(std::string_view text) {
  if (text == "trace") return Level::trace;
  if (text == "debug") return Level::debug;
  if (text == "info") return Level::info;
  if (text == "warn") return Level::warn;
  if (text == "error") return Level::error;
  if (text == "off") return Level::off;
  throw std::invalid_argument("expected trace|debug|info|warn|error|off");
}

void configure(Format format, Level level) {
  g_format.store(format);
  auto logger =
      std::make_shared<spdlog::logger>("iot", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  // The message part is pre-rendered by write(): plain text or the tail of a JSON object.
  logger->set_pattern(format == Format::json ? R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l",%v})"
                                             : "%Y-%m-%dT%H:%M:%S.%eZ %l %v",
                      spdlog::pattern_time_type::utc);
  logger->set_level(to_spdlog(level));
  logger->flush_on(spdlog::level::trace);  // operators and tests read stderr line by line
  spdlog::set_default_logger(std::move(logger));
}

bool enabled(Level level) {
  return spdlog::default_logger_raw()->should_log(to_spdlog(level));
}

void write(Level level, std::string_view message, std::span<const Field> fields) {
  auto* logger = spdlog::default_logger_raw();
  const auto spd_level = to_spdlog(level);
  if (!logger->should_log(spd_level)) return;
  const bool json = g_format.load(std::memory_order_relaxed) == Format::json;
  std::string line;
  line.reserve(128);
  if (json) {
    line += "\"msg\":";
    append_json_string(line, message);
    for (const auto& field : fields) {
      line.push_back(',');
      append_json_string(line, field.key());
      line.push_back(':');
      append_value(line, field, true);
    }
  } else {
    line += message;
    for (const auto& field : fields) {
      line.push_back(' ');
      line += field.key();
      line.push_back('=');
      append_value(line, field, false);
    }
  }
  logger->log(spd_level, "{}", line);
}

}  // namespace iot::logging

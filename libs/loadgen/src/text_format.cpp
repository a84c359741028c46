#include "text_format.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <ctime>

namespace iot::loadgen::text {
namespace {

// Enough for any double in fixed notation (309 integer digits) with up to 12 decimals.
using NumberBuffer = std::array<char, 352>;

}  // namespace

std::string fixed(double value, int decimals) {
  NumberBuffer buffer{};
  const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value,
                                    std::chars_format::fixed, decimals);
  return std::string(buffer.data(), result.ptr);
}

std::string fixed_half_up(double value, int decimals) {
  if (!std::isfinite(value) || decimals < 0) return fixed(value, decimals);
  // Shortest scientific text, "d.ddde+XX": its digits are what Java rounds.
  NumberBuffer buffer{};
  const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value,
                                    std::chars_format::scientific);
  const std::string_view scientific(buffer.data(), result.ptr);
  const std::size_t exponent_at = scientific.find('e');
  std::string digits;
  bool negative = false;
  for (const char c : scientific.substr(0, exponent_at)) {
    if (c == '-') negative = true;
    if (c >= '0' && c <= '9') digits += c;
  }
  int exponent = 0;
  const std::string_view exponent_text = scientific.substr(exponent_at + 1);
  std::from_chars(exponent_text.data() + (exponent_text.front() == '+' ? 1 : 0),
                  exponent_text.data() + exponent_text.size(), exponent);

  // value = 0.<digits> * 10^integer_digits
  int integer_digits = exponent + 1;
  const int kept = integer_digits + decimals;  // digits that survive the rounding
  if (kept < 0) {
    digits.clear();
  } else if (static_cast<std::size_t>(kept) < digits.size()) {
    const bool round_up = digits[static_cast<std::size_t>(kept)] >= '5';
    digits.resize(static_cast<std::size_t>(kept));
    if (round_up) {
      int at = kept - 1;
      while (at >= 0 && digits[static_cast<std::size_t>(at)] == '9') {
        digits[static_cast<std::size_t>(at--)] = '0';
      }
      if (at >= 0) {
        ++digits[static_cast<std::size_t>(at)];
      } else {  // 9.99 -> 10.0: one more integer digit
        digits.insert(digits.begin(), '1');
        ++integer_digits;
      }
    }
  }

  std::string integer_part = "0";
  std::string fraction = digits;
  if (integer_digits <= 0) {
    fraction.insert(0, static_cast<std::size_t>(-integer_digits), '0');
  } else {
    const auto whole = static_cast<std::size_t>(integer_digits);
    digits.resize(std::max(digits.size(), whole), '0');
    integer_part = digits.substr(0, whole);
    fraction = digits.substr(whole);
  }
  fraction.resize(static_cast<std::size_t>(decimals), '0');

  std::string text = negative ? "-" : "";
  text += integer_part;
  if (decimals > 0) text += "." + fraction;
  return text;
}

std::string shortest(double value) {
  NumberBuffer buffer{};
  const auto result =
      std::to_chars(buffer.data(), buffer.data() + buffer.size(), value, std::chars_format::fixed);
  return std::string(buffer.data(), result.ptr);
}

std::string integer(std::uint64_t value) {
  std::array<char, 24> buffer{};
  const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  return std::string(buffer.data(), result.ptr);
}

std::string pad_left(std::string_view text, std::size_t width) {
  std::string padded;
  if (text.size() < width) padded.assign(width - text.size(), ' ');
  padded += text;
  return padded;
}

std::string escape_html(std::string_view text) {
  std::string escaped;
  escaped.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        escaped += "&amp;";
        break;
      case '<':
        escaped += "&lt;";
        break;
      case '>':
        escaped += "&gt;";
        break;
      case '"':
        escaped += "&quot;";
        break;
      case '\'':
        escaped += "&#39;";
        break;
      case '\t':
      case '\n':
      case '\r':
        escaped += c;
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == '\x7f') {
          escaped += "\xEF\xBF\xBD";
        } else {
          escaped += c;
        }
    }
  }
  return escaped;
}

std::string rfc3339_utc(std::chrono::system_clock::time_point time) {
  using namespace std::chrono;
  const auto since_epoch = time.time_since_epoch();
  auto seconds_part = duration_cast<seconds>(since_epoch);
  auto millis = duration_cast<milliseconds>(since_epoch - seconds_part).count();
  if (millis < 0) {  // before 1970: floor, so the milliseconds stay within 0..999
    seconds_part -= seconds(1);
    millis += 1000;
  }
  const std::time_t whole_seconds = static_cast<std::time_t>(seconds_part.count());
  std::tm utc{};
  gmtime_r(&whole_seconds, &utc);
  std::array<char, 40> buffer{};
  const std::size_t length = std::strftime(buffer.data(), buffer.size(), "%Y-%m-%dT%H:%M:%S", &utc);
  std::string formatted(buffer.data(), length);
  const std::string millis_text = integer(static_cast<std::uint64_t>(millis));
  formatted += '.';
  formatted.append(3 - millis_text.size(), '0');
  formatted += millis_text;
  formatted += 'Z';
  return formatted;
}

}  // namespace iot::loadgen::text

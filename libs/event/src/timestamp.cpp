#include "event/timestamp.hpp"

#include <cstdio>

#include "rfc3339.hpp"

namespace iot::event {
namespace {

constexpr std::int64_t kMsPerDay = 86'400'000;

// Howard Hinnant's days_from_civil: proleptic Gregorian calendar, exact for every year, and free
// of the locale and TZ dependencies of timegm/strptime.
constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct CivilDate {
  std::int64_t year;
  unsigned month;
  unsigned day;
};

constexpr CivilDate civil_from_days(std::int64_t z) noexcept {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2 ? 1 : 0), m, d};
}

// Results outside years 0000-9999 (UTC) are refused so that format_rfc3339_ms can always print
// them back as "YYYY": "0000-01-01T00:30:00+01:00" would otherwise become year -1.
constexpr std::int64_t kMinEpochMs = days_from_civil(0, 1, 1) * kMsPerDay;
constexpr std::int64_t kMaxEpochMs = days_from_civil(9999, 12, 31) * kMsPerDay + kMsPerDay - 1;

static_assert(days_from_civil(1970, 1, 1) == 0);
static_assert(civil_from_days(0).year == 1970);

constexpr bool is_leap_year(std::int64_t y) noexcept {
  return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

constexpr unsigned days_in_month(std::int64_t y, unsigned m) noexcept {
  constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap_year(y) ? 29 : kDays[m - 1];
}

constexpr bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

// Reads exactly `count` ASCII digits at `pos`; the caller has checked the length.
bool read_digits(std::string_view text, std::size_t pos, std::size_t count, unsigned& out) {
  unsigned value = 0;
  for (std::size_t i = pos; i < pos + count; ++i) {
    if (!is_digit(text[i])) return false;
    value = value * 10 + static_cast<unsigned>(text[i] - '0');
  }
  out = value;
  return true;
}

char* write_two(char* out, unsigned value) noexcept {
  out[0] = static_cast<char>('0' + value / 10);
  out[1] = static_cast<char>('0' + value % 10);
  return out + 2;
}

}  // namespace

std::optional<std::int64_t> parse_rfc3339_ms(std::string_view text) {
  // "YYYY-MM-DDTHH:MM:SS" then an optional fraction and a mandatory zone: at least 20 chars.
  if (text.size() < 20) return std::nullopt;
  unsigned year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!read_digits(text, 0, 4, year) || text[4] != '-' || !read_digits(text, 5, 2, month) ||
      text[7] != '-' || !read_digits(text, 8, 2, day) || (text[10] != 'T' && text[10] != 't') ||
      !read_digits(text, 11, 2, hour) || text[13] != ':' || !read_digits(text, 14, 2, minute) ||
      text[16] != ':' || !read_digits(text, 17, 2, second)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 ||
      minute > 59 || second > 59) {
    return std::nullopt;
  }

  std::size_t pos = 19;
  unsigned millis = 0;
  if (text[pos] == '.') {
    const std::size_t first = ++pos;
    while (pos < text.size() && is_digit(text[pos])) {
      if (pos - first < 3) millis = millis * 10 + static_cast<unsigned>(text[pos] - '0');
      ++pos;
    }
    if (pos == first) return std::nullopt;
    for (std::size_t n = pos - first; n < 3; ++n) millis *= 10;
  }

  if (pos >= text.size()) return std::nullopt;
  std::int64_t offset_minutes = 0;
  const char zone = text[pos];
  if (zone == 'Z' || zone == 'z') {
    if (pos + 1 != text.size()) return std::nullopt;
  } else if (zone == '+' || zone == '-') {
    unsigned offset_hour = 0, offset_minute = 0;
    if (text.size() - pos != 6 || !read_digits(text, pos + 1, 2, offset_hour) ||
        text[pos + 3] != ':' || !read_digits(text, pos + 4, 2, offset_minute) || offset_hour > 23 ||
        offset_minute > 59) {
      return std::nullopt;
    }
    offset_minutes =
        (zone == '-' ? -1 : 1) * static_cast<std::int64_t>(offset_hour * 60 + offset_minute);
  } else {
    return std::nullopt;
  }

  const std::int64_t seconds_of_day = hour * 3'600 + minute * 60 + second;  // < 86'400
  const std::int64_t seconds =
      days_from_civil(year, month, day) * 86'400 + seconds_of_day - offset_minutes * 60;
  const std::int64_t result = seconds * 1'000 + millis;
  if (result < kMinEpochMs || result > kMaxEpochMs) return std::nullopt;
  return result;
}

std::string format_rfc3339_ms(std::int64_t epoch_ms) {
  char buffer[detail::kRfc3339MaxChars];
  return std::string(buffer, detail::write_rfc3339_ms(epoch_ms, buffer));
}

namespace detail {

std::size_t write_rfc3339_ms(std::int64_t epoch_ms, char* out) noexcept {
  // Floor division: times before 1970 belong to the previous day.
  std::int64_t days = epoch_ms / kMsPerDay;
  std::int64_t ms_of_day = epoch_ms % kMsPerDay;
  if (ms_of_day < 0) {
    ms_of_day += kMsPerDay;
    --days;
  }
  const CivilDate date = civil_from_days(days);
  char* p = out;
  if (date.year >= 0 && date.year <= 9999) {
    const auto y = static_cast<unsigned>(date.year);
    p = write_two(p, y / 100);
    p = write_two(p, y % 100);
  } else {
    // Only reachable from hand-built values; no validated event lies outside 0000-9999.
    p += std::snprintf(p, kRfc3339MaxChars - 20, "%lld", static_cast<long long>(date.year));
  }
  const auto ms = static_cast<unsigned>(ms_of_day);
  *p++ = '-';
  p = write_two(p, date.month);
  *p++ = '-';
  p = write_two(p, date.day);
  *p++ = 'T';
  p = write_two(p, ms / 3'600'000);
  *p++ = ':';
  p = write_two(p, ms / 60'000 % 60);
  *p++ = ':';
  p = write_two(p, ms / 1'000 % 60);
  *p++ = '.';
  *p++ = static_cast<char>('0' + ms / 100 % 10);
  p = write_two(p, ms % 100);
  *p++ = 'Z';
  return static_cast<std::size_t>(p - out);
}

}  // namespace detail
}  // namespace iot::event

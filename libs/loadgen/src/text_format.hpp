#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

// Number and text formatting shared by the renderers. Everything goes through std::to_chars, so
// a report reads the same whatever locale the program that prints it has set.
namespace iot::loadgen::text {

// printf("%.*f"): `decimals` digits after the point, rounded to nearest.
std::string fixed(double value, int decimals);
// Like fixed(), but rounded the way Java's Formatter does it: the shortest decimal text of
// `value`, rounded half up (1.535 gives "1.54", where printf sees 1.53499999... and gives "1.53").
// The .hgrm output uses it to match the reference implementation byte for byte.
std::string fixed_half_up(double value, int decimals);
// The shortest text that reads back as `value`, without an exponent ("0.5", "10000").
std::string shortest(double value);
std::string integer(std::uint64_t value);
// Right-aligns `text` in `width` columns, like printf's field width (never truncates).
std::string pad_left(std::string_view text, std::size_t width);
// Makes text safe inside HTML (and XML) elements and quoted attributes. Control characters,
// which XML forbids even as references, become U+FFFD.
std::string escape_html(std::string_view text);
// RFC 3339 in UTC with milliseconds: 2026-11-22T10:00:00.000Z.
std::string rfc3339_utc(std::chrono::system_clock::time_point time);

}  // namespace iot::loadgen::text

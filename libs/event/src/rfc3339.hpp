#pragma once

#include <cstddef>
#include <cstdint>

namespace iot::event::detail {

// Large enough for any int64 epoch value (a 9-digit, signed year at the extremes).
inline constexpr std::size_t kRfc3339MaxChars = 32;

// The allocation-free core of format_rfc3339_ms, for the bulk encoder's hot path.
// Writes without a terminating NUL and returns the number of characters written.
std::size_t write_rfc3339_ms(std::int64_t epoch_ms, char* out) noexcept;

}  // namespace iot::event::detail

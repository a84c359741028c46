#pragma once

#include <string_view>

namespace iot::fuzz {

// Checks one encoded bulk pair, as IngestHandler stores it: exactly two lines, each ending in
// '\n' and each a JSON object (Boost.JSON parses it), the first {"create":{"_index":..,"_id":..}}
// with a 32-hex-digit id, the second the event's source. Aborts otherwise.
void check_bulk_document(std::string_view document);

}  // namespace iot::fuzz

#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace iot::elastic {

// What became of one document of a bulk request.
enum class ItemOutcome {
  created,    // 201 (200 for an index operation)
  duplicate,  // 409 version_conflict_engine_exception on create: already stored, counts as stored
  retry,      // 429, 5xx, or a missing/unexpected status: send again (alone, with backoff)
  rejected,   // other 4xx (mapping, parse errors): not retried; goes to the dead-letter stream
};

struct ItemResult {
  ItemOutcome outcome = ItemOutcome::created;
  int status = 0;
  // "<error.type>: <error.reason>" for retry/rejected, cut to 300 bytes; else ""
  std::string reason;
};

struct BulkResult {
  std::vector<ItemResult> items;  // in request order
};

// Parses the body of a 200 answer to POST /_bulk (see the Elasticsearch specification:
// _global/bulk/BulkResponse.ts). Items must come back in request order and there must be
// exactly `expected_items` of them; anything else is an error string (the whole request is then
// treated as failed and retried).
std::variant<BulkResult, std::string> parse_bulk_response(std::string_view body,
                                                          std::size_t expected_items);

// Whole-request HTTP status: 200 -> success; 429, 502, 503, 504 -> retry with backoff; anything
// else (400, 401, 403, 404, 413, ...) -> fatal for this request: it will fail again unchanged.
enum class StatusClass { success, retry, fatal };
StatusClass classify_bulk_status(int http_status);

}  // namespace iot::elastic

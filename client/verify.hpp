#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace iot::client {

// What Elasticsearch holds of one load run. Every event of a run carries payload.run_id and a
// sequence number unique in the run (payload.value, indexed as value_number), so duplicates are
// found with a terms aggregation on it; `_id` cannot be aggregated (no fielddata in 8.x).
struct RunCount {
  std::uint64_t expected = 0;
  std::uint64_t documents = 0;          // documents carrying the run id
  std::uint64_t duplicated_events = 0;  // events stored more than once
  std::uint64_t extra_copies = 0;       // documents beyond the first of each event
  bool duplicates_truncated = false;    // more duplicated events than one search can list
  std::uint64_t distinct() const { return documents - extra_copies; }
  // Expected events not stored (0 when more distinct events than expected were stored).
  std::uint64_t missing() const { return expected > distinct() ? expected - distinct() : 0; }
  // Stored events beyond the expected count (e.g. events that were never acknowledged).
  std::uint64_t unexpected() const { return distinct() > expected ? distinct() - expected : 0; }
  bool matches() const { return extra_copies == 0 && distinct() == expected; }
};

inline constexpr std::uint64_t kMaxDuplicateBuckets = 10000;

// The body of POST /<data-stream>/_search for a run: exact total, no hits, and the sequence
// numbers seen at least twice.
std::string run_count_query(std::string_view run_id);

// Reads Elasticsearch's answer to run_count_query(); an error text when it is not one.
std::variant<RunCount, std::string> parse_run_count(std::string_view body, std::uint64_t expected);

// One line for people: "run 3f9a...: expected 1000, stored 1000 documents: 1000 distinct, 0
// missing, 0 duplicated".
std::string describe(const RunCount& count, std::string_view run_id);

}  // namespace iot::client

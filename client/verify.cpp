#include "verify.hpp"

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace iot::client {

namespace json = boost::json;

std::string run_count_query(std::string_view run_id) {
  const json::object query{
      {"size", 0},
      {"track_total_hits", true},
      {"query", {{"term", {{"payload.run_id", run_id}}}}},
      {"aggs",
       {{"duplicates",
         {{"terms",
           {{"field", "value_number"}, {"min_doc_count", 2}, {"size", kMaxDuplicateBuckets}}}}}}},
  };
  return json::serialize(query);
}

std::variant<RunCount, std::string> parse_run_count(std::string_view body, std::uint64_t expected) {
  boost::system::error_code error;
  const json::value parsed = json::parse(body, error);
  if (error || !parsed.is_object()) return std::string("the answer is not JSON");
  const auto& root = parsed.as_object();
  if (root.contains("error")) {
    return "Elasticsearch refused the search: " + json::serialize(root.at("error")).substr(0, 300);
  }
  try {
    RunCount count;
    count.expected = expected;
    const auto& total = root.at("hits").at("total");
    // track_total_hits: true gives {"value": n, "relation": "eq"}.
    count.documents = total.is_object() ? total.at("value").to_number<std::uint64_t>()
                                        : total.to_number<std::uint64_t>();
    const auto& buckets = root.at("aggregations").at("duplicates").at("buckets").as_array();
    for (const auto& bucket : buckets) {
      const auto copies = bucket.at("doc_count").to_number<std::uint64_t>();
      if (copies < 2) continue;
      ++count.duplicated_events;
      count.extra_copies += copies - 1;
    }
    count.duplicates_truncated = buckets.size() >= kMaxDuplicateBuckets;
    if (count.extra_copies > count.documents) return std::string("inconsistent counts");
    return count;
  } catch (const std::exception& e) {
    return std::string("unexpected answer shape: ") + e.what();
  }
}

std::string describe(const RunCount& count, std::string_view run_id) {
  std::string text = "run " + std::string(run_id) + ": expected " + std::to_string(count.expected) +
                     ", stored " + std::to_string(count.documents) +
                     " documents: " + std::to_string(count.distinct()) + " distinct, " +
                     std::to_string(count.missing()) + " missing, " +
                     std::to_string(count.duplicated_events) + " duplicated (" +
                     std::to_string(count.extra_copies) + " extra copies" +
                     (count.duplicates_truncated ? ", at least" : "") + ")";
  if (count.unexpected() > 0) {
    text += ", " + std::to_string(count.unexpected()) + " more than expected";
  }
  return text;
}

}  // namespace iot::client

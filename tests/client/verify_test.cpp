#include "verify.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace iot::client {
namespace {

namespace json = boost::json;

std::string answer(std::uint64_t total, std::string buckets) {
  return R"({"took":3,"timed_out":false,"hits":{"total":{"value":)" + std::to_string(total) +
         R"(,"relation":"eq"},"hits":[]},"aggregations":{"duplicates":{"buckets":[)" + buckets +
         "]}}}";
}

TEST(RunCountQuery, ExactTotalAndDuplicatesOfTheSequenceNumber) {
  const auto query = json::parse(run_count_query("abc123"));
  EXPECT_EQ(query.at("track_total_hits"), true);
  EXPECT_EQ(query.at("size"), 0);
  EXPECT_EQ(query.at("query").at("term").at("payload.run_id"), "abc123");
  const auto& terms = query.at("aggs").at("duplicates").at("terms");
  EXPECT_EQ(terms.at("field"), "value_number");
  EXPECT_EQ(terms.at("min_doc_count"), 2);
}

TEST(RunCount, EverythingThereOnce) {
  const auto count = std::get<RunCount>(parse_run_count(answer(100, ""), 100));
  EXPECT_TRUE(count.matches());
  EXPECT_EQ(count.missing(), 0u);
  EXPECT_EQ(describe(count, "r1"),
            "run r1: expected 100, stored 100 documents: 100 distinct, 0 missing, 0 duplicated (0 "
            "extra copies)");
}

TEST(RunCount, MissingAndDuplicatedAreSeparated) {
  // 100 documents, of which event 7 three times and event 9 twice: 97 distinct, 3 missing.
  const auto count = std::get<RunCount>(
      parse_run_count(answer(100, R"({"key":7.0,"doc_count":3},{"key":9.0,"doc_count":2})"), 100));
  EXPECT_FALSE(count.matches());
  EXPECT_EQ(count.duplicated_events, 2u);
  EXPECT_EQ(count.extra_copies, 3u);
  EXPECT_EQ(count.distinct(), 97u);
  EXPECT_EQ(count.missing(), 3u);
}

TEST(RunCount, MoreThanExpectedIsADifferenceToo) {
  const auto count = std::get<RunCount>(parse_run_count(answer(12, ""), 10));
  EXPECT_FALSE(count.matches());
  EXPECT_EQ(count.unexpected(), 2u);
  EXPECT_EQ(count.missing(), 0u);
}

TEST(RunCount, ErrorsAndStrangeAnswersAreReportedNotTrusted) {
  EXPECT_TRUE(std::holds_alternative<std::string>(parse_run_count("<html>", 1)));
  EXPECT_TRUE(std::holds_alternative<std::string>(
      parse_run_count(R"({"error":{"type":"index_not_found_exception"},"status":404})", 1)));
  EXPECT_TRUE(std::holds_alternative<std::string>(parse_run_count(R"({"hits":{}})", 1)));
  EXPECT_TRUE(std::holds_alternative<std::string>(
      parse_run_count(answer(1, R"({"key":1,"doc_count":5})"), 1)))
      << "more extra copies than documents";
}

}  // namespace
}  // namespace iot::client

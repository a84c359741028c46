#include "elastic/bulk_response.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>

namespace iot::elastic {
namespace {

using ::testing::HasSubstr;

constexpr std::string_view kDuplicateItem =
    R"j({"create":{"_index":".ds-iot-events-2026.11.22-000001","_id":"x","status":409,)j"
    R"j("error":{"type":"version_conflict_engine_exception",)j"
    R"j("reason":"[x]: version conflict, document already exists (current version [1])",)j"
    R"j("index_uuid":"aAsFqTI0Tc2W0LCWgPNrOA","shard":"0",)j"
    R"j("index":".ds-iot-events-2026.11.22-000001"}}})j";

std::string created_item(std::size_t i) {
  return R"({"create":{"_index":".ds-iot-events-2026.11.22-000001","_id":"id)" + std::to_string(i) +
         R"(","_version":1,"result":"created","_shards":{"total":2,"successful":1,"failed":0},)"
         R"("_seq_no":)" +
         std::to_string(i) + R"(,"_primary_term":1,"status":201}})";
}

std::string response(bool errors, const std::string& items) {
  return R"({"took":30,"errors":)" + std::string(errors ? "true" : "false") + R"(,"items":[)" +
         items + "]}";
}

BulkResult parse_ok(std::string_view body, std::size_t expected) {
  auto parsed = parse_bulk_response(body, expected);
  if (const auto* error = std::get_if<std::string>(&parsed)) {
    ADD_FAILURE() << "unexpected error: " << *error;
    return {};
  }
  return std::get<BulkResult>(std::move(parsed));
}

std::string parse_error(std::string_view body, std::size_t expected) {
  auto parsed = parse_bulk_response(body, expected);
  if (const auto* error = std::get_if<std::string>(&parsed)) return *error;
  ADD_FAILURE() << "accepted: " << body;
  return {};
}

ItemResult single(const std::string& item) {
  const BulkResult result = parse_ok(response(true, item), 1);
  return result.items.size() == 1 ? result.items[0] : ItemResult{};
}

TEST(BulkResponseTest, AllCreated) {
  const BulkResult result =
      parse_ok(response(false, created_item(0) + "," + created_item(1) + "," + created_item(2)), 3);
  ASSERT_EQ(result.items.size(), 3u);
  for (const ItemResult& item : result.items) {
    EXPECT_EQ(item.outcome, ItemOutcome::created);
    EXPECT_EQ(item.status, 201);
    EXPECT_EQ(item.reason, "");
  }
}

TEST(BulkResponseTest, ThousandItems) {
  std::string items;
  for (std::size_t i = 0; i < 1000; ++i) {
    if (i > 0) items += ',';
    items += i % 100 == 7 ? std::string(kDuplicateItem) : created_item(i);
  }
  const std::string body = response(true, items);
  EXPECT_GT(body.size(), 100'000u);
  const BulkResult result = parse_ok(body, 1000);
  ASSERT_EQ(result.items.size(), 1000u);
  for (std::size_t i = 0; i < 1000; ++i) {
    if (i % 100 == 7) {
      EXPECT_EQ(result.items[i].outcome, ItemOutcome::duplicate) << i;
      EXPECT_EQ(result.items[i].status, 409);
      EXPECT_EQ(result.items[i].reason, "");
    } else {
      EXPECT_EQ(result.items[i].outcome, ItemOutcome::created) << i;
      EXPECT_EQ(result.items[i].status, 201);
    }
  }
}

TEST(BulkResponseTest, MixedOutcomesInRequestOrder) {
  const std::string items =
      created_item(0) +
      R"(,{"create":{"_index":"iot-events","_id":"b","status":409,"error":{"type":"version_conflict_engine_exception","reason":"[b]: version conflict"}}})"
      R"(,{"create":{"_index":"iot-events","_id":"c","status":429,"error":{"type":"es_rejected_execution_exception","reason":"rejected execution"}}})"
      R"(,{"create":{"_index":"iot-events","_id":"d","status":400,"error":{"type":"document_parsing_exception","reason":"[1:80] failed to parse field [payload.x] of type [double]","caused_by":{"type":"illegal_argument_exception","reason":"x"}}}})"
      R"(,{"create":{"_index":"iot-events","_id":"e","status":503,"error":{"type":"unavailable_shards_exception","reason":"primary shard is not active"}}})";
  const BulkResult result = parse_ok(response(true, items), 5);
  ASSERT_EQ(result.items.size(), 5u);
  EXPECT_EQ(result.items[0].outcome, ItemOutcome::created);
  EXPECT_EQ(result.items[1].outcome, ItemOutcome::duplicate);
  EXPECT_EQ(result.items[1].reason, "");
  EXPECT_EQ(result.items[2].outcome, ItemOutcome::retry);
  EXPECT_EQ(result.items[2].status, 429);
  EXPECT_EQ(result.items[2].reason, "es_rejected_execution_exception: rejected execution");
  EXPECT_EQ(result.items[3].outcome, ItemOutcome::rejected);
  EXPECT_EQ(result.items[3].status, 400);
  EXPECT_EQ(
      result.items[3].reason,
      "document_parsing_exception: [1:80] failed to parse field [payload.x] of type [double]");
  EXPECT_EQ(result.items[4].outcome, ItemOutcome::retry);
  EXPECT_EQ(result.items[4].status, 503);
}

TEST(BulkResponseTest, ItemStatusClasses) {
  const auto outcome = [](int status) {
    return single(R"({"create":{"status":)" + std::to_string(status) + "}}").outcome;
  };
  EXPECT_EQ(outcome(200), ItemOutcome::created);
  EXPECT_EQ(outcome(201), ItemOutcome::created);
  EXPECT_EQ(outcome(409), ItemOutcome::duplicate);
  EXPECT_EQ(outcome(429), ItemOutcome::retry);
  for (const int status : {500, 502, 503, 504, 599}) EXPECT_EQ(outcome(status), ItemOutcome::retry);
  for (const int status : {400, 401, 403, 404, 413, 499}) {
    EXPECT_EQ(outcome(status), ItemOutcome::rejected) << status;
  }
  // Unknown statuses: a needless retry is harmless thanks to the deterministic _id.
  for (const int status : {100, 202, 204, 301, 304, 600, 999}) {
    EXPECT_EQ(outcome(status), ItemOutcome::retry) << status;
  }
}

TEST(BulkResponseTest, AnyOperationIsAccepted) {
  for (const std::string_view op : {"create", "index", "update", "delete"}) {
    const ItemResult item = single(R"({")" + std::string(op) + R"(":{"status":201}})");
    EXPECT_EQ(item.outcome, ItemOutcome::created) << op;
  }
  EXPECT_EQ(single(R"({"index":{"status":200}})").outcome, ItemOutcome::created);
}

TEST(BulkResponseTest, MissingStatusIsRetried) {
  const ItemResult item = single(R"({"create":{"_index":"iot-events","_id":"a"}})");
  EXPECT_EQ(item.outcome, ItemOutcome::retry);
  EXPECT_EQ(item.status, 0);
  EXPECT_FALSE(item.reason.empty());
}

TEST(BulkResponseTest, NonIntegerStatusIsRetried) {
  for (const std::string_view status :
       {R"("201")", "201.0", "null", "true", "-201", "1e3", "99999999999999999999"}) {
    const ItemResult item = single(R"({"create":{"status":)" + std::string(status) + "}}");
    EXPECT_EQ(item.outcome, ItemOutcome::retry) << status;
    EXPECT_EQ(item.status, 0) << status;
  }
}

TEST(BulkResponseTest, ErrorWithoutReason) {
  const ItemResult item =
      single(R"({"create":{"status":400,"error":{"type":"mapper_exception"}}})");
  EXPECT_EQ(item.outcome, ItemOutcome::rejected);
  EXPECT_EQ(item.reason, "mapper_exception");
}

TEST(BulkResponseTest, ErrorWithoutType) {
  EXPECT_EQ(single(R"({"create":{"status":400,"error":{"reason":"bad"}}})").reason, "bad");
}

TEST(BulkResponseTest, ErrorAsStringFromOldVersions) {
  const ItemResult item =
      single(R"({"create":{"status":400,"error":"MapperParsingException[failed to parse]"}})");
  EXPECT_EQ(item.outcome, ItemOutcome::rejected);
  EXPECT_EQ(item.reason, "MapperParsingException[failed to parse]");
}

TEST(BulkResponseTest, ErrorOfUnexpectedShapeOrNoError) {
  EXPECT_EQ(single(R"({"create":{"status":400,"error":42}})").reason, "");
  EXPECT_EQ(single(R"({"create":{"status":400}})").reason, "");
  EXPECT_EQ(single(R"({"create":{"status":400,"error":{"type":7,"reason":["x"]}}})").reason, "");
}

TEST(BulkResponseTest, ReasonIsTruncatedTo300Bytes) {
  const std::string reason(400, 'r');
  const ItemResult item =
      single(R"({"create":{"status":400,"error":{"type":"t","reason":")" + reason + R"("}}})");
  ASSERT_EQ(item.reason.size(), 300u);
  EXPECT_EQ(item.reason, "t: " + std::string(297, 'r'));
}

TEST(BulkResponseTest, ReasonOf300BytesIsKept) {
  const std::string reason(297, 'r');
  const ItemResult item =
      single(R"({"create":{"status":400,"error":{"type":"t","reason":")" + reason + R"("}}})");
  EXPECT_EQ(item.reason, "t: " + reason);
}

TEST(BulkResponseTest, TruncationDoesNotSplitMultiByteCharacter) {
  // "t: " + 296 bytes puts the 3-byte "€" (E2 82 AC) at bytes 299-301, across the limit.
  const std::string prefix(296, 'r');
  const ItemResult item = single(R"({"create":{"status":400,"error":{"type":"t","reason":")" +
                                 prefix + "\xE2\x82\xAC" + R"(tail"}}})");
  EXPECT_EQ(item.reason, "t: " + prefix);
  EXPECT_EQ(item.reason.size(), 299u);

  // A 4-byte character ending exactly at the limit is kept whole.
  const std::string shorter(293, 'r');
  const ItemResult kept = single(R"({"create":{"status":400,"error":{"type":"t","reason":")" +
                                 shorter + "\xF0\x9F\x94\xA5" + R"(tail"}}})");
  EXPECT_EQ(kept.reason, "t: " + shorter + "\xF0\x9F\x94\xA5");
}

TEST(BulkResponseTest, EscapedUnicodeInReasonIsDecoded) {
  const ItemResult item =
      single(R"({"create":{"status":400,"error":{"type":"t","reason":"caf\u00e9"}}})");
  EXPECT_EQ(item.reason, "t: caf\xC3\xA9");
}

TEST(BulkResponseTest, WrongItemCount) {
  EXPECT_THAT(parse_error(response(false, created_item(0) + "," + created_item(1)), 3),
              HasSubstr("2 items, 3 expected"));
  EXPECT_THAT(parse_error(response(false, created_item(0) + "," + created_item(1)), 1),
              HasSubstr("2 items, 1 expected"));
  EXPECT_THAT(parse_error(response(false, ""), 1), HasSubstr("0 items, 1 expected"));
}

TEST(BulkResponseTest, EmptyItemsForEmptyRequest) {
  EXPECT_TRUE(parse_ok(response(false, ""), 0).items.empty());
}

TEST(BulkResponseTest, TruncatedJson) {
  const std::string body = response(false, created_item(0) + "," + created_item(1));
  for (const std::size_t cut : {std::size_t{0}, std::size_t{1}, body.size() / 2, body.size() - 1}) {
    EXPECT_THAT(parse_error(body.substr(0, cut), 2), HasSubstr("not valid JSON")) << cut;
  }
}

TEST(BulkResponseTest, TrailingGarbageIsInvalid) {
  EXPECT_THAT(parse_error(response(false, created_item(0)) + "}", 1), HasSubstr("not valid JSON"));
}

TEST(BulkResponseTest, NonObjectRoot) {
  EXPECT_THAT(parse_error("[]", 0), HasSubstr("not a JSON object"));
  EXPECT_THAT(parse_error("\"ok\"", 0), HasSubstr("not a JSON object"));
  EXPECT_THAT(parse_error("null", 0), HasSubstr("not a JSON object"));
}

TEST(BulkResponseTest, MissingItems) {
  EXPECT_THAT(parse_error(R"({"took":1,"errors":false})", 0), HasSubstr("no \"items\""));
}

TEST(BulkResponseTest, ItemsNotAnArray) {
  EXPECT_THAT(parse_error(R"({"took":1,"errors":false,"items":{"create":{"status":201}}})", 1),
              HasSubstr("not an array"));
  EXPECT_THAT(parse_error(R"({"items":null})", 0), HasSubstr("not an array"));
}

TEST(BulkResponseTest, ItemWithTwoKeys) {
  EXPECT_THAT(
      parse_error(
          response(true, created_item(0) + R"(,{"create":{"status":201},"index":{"status":400}})"),
          2),
      HasSubstr("item 1 is not an object with exactly one operation"));
}

TEST(BulkResponseTest, ItemWithNoKey) {
  EXPECT_THAT(parse_error(response(true, "{}"), 1), HasSubstr("item 0 is not an object"));
}

TEST(BulkResponseTest, ItemNotAnObject) {
  EXPECT_THAT(parse_error(response(true, "201"), 1), HasSubstr("item 0 is not an object"));
  EXPECT_THAT(parse_error(response(true, "[]"), 1), HasSubstr("item 0 is not an object"));
}

TEST(BulkResponseTest, OperationNotAnObject) {
  EXPECT_THAT(parse_error(response(true, R"({"create":201})"), 1),
              HasSubstr("item 0 operation is not an object"));
}

TEST(BulkResponseTest, DeeplyNestedCausedByIsAccepted) {
  std::string error;
  for (int i = 0; i < 40; ++i) error += R"({"type":"t","reason":"r","caused_by":)";
  error += R"({"type":"root","reason":"r"})";
  error.append(40, '}');
  const ItemResult item = single(R"({"create":{"status":500,"error":)" + error + "}}");
  EXPECT_EQ(item.outcome, ItemOutcome::retry);
  EXPECT_EQ(item.reason, "t: r");
}

TEST(BulkResponseTest, ErrorsFlagIsNotTrustedOverItems) {
  const BulkResult result = parse_ok(response(false, R"({"create":{"status":429}})"), 1);
  ASSERT_EQ(result.items.size(), 1u);
  EXPECT_EQ(result.items[0].outcome, ItemOutcome::retry);
}

TEST(BulkStatusTest, Classes) {
  EXPECT_EQ(classify_bulk_status(200), StatusClass::success);
  for (const int status : {429, 502, 503, 504}) {
    EXPECT_EQ(classify_bulk_status(status), StatusClass::retry) << status;
  }
  for (const int status : {0, 100, 201, 204, 301, 400, 401, 403, 404, 413, 500, 501, 505}) {
    EXPECT_EQ(classify_bulk_status(status), StatusClass::fatal) << status;
  }
}

}  // namespace
}  // namespace iot::elastic

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

// The streaming parse keeps its own state; the tests below cover what it could get wrong.

TEST(BulkResponseTest, FilterPathResponse) {
  // What the bulk writer asks for: filter_path=errors,items.*.status,items.*.error.
  const BulkResult result = parse_ok(
      R"({"errors":true,"items":[{"create":{"status":201}},{"create":{"status":409,)"
      R"("error":{"type":"version_conflict_engine_exception","reason":"v"}}},)"
      R"({"create":{"status":400,"error":{"type":"t","reason":"r"}}},{"create":{"status":201}}]})",
      4);
  ASSERT_EQ(result.items.size(), 4u);
  EXPECT_EQ(result.items[0].outcome, ItemOutcome::created);
  EXPECT_EQ(result.items[1].outcome, ItemOutcome::duplicate);
  EXPECT_EQ(result.items[1].reason, "");
  EXPECT_EQ(result.items[2].outcome, ItemOutcome::rejected);
  EXPECT_EQ(result.items[2].reason, "t: r");
  EXPECT_EQ(result.items[3].outcome, ItemOutcome::created);
}

TEST(BulkResponseTest, NestedTypeAndReasonDoNotOverrideTopLevelOnes) {
  // caused_by and root_cause before and after the error's own type and reason.
  EXPECT_EQ(single(R"({"create":{"status":400,"error":{)"
                   R"("root_cause":[{"type":"rc","reason":"rc reason"}],)"
                   R"("caused_by":{"type":"inner","reason":"inner reason",)"
                   R"("caused_by":{"type":"innermost","reason":"innermost reason"}},)"
                   R"("type":"outer","reason":"outer reason",)"
                   R"("caused_by":{"type":"late","reason":"late reason"}}}})")
                .reason,
            "outer: outer reason");
  // Without a top-level type or reason, the nested ones are not used instead.
  EXPECT_EQ(single(R"({"create":{"status":400,"error":{"reason":"outer",)"
                   R"("caused_by":{"type":"inner","reason":"inner"}}}})")
                .reason,
            "outer");
  const ItemResult nothing = single(
      R"({"create":{"status":400,"error":{"caused_by":{"type":"inner","reason":"inner"}}}})");
  EXPECT_EQ(nothing.outcome, ItemOutcome::rejected);
  EXPECT_EQ(nothing.reason, "");
}

TEST(BulkResponseTest, DeepestAcceptedNesting) {
  // Depth 128 is accepted, 129 is not, as with the DOM parse: root, items, item, operation and
  // error make 5 levels, the caused_by chain the rest.
  const auto body = [](int caused_by_levels) {
    std::string error = R"({"type":"top","reason":"r")";
    for (int i = 0; i < caused_by_levels; ++i) error += R"(,"caused_by":{"type":"t")";
    error.append(static_cast<std::size_t>(caused_by_levels) + 1, '}');
    return R"({"items":[{"create":{"status":500,"error":)" + error + "}}]}";
  };
  const BulkResult result = parse_ok(body(123), 1);
  ASSERT_EQ(result.items.size(), 1u);
  EXPECT_EQ(result.items[0].reason, "top: r");
  EXPECT_THAT(parse_error(body(124), 1), HasSubstr("not valid JSON"));
}

TEST(BulkResponseTest, UnknownRootKeysOfAnyShapeAreSkipped) {
  const BulkResult result = parse_ok(
      R"({"took":"30","errors":[true,{"items":[1,2,3]},[[{"create":{"status":400}}]]],)"
      R"("meta":{"items":{"create":{"status":500}},"status":400,"error":"x"},"n":null,"b":false,)"
      R"("d":1.5,"s":"items","items":[{"create":{"status":201}}],"after":{"items":[]}})",
      1);
  ASSERT_EQ(result.items.size(), 1u);
  EXPECT_EQ(result.items[0].outcome, ItemOutcome::created);
  EXPECT_EQ(result.items[0].status, 201);
}

TEST(BulkResponseTest, UnknownOperationKeysOfAnyShapeAreSkipped) {
  const ItemResult item =
      single(R"({"create":{"_index":"status","_id":"error","result":"created",)"
             R"("_shards":{"total":2,"status":500,"error":{"type":"no","reason":"no"}},)"
             R"("tags":["status",{"status":500},[{"error":"no"}]],"_version":1,"found":true,)"
             R"("get":null,"ratio":0.5,"status":400,)"
             R"("more":{"error":{"type":"no"}},"error":{"type":"yes","reason":"this one",)"
             R"("index_uuid":"u","shard":"0","extra":[{"type":"no","reason":"no"}]},"tail":{}}})");
  EXPECT_EQ(item.status, 400);
  EXPECT_EQ(item.outcome, ItemOutcome::rejected);
  EXPECT_EQ(item.reason, "yes: this one");
}

TEST(BulkResponseTest, ItemsBeforeOtherRootKeys) {
  const BulkResult result =
      parse_ok(R"({"items":[{"index":{"status":200}},{"create":{"status":429}}],"took":3,)"
               R"("errors":true,"ingest_took":{"items":[]}})",
               2);
  ASSERT_EQ(result.items.size(), 2u);
  EXPECT_EQ(result.items[0].outcome, ItemOutcome::created);
  EXPECT_EQ(result.items[1].outcome, ItemOutcome::retry);
  EXPECT_EQ(result.items[1].reason, "");
}

TEST(BulkResponseTest, StatusThatIsNotAnIntegerIsRetriedWithReason) {
  for (const std::string_view status : {"201.0", R"("201")", "2.01e2", "[201]", R"({"v":201})"}) {
    const ItemResult item = single(R"({"create":{"status":)" + std::string(status) + "}}");
    EXPECT_EQ(item.outcome, ItemOutcome::retry) << status;
    EXPECT_EQ(item.status, 0) << status;
    EXPECT_EQ(item.reason, "no valid status in the item") << status;
  }
  // Out of range integers: 0 as well.
  for (const std::string_view status : {"0", "99", "1000", "-500", "18446744073709551615"}) {
    const ItemResult item = single(R"({"create":{"status":)" + std::string(status) + "}}");
    EXPECT_EQ(item.status, 0) << status;
    EXPECT_EQ(item.reason, "no valid status in the item") << status;
  }
  // The error is still the reason when there is one.
  EXPECT_EQ(single(R"({"create":{"status":"500","error":{"type":"t","reason":"r"}}})").reason,
            "t: r");
}

TEST(BulkResponseTest, StatusAfterError) {
  const ItemResult item =
      single(R"({"create":{"error":{"type":"t","reason":"r"},"_id":"a","status":503}})");
  EXPECT_EQ(item.outcome, ItemOutcome::retry);
  EXPECT_EQ(item.status, 503);
  EXPECT_EQ(item.reason, "t: r");
  // A success after an error does not keep its reason.
  EXPECT_EQ(single(R"({"create":{"error":{"type":"t","reason":"r"},"status":201}})").reason, "");
}

TEST(BulkResponseTest, DuplicateKeysLastOneWins) {
  // As json::object keeps them.
  EXPECT_EQ(single(R"({"create":{"status":400,"status":201}})").outcome, ItemOutcome::created);
  EXPECT_EQ(single(R"({"create":{"status":201,"status":"x"}})").status, 0);
  EXPECT_EQ(
      single(R"({"create":{"status":400,"error":{"type":"a","reason":"b"},"error":"c"}})").reason,
      "c");
  EXPECT_EQ(single(R"({"create":{"status":400,"error":"c","error":{"type":"a"}}})").reason, "a");
  EXPECT_EQ(single(R"({"create":{"status":400,"error":"c","error":7}})").reason, "");
  EXPECT_EQ(
      single(R"({"create":{"status":400,"error":{"type":"a","reason":"b","type":"d"}}})").reason,
      "d: b");
  EXPECT_EQ(
      single(R"({"create":{"status":400,"error":{"type":"a","reason":"b","type":1}}})").reason,
      "b");
  // The same operation twice is one operation, the last.
  const ItemResult item = single(R"({"create":{"status":201},"create":{"status":429}})");
  EXPECT_EQ(item.outcome, ItemOutcome::retry);
  EXPECT_EQ(item.status, 429);
  EXPECT_EQ(single(R"({"create":7,"create":{"status":201}})").outcome, ItemOutcome::created);
  EXPECT_THAT(parse_error(response(true, R"({"create":{"status":201},"create":7})"), 1),
              HasSubstr("item 0 operation is not an object"));
  EXPECT_THAT(parse_error(response(true, R"({"create":{"status":201},"index":{},"create":{}})"), 1),
              HasSubstr("item 0 is not an object with exactly one operation"));
  // The last "items" is the one read.
  const BulkResult result =
      parse_ok(R"({"items":[{"create":{"status":500}},7],"items":[{"create":{"status":201}}]})", 1);
  ASSERT_EQ(result.items.size(), 1u);
  EXPECT_EQ(result.items[0].outcome, ItemOutcome::created);
  EXPECT_THAT(parse_error(R"({"items":[{"create":{"status":201}}],"items":5})", 1),
              HasSubstr("not an array"));
}

TEST(BulkResponseTest, EscapedKeysAreRecognised) {
  // A key with an escape reaches the parser's handler in pieces.
  const BulkResult result =
      parse_ok(R"({"\u0069tems":[{"cr\u0065ate":{"st\u0061tus":400,"err\u006fr":{"typ\u0065":"t",)"
               R"("r\u0065ason":"r","caused_\u0062y":{"type":"no"}}}}]})",
               1);
  ASSERT_EQ(result.items.size(), 1u);
  EXPECT_EQ(result.items[0].status, 400);
  EXPECT_EQ(result.items[0].reason, "t: r");
  // Pieces that make a longer key than a known one.
  EXPECT_EQ(single(R"({"create":{"statu\u0073x":400}})").status, 0);
  // The same operation key, once escaped: one operation, the last.
  const ItemResult item = single(R"({"create":{"status":201},"cr\u0065ate":{"status":503}})");
  EXPECT_EQ(item.status, 503);
  EXPECT_EQ(item.outcome, ItemOutcome::retry);
}

TEST(BulkResponseTest, WrongItemCountWithLongerAndShorterArrays) {
  const std::string item = R"({"create":{"status":201}})";
  EXPECT_EQ(parse_error(response(false, item + "," + item + "," + item), 2),
            "bulk response has 3 items, 2 expected");
  EXPECT_EQ(parse_error(response(false, item), 2), "bulk response has 1 items, 2 expected");
  EXPECT_EQ(parse_error(response(false, item), 0), "bulk response has 1 items, 0 expected");
  // Elements beyond the expected count are counted whatever they are.
  EXPECT_EQ(parse_error(response(false, item + R"(,7,[],"x",{},{"a":1,"b":2})"), 1),
            "bulk response has 6 items, 1 expected");
  // The count is checked before the items' shape, as before.
  EXPECT_EQ(parse_error(response(false, "7," + item), 1), "bulk response has 2 items, 1 expected");
  EXPECT_EQ(parse_error(response(false, "7"), 2), "bulk response has 1 items, 2 expected");
}

TEST(BulkResponseTest, EmptyItemsArrayWithNoneExpected) {
  EXPECT_TRUE(parse_ok(R"({"items":[]})", 0).items.empty());
  EXPECT_TRUE(parse_ok(R"({"errors":false,"items":[]})", 0).items.empty());
  EXPECT_EQ(parse_error(R"({"items":[]})", 1), "bulk response has 0 items, 1 expected");
}

TEST(BulkResponseTest, FirstItemErrorIsReported) {
  EXPECT_EQ(parse_error(response(true, R"({"create":{"status":201}},{"create":1},[],{})"), 4),
            "bulk response item 1 operation is not an object");
  EXPECT_EQ(parse_error(response(true, R"({"create":{"status":201}},"x",{"create":1})"), 3),
            "bulk response item 1 is not an object with exactly one operation");
}

TEST(BulkResponseTest, InvalidJsonWinsOverShapeErrors) {
  EXPECT_THAT(parse_error(R"([1,2)", 0), HasSubstr("not valid JSON"));
  EXPECT_THAT(parse_error(R"({"items":5,)", 0), HasSubstr("not valid JSON"));
  EXPECT_THAT(parse_error(R"({"items":[7,{"create":1}],"took":})", 2), HasSubstr("not valid JSON"));
  EXPECT_THAT(parse_error(R"({"items":[],"x":[1,]})", 0), HasSubstr("not valid JSON"));
  EXPECT_THAT(parse_error(R"({"items":[]} // comment)", 0), HasSubstr("not valid JSON"));
  EXPECT_EQ(parse_error(R"({"items":[]} {})", 0), "bulk response is not valid JSON: extra data");
  EXPECT_THAT(parse_error("{\"items\":[],\"x\":\"\xFF\"}", 0), HasSubstr("not valid JSON"));
}

TEST(BulkResponseTest, EscapedCharactersInReason) {
  const ItemResult item = single(
      R"({"create":{"status":400,"error":{"type":"t\\u","reason":"say \"caf\u00e9\"\n\t/\/"}}})");
  EXPECT_EQ(item.reason, "t\\u: say \"caf\xC3\xA9\"\n\t//");
  EXPECT_EQ(single(R"({"create":{"status":400,"error":"\"quoted\" \u20ac"}})").reason,
            "\"quoted\" \xE2\x82\xAC");
}

TEST(BulkResponseTest, LongReasonCutAtCharacterBoundary) {
  // "t: " + 296 bytes puts "é" (C3 A9) at bytes 299-300, across the limit; escaped and raw.
  const std::string prefix(296, 'r');
  for (const std::string_view e_acute : {R"(\u00e9)", "\xC3\xA9"}) {
    const ItemResult item = single(R"({"create":{"status":400,"error":{"type":"t","reason":")" +
                                   prefix + std::string(e_acute) + R"(more"}}})");
    EXPECT_EQ(item.reason, "t: " + prefix) << e_acute;
  }
  // Ending exactly at the limit, it is kept.
  const std::string shorter(295, 'r');
  EXPECT_EQ(single(R"({"create":{"status":400,"error":{"type":"t","reason":")" + shorter +
                   R"(\u00e9more"}}})")
                .reason,
            "t: " + shorter + "\xC3\xA9");
  // A long type alone fills the reason; the separator is cut off.
  const std::string type(299, 'y');
  EXPECT_EQ(
      single(R"({"create":{"status":400,"error":{"type":")" + type + R"(","reason":"r"}}})").reason,
      type + ":");
  // The string error of Elasticsearch 1.x, with a 3-byte character across the limit.
  EXPECT_EQ(single(R"({"create":{"status":503,"error":")" + std::string(299, 's') + R"(\u20ac"}})")
                .reason,
            std::string(299, 's'));
}

TEST(BulkResponseTest, VeryLongEscapedReasonInManyPieces) {
  // Escaped strings reach the handler through a 4 KB buffer: this one comes in several pieces.
  std::string reason;
  for (int i = 0; i < 3000; ++i) reason += R"(\u00e9\"x)";
  const ItemResult item =
      single(R"({"create":{"status":400,"error":{"type":"t","reason":")" + reason + R"("}}})");
  std::string expected = "t: ";
  while (expected.size() + 4 <= 300) expected += "\xC3\xA9\"x";
  if (expected.size() + 2 <= 300) expected += "\xC3\xA9";
  EXPECT_EQ(item.reason, expected);
  EXPECT_LE(item.reason.size(), 300u);
}

TEST(BulkResponseTest, ReasonsOnlyForFailingItems) {
  const BulkResult result =
      parse_ok(response(true, R"({"create":{"status":201,"error":{"type":"t","reason":"r"}}},)"
                              R"({"create":{"status":409,"error":{"type":"t","reason":"r"}}},)"
                              R"({"create":{"status":502,"error":{"type":"t","reason":"r"}}})"),
               3);
  ASSERT_EQ(result.items.size(), 3u);
  EXPECT_EQ(result.items[0].reason, "");
  EXPECT_EQ(result.items[1].reason, "");
  EXPECT_EQ(result.items[2].reason, "t: r");
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

#include "event/validator.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "event/timestamp.hpp"

namespace iot::event {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;

const std::int64_t kReceivedAt = *parse_rfc3339_ms("2026-11-22T10:00:05Z");

constexpr std::string_view kExample =
    R"({"namespace":"default","sender":"dev-42","origin":"probe1",)"
    R"("payload":{"type":"temperature","value":21.5},"timestamp":"2026-11-22T10:00:00.000Z"})";

// A valid event whose parts can be replaced; each argument is raw JSON, or empty to omit it.
class EventJson {
 public:
  EventJson& with_event_namespace(std::string json) {
    return set(event_namespace, std::move(json));
  }
  EventJson& with_sender(std::string json) { return set(sender, std::move(json)); }
  EventJson& with_origin(std::string json) { return set(origin, std::move(json)); }
  EventJson& with_payload(std::string json) { return set(payload, std::move(json)); }
  EventJson& with_timestamp(std::string json) { return set(timestamp, std::move(json)); }
  // Raw members appended verbatim, e.g. R"("x":1)".
  EventJson& with_extra(std::string members) { return set(extra, std::move(members)); }

  std::string str() const {
    std::string out = "{";
    const auto add = [&](std::string_view key, const std::string& value) {
      if (value.empty()) return;
      if (out.size() > 1) out += ',';
      out += '"';
      out += key;
      out += "\":";
      out += value;
    };
    add("namespace", event_namespace);
    add("sender", sender);
    add("origin", origin);
    add("payload", payload);
    add("timestamp", timestamp);
    if (!extra.empty()) {
      out += ',';
      out += extra;
    }
    return out + "}";
  }

 private:
  EventJson& set(std::string& field, std::string json) {
    field = std::move(json);
    return *this;
  }

  std::string event_namespace;
  std::string sender = R"("dev-42")";
  std::string origin = R"("probe1")";
  std::string payload = R"({"type":"temperature","value":21.5})";
  std::string timestamp;
  std::string extra;
};

std::string quote(std::string_view text) {
  return "\"" + std::string(text) + "\"";
}

std::string array_of(const std::string& element, std::size_t count) {
  std::string out = "[";
  for (std::size_t i = 0; i < count; ++i) {
    if (i != 0) out += ',';
    out += element;
  }
  return out + "]";
}

// `levels` nested objects: 1 -> {"x":1}, 2 -> {"x":{"x":1}}.
std::string nested_objects(int levels) {
  std::string out;
  for (int i = 0; i < levels; ++i) out += R"({"x":)";
  out += '1';
  for (int i = 0; i < levels; ++i) out += '}';
  return out;
}

std::string payload_with_value(const std::string& value) {
  return R"({"type":"t","value":)" + value + "}";
}

class ValidatorTest : public ::testing::Test {
 protected:
  ValidationResult validate(std::string_view body) {
    return validator_.validate(body, kReceivedAt);
  }

  // Asserts a rejection and returns its message.
  std::string rejected(std::string_view body, RejectReason reason) {
    const ValidationResult result = validate(body);
    body = body.substr(0, 200);  // hostile test bodies are megabytes long
    EXPECT_FALSE(result.ok()) << body;
    EXPECT_TRUE(result.events.empty());
    if (!result.error) return {};
    EXPECT_EQ(result.error->reason, reason)
        << body << " -> " << reject_reason_name(result.error->reason) << ": "
        << result.error->message;
    EXPECT_LE(result.error->message.size(), 130U) << result.error->message;
    return result.error->message;
  }

  Event accepted(std::string_view body) {
    ValidationResult result = validate(body);
    EXPECT_TRUE(result.ok()) << body << " -> " << (result.error ? result.error->message : "");
    EXPECT_EQ(result.events.size(), 1U);
    return result.events.empty() ? Event{} : std::move(result.events.front());
  }

  EventValidator validator_{ValidationLimits{}};
};

TEST(RejectReasonName, NamesEveryReason) {
  EXPECT_EQ(reject_reason_name(RejectReason::malformed_json), "malformed_json");
  EXPECT_EQ(reject_reason_name(RejectReason::schema), "schema");
  EXPECT_EQ(reject_reason_name(RejectReason::bad_timestamp), "bad_timestamp");
  EXPECT_EQ(reject_reason_name(RejectReason::batch_too_large), "batch_too_large");
  EXPECT_EQ(reject_reason_name(RejectReason::sender_mismatch), "sender_mismatch");
  EXPECT_EQ(kRejectReasonCount, 5U);
}

// --- accepted events ------------------------------------------------------------------------

TEST_F(ValidatorTest, AcceptsTheSpecExample) {
  const Event event = accepted(kExample);
  EXPECT_EQ(event.event_namespace, "default");
  EXPECT_EQ(event.sender, "dev-42");
  EXPECT_EQ(event.origin, "probe1");
  EXPECT_EQ(event.payload, json::parse(R"({"type":"temperature","value":21.5})").as_object());
  EXPECT_EQ(event.timestamp_ms, *parse_rfc3339_ms("2026-11-22T10:00:00Z"));
  EXPECT_TRUE(event.timestamp_from_device);
}

TEST_F(ValidatorTest, AcceptsSurroundingWhitespace) {
  accepted(" \r\n\t" + std::string(kExample) + "\n ");
}

TEST_F(ValidatorTest, NamespaceDefaultsWhenOmitted) {
  EXPECT_EQ(accepted(EventJson().str()).event_namespace, "default");
  EXPECT_EQ(accepted(EventJson().with_event_namespace(R"("plant-7")").str()).event_namespace,
            "plant-7");
}

TEST_F(ValidatorTest, MissingTimestampUsesReceiveTime) {
  const Event event = accepted(EventJson().str());
  EXPECT_EQ(event.timestamp_ms, kReceivedAt);
  EXPECT_FALSE(event.timestamp_from_device);
}

TEST_F(ValidatorTest, AcceptsTimestampAsEpochMilliseconds) {
  const Event event = accepted(EventJson().with_timestamp("1764000000000").str());
  EXPECT_EQ(event.timestamp_ms, 1'764'000'000'000);
  EXPECT_TRUE(event.timestamp_from_device);
  EXPECT_EQ(accepted(EventJson().with_timestamp("0").str()).timestamp_ms, 0);
}

TEST_F(ValidatorTest, AcceptsRfc3339WithOffset) {
  const Event event =
      accepted(EventJson().with_timestamp(R"("2026-11-22T11:00:00.5+01:00")").str());
  EXPECT_EQ(event.timestamp_ms, *parse_rfc3339_ms("2026-11-22T10:00:00.500Z"));
}

TEST_F(ValidatorTest, AcceptsTimestampUpToMaxFutureAhead) {
  const std::int64_t limit = kReceivedAt + 24 * 3'600'000;
  EXPECT_EQ(accepted(EventJson().with_timestamp(std::to_string(limit)).str()).timestamp_ms, limit);
  EXPECT_EQ(
      accepted(EventJson().with_timestamp(std::to_string(kReceivedAt - 365LL * 86'400'000)).str())
          .timestamp_ms,
      kReceivedAt - 365LL * 86'400'000);
}

TEST_F(ValidatorTest, AcceptsEveryAllowedValueType) {
  for (const char* value : {"21", "-3", "21.5", "1e300", R"("on")", R"("")", "true", "false", "{}",
                            R"({"lat":1.5,"lon":2,"tags":["a"],"none":null})"}) {
    const Event event = accepted(EventJson().with_payload(payload_with_value(value)).str());
    EXPECT_EQ(event.payload.at("value"), json::parse(value)) << value;
  }
}

TEST_F(ValidatorTest, KeepsFurtherPayloadFieldsOfAnyType) {
  const std::string payload =
      R"({"type":"t","value":1,"unit":"C","n":null,"list":[1,[2]],"ok":true,"o":{"a":"b"}})";
  EXPECT_EQ(accepted(EventJson().with_payload(payload).str()).payload,
            json::parse(payload).as_object());
}

TEST_F(ValidatorTest, AcceptsIdentifierAlphabetAndLengthLimits) {
  const std::string alphabet = "ABCXYZabcxyz0189._:-";
  const std::string longest(128, 'a');
  const Event event = accepted(EventJson()
                                   .with_event_namespace(quote(longest))
                                   .with_sender(quote(alphabet))
                                   .with_origin(quote("x"))
                                   .with_payload(R"({"type":")" + longest + R"(","value":1})")
                                   .str());
  EXPECT_EQ(event.event_namespace, longest);
  EXPECT_EQ(event.sender, alphabet);
  EXPECT_EQ(event.origin, "x");
  EXPECT_EQ(event.payload.at("type").as_string(), longest);
}

TEST_F(ValidatorTest, AcceptsArrayOfEventsInOrder) {
  std::string body = "[";
  for (int i = 0; i < 3; ++i) {
    if (i != 0) body += ',';
    body += EventJson().with_sender(quote("dev-" + std::to_string(i))).str();
  }
  body += "]";
  const ValidationResult result = validate(body);
  ASSERT_TRUE(result.ok()) << result.error->message;
  ASSERT_EQ(result.events.size(), 3U);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(result.events[i].sender, "dev-" + std::to_string(i));
}

TEST_F(ValidatorTest, AcceptsArrayOfOneAndOfMaxBatch) {
  EXPECT_EQ(validate(array_of(EventJson().str(), 1)).events.size(), 1U);
  const ValidationResult result = validate(array_of(EventJson().str(), 100));
  EXPECT_TRUE(result.ok());
  EXPECT_EQ(result.events.size(), 100U);
}

TEST_F(ValidatorTest, AcceptsNestingUpToMaxDepth) {
  // event (1) > payload (2) > value object (3) > ... 6 levels of value reach depth 8.
  const std::string event = EventJson().with_payload(payload_with_value(nested_objects(6))).str();
  accepted(event);
  EXPECT_TRUE(validate("[" + event + "]").ok()) << "the body array is not counted";
  // Arrays count as levels too: payload (2) > list (3..8).
  accepted(EventJson().with_payload(R"({"type":"t","value":1,"list":[[[[[[1]]]]]]})").str());
}

TEST_F(ValidatorTest, PayloadIsBorrowedFromTheValidatorNotCopied) {
  // A copy into default storage costs a malloc and a free per member: the payload stays in the
  // parser's memory, and a caller that keeps it copies it.
  const ValidationResult result = validate(array_of(
      EventJson().with_payload(payload_with_value(R"("a string long enough to allocate")")).str(),
      3));
  ASSERT_TRUE(result.ok());
  ASSERT_EQ(result.events.size(), 3U);
  for (const Event& event : result.events) {
    EXPECT_NE(event.payload.storage(), json::storage_ptr());
    EXPECT_EQ(event.payload.at("value").as_string(), "a string long enough to allocate");
  }
  const json::object kept(result.events.front().payload, json::storage_ptr());
  ASSERT_TRUE(validate(EventJson().with_payload(payload_with_value(R"("other")")).str()).ok());
  EXPECT_EQ(kept.at("value").as_string(), "a string long enough to allocate");
}

TEST_F(ValidatorTest, RecoversAfterEveryKindOfError) {
  for (const char* bad : {"{", "[]", R"({"sender":"a","sender":"b"})", "[1]", R"({"x":1})",
                          "[[[[[[[[[[[[[[[[[[[[[[[["}) {
    EXPECT_FALSE(validate(bad).ok()) << bad;
    EXPECT_TRUE(validate(kExample).ok()) << "after " << bad;
  }
}

TEST_F(ValidatorTest, MemoryStaysBoundedOverManyLargeBodies) {
  // Regression: reusing one Boost 1.81 monotonic_resource via release() doubled its next block on
  // every call that outgrew the arena, and failed with bad_alloc after a few dozen bodies.
  const std::string body = array_of(
      EventJson().with_payload(payload_with_value(quote(std::string(1'000, 'v')))).str(), 100);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(validate(body).events.size(), 100U) << "call " << i;
}

TEST_F(ValidatorTest, HandlesLargeBodies) {
  // Larger than the arena's initial buffer, so the monotonic resource must grow and shrink back.
  const std::string big_value = quote(std::string(100'000, 'v'));
  const Event event = accepted(EventJson().with_payload(payload_with_value(big_value)).str());
  EXPECT_EQ(event.payload.at("value").as_string().size(), 100'000U);
  std::string many_keys = R"({"type":"t","value":1)";
  for (int i = 0; i < 5'000; ++i)
    many_keys += ",\"k" + std::to_string(i) + "\":" + std::to_string(i);
  many_keys += "}";
  EXPECT_EQ(accepted(EventJson().with_payload(many_keys).str()).payload.size(), 5'002U);
  accepted(kExample);
}

// --- malformed_json -------------------------------------------------------------------------

TEST_F(ValidatorTest, RejectsEmptyBody) {
  EXPECT_THAT(rejected("", RejectReason::malformed_json), HasSubstr("empty body"));
  EXPECT_THAT(rejected("   ", RejectReason::malformed_json), HasSubstr("malformed JSON"));
}

TEST_F(ValidatorTest, RejectsNonJsonWithByteOffset) {
  EXPECT_EQ(rejected("not json", RejectReason::malformed_json),
            "malformed JSON at byte 0: syntax error");
  EXPECT_THAT(rejected(R"({"sender":"dev-42",})", RejectReason::malformed_json),
              HasSubstr("at byte 19"));
  EXPECT_THAT(rejected(R"({"sender":'dev'})", RejectReason::malformed_json),
              HasSubstr("at byte 10"));
  rejected(R"({"sender":"dev-42")", RejectReason::malformed_json);   // truncated
  rejected("{\"sender\":\"d\xff\"}", RejectReason::malformed_json);  // invalid UTF-8
  rejected(R"({"sender":"dev" /* comment */})", RejectReason::malformed_json);
  rejected("[" + EventJson().str() + ",]", RejectReason::malformed_json);  // trailing comma
}

TEST_F(ValidatorTest, RejectsTrailingGarbage) {
  const std::string body = std::string(kExample) + " x";
  EXPECT_THAT(rejected(body, RejectReason::malformed_json),
              HasSubstr("at byte " + std::to_string(kExample.size() + 1)));
  rejected(std::string(kExample) + std::string(kExample), RejectReason::malformed_json);
  rejected("[" + EventJson().str() + "]]", RejectReason::malformed_json);
}

TEST_F(ValidatorTest, SyntaxErrorsWinOverFieldErrors) {
  // Field rules run only once the whole body is known to be JSON.
  rejected(EventJson().with_sender(R"("bad sender")").str() + "}", RejectReason::malformed_json);
}

// --- schema: body shape ---------------------------------------------------------------------

TEST_F(ValidatorTest, RejectsTopLevelScalars) {
  for (const char* body : {"1", R"("event")", "true", "null", "-2.5"}) {
    EXPECT_EQ(rejected(body, RejectReason::schema), "event: object or array of objects required")
        << body;
  }
}

TEST_F(ValidatorTest, RejectsArrayElementsThatAreNotObjects) {
  const std::string good = EventJson().str();
  EXPECT_EQ(rejected("[" + good + ",5]", RejectReason::schema), "event[1]: object required");
  EXPECT_EQ(rejected("[" + good + "," + good + ",[]]", RejectReason::schema),
            "event[2]: object required");
  EXPECT_EQ(rejected(R"(["x"])", RejectReason::schema), "event[0]: object required");
  EXPECT_EQ(rejected("[null]", RejectReason::schema), "event[0]: object required");
  EXPECT_EQ(rejected(std::string(1000, '['), RejectReason::schema), "event[0]: object required");
}

// --- batch_too_large ------------------------------------------------------------------------

TEST_F(ValidatorTest, RejectsEmptyArray) {
  EXPECT_EQ(rejected("[]", RejectReason::batch_too_large), "event: empty array");
  EXPECT_EQ(rejected(" [ ] ", RejectReason::batch_too_large), "event: empty array");
}

TEST_F(ValidatorTest, RejectsArrayLongerThanMaxBatch) {
  EXPECT_EQ(rejected(array_of(EventJson().str(), 101), RejectReason::batch_too_large),
            "event: more than 100 events in array");
  // The size limit wins over a bad event that comes earlier in the array.
  rejected(array_of(R"({"sender":1})", 150), RejectReason::batch_too_large);
}

TEST(ValidatorLimits, MaxBatchIsConfigurable) {
  ValidationLimits limits;
  limits.max_batch = 3;
  EventValidator validator(limits);
  EXPECT_TRUE(validator.validate(array_of(EventJson().str(), 3), kReceivedAt).ok());
  const ValidationResult result = validator.validate(array_of(EventJson().str(), 4), kReceivedAt);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error->reason, RejectReason::batch_too_large);
  EXPECT_EQ(result.error->message, "event: more than 3 events in array");
}

// --- schema: required fields and types ------------------------------------------------------

TEST_F(ValidatorTest, RejectsMissingRequiredFields) {
  EXPECT_EQ(rejected(EventJson().with_sender("").str(), RejectReason::schema),
            "event.sender: missing");
  EXPECT_EQ(rejected(EventJson().with_origin("").str(), RejectReason::schema),
            "event.origin: missing");
  EXPECT_EQ(rejected(EventJson().with_payload("").str(), RejectReason::schema),
            "event.payload: missing");
  EXPECT_EQ(rejected(EventJson().with_payload(R"({"value":1})").str(), RejectReason::schema),
            "event.payload.type: missing");
  EXPECT_EQ(rejected(EventJson().with_payload(R"({"type":"t"})").str(), RejectReason::schema),
            "event.payload.value: missing");
  EXPECT_EQ(rejected("{}", RejectReason::schema), "event.sender: missing");
}

TEST_F(ValidatorTest, NamesTheIndexOfTheBadEventInAnArray) {
  const std::string good = EventJson().str();
  const std::string bad = EventJson().with_payload(R"({"type":"t"})").str();
  EXPECT_EQ(rejected("[" + good + "," + good + "," + good + "," + bad + "]", RejectReason::schema),
            "event[3].payload.value: missing");
  // The first bad event is reported.
  EXPECT_EQ(rejected("[" + good + "," + EventJson().with_origin("7").str() + "," + bad + "]",
                     RejectReason::schema),
            "event[1].origin: 1-128 chars of [A-Za-z0-9._:-] required");
}

TEST_F(ValidatorTest, RejectsIdentifiersOfTheWrongType) {
  const std::string rule = "1-128 chars of [A-Za-z0-9._:-] required";
  for (const char* value : {"42", "null", "true", "[]", R"({"a":"b"})", R"(["dev"])"}) {
    EXPECT_EQ(rejected(EventJson().with_sender(value).str(), RejectReason::schema),
              "event.sender: " + rule);
    EXPECT_EQ(rejected(EventJson().with_origin(value).str(), RejectReason::schema),
              "event.origin: " + rule);
    EXPECT_EQ(rejected(EventJson().with_event_namespace(value).str(), RejectReason::schema),
              "event.namespace: " + rule);
    EXPECT_EQ(
        rejected(EventJson().with_payload(R"({"value":1,"type":)" + std::string(value) + "}").str(),
                 RejectReason::schema),
        "event.payload.type: " + rule);
  }
}

TEST_F(ValidatorTest, RejectsIdentifiersWithBadCharactersOrLength) {
  for (const std::string& value :
       {std::string(), std::string(129, 'a'), std::string("dev 42"), std::string("dev/42"),
        std::string("d\\u00e9v"), std::string("d\xc3\xa9v"), std::string("dev\\n"),
        std::string("dev\\u0000"), std::string("a+b"), std::string("a,b"), std::string("*")}) {
    const std::string json = quote(value);
    EXPECT_EQ(rejected(EventJson().with_sender(json).str(), RejectReason::schema),
              "event.sender: 1-128 chars of [A-Za-z0-9._:-] required")
        << value;
    EXPECT_EQ(rejected(EventJson().with_origin(json).str(), RejectReason::schema),
              "event.origin: 1-128 chars of [A-Za-z0-9._:-] required");
    EXPECT_EQ(rejected(EventJson().with_event_namespace(json).str(), RejectReason::schema),
              "event.namespace: 1-128 chars of [A-Za-z0-9._:-] required");
    EXPECT_EQ(rejected(EventJson().with_payload(R"({"type":)" + json + R"(,"value":1})").str(),
                       RejectReason::schema),
              "event.payload.type: 1-128 chars of [A-Za-z0-9._:-] required");
  }
  EXPECT_EQ(rejected("[" + EventJson().str() + "," +
                         EventJson().with_sender(quote(std::string(129, 'x'))).str() + "]",
                     RejectReason::schema),
            "event[1].sender: 1-128 chars of [A-Za-z0-9._:-] required");
}

TEST_F(ValidatorTest, RejectsPayloadThatIsNotAnObject) {
  for (const char* payload :
       {"1", R"("temperature")", "null", "[]", R"([{"type":"t","value":1}])"}) {
    EXPECT_EQ(rejected(EventJson().with_payload(payload).str(), RejectReason::schema),
              "event.payload: object required")
        << payload;
  }
}

TEST_F(ValidatorTest, RejectsNullAndArrayValues) {
  for (const char* value : {"null", "[]", "[1,2]", R"([{"a":1}])"}) {
    EXPECT_EQ(
        rejected(EventJson().with_payload(payload_with_value(value)).str(), RejectReason::schema),
        "event.payload.value: number, string, boolean or object required")
        << value;
  }
  EXPECT_EQ(rejected("[" + EventJson().with_payload(payload_with_value("null")).str() + "]",
                     RejectReason::schema),
            "event[0].payload.value: number, string, boolean or object required");
}

TEST_F(ValidatorTest, RejectsUnknownTopLevelFields) {
  EXPECT_EQ(rejected(EventJson().with_extra(R"("unit":"C")").str(), RejectReason::schema),
            "event.unit: unknown field");
  EXPECT_EQ(rejected(R"({"Sender":"dev-42"})", RejectReason::schema),
            "event.Sender: unknown field");
  EXPECT_EQ(
      rejected("[" + EventJson().str() + "," + EventJson().with_extra(R"("type":"t")").str() + "]",
               RejectReason::schema),
      "event[1].type: unknown field");
}

TEST_F(ValidatorTest, EchoesHostileFieldNamesSafely) {
  const std::string message = rejected(
      EventJson().with_extra("\"a\\n\\u0007\xc3\xa9" + std::string(200, 'z') + "\":1").str(),
      RejectReason::schema);
  EXPECT_EQ(message, "event.a????" + std::string(24, 'z') + "...: unknown field");
}

TEST_F(ValidatorTest, RejectsDuplicateKeys) {
  EXPECT_EQ(rejected(EventJson().with_extra(R"("sender":"dev-43")").str(), RejectReason::schema),
            "event.sender: duplicate key");
  EXPECT_EQ(rejected(EventJson().with_payload(R"({"type":"t","value":1,"type":"t"})").str(),
                     RejectReason::schema),
            "event.payload.type: duplicate key");
  EXPECT_EQ(
      rejected(
          "[" + EventJson().str() + "," +
              EventJson().with_payload(R"({"type":"t","value":1,"unit":"C","unit":"F"})").str() +
              "]",
          RejectReason::schema),
      "event[1].payload.unit: duplicate key");
  // Deep inside the payload, through arrays.
  EXPECT_EQ(
      rejected(EventJson().with_payload(R"({"type":"t","value":{"a":[{},{"k":1,"k":1}]}})").str(),
               RejectReason::schema),
      "event.payload.value.a[1].k: duplicate key");
  // Keys that are equal only after unescaping.
  EXPECT_EQ(rejected(R"({"sender":"a","s\u0065nder":"b"})", RejectReason::schema),
            "event.sender: duplicate key");
  // Equal keys at different levels are fine.
  accepted(
      EventJson().with_payload(R"({"type":"t","value":{"type":"u","value":{"value":1}}})").str());
}

TEST_F(ValidatorTest, RejectsDuplicateKeysInLargeObjects) {
  std::string payload = R"({"type":"t","value":1)";
  for (int i = 0; i < 40; ++i) payload += ",\"k" + std::to_string(i) + "\":" + std::to_string(i);
  accepted(EventJson().with_payload(payload + "}").str());
  EXPECT_EQ(
      rejected(EventJson().with_payload(payload + R"(,"k17":0})").str(), RejectReason::schema),
      "event.payload.k17: duplicate key");
}

TEST_F(ValidatorTest, RejectsNestingDeeperThanMaxDepth) {
  const std::string too_deep =
      EventJson().with_payload(payload_with_value(nested_objects(7))).str();
  EXPECT_EQ(rejected(too_deep, RejectReason::schema),
            "event.payload.value.x.x.x.x.x.x: nesting deeper than 8");
  EXPECT_EQ(rejected("[" + EventJson().str() + "," + too_deep + "]", RejectReason::schema),
            "event[1].payload.value.x.x.x.x.x.x: nesting deeper than 8");
  EXPECT_EQ(
      rejected(EventJson().with_payload(R"({"type":"t","value":1,"list":[[[[[[[1]]]]]]]})").str(),
               RejectReason::schema),
      "event.payload.list[0][0][0][0][0][0]: nesting deeper than 8");
}

TEST_F(ValidatorTest, RejectsHostileDepthWithoutRecursing) {
  const std::string deep_objects = [] {
    std::string out;
    for (int i = 0; i < 200'000; ++i) out += R"({"a":)";
    return out;
  }();
  EXPECT_EQ(rejected(deep_objects, RejectReason::schema),
            "event.a.a.a.a.a.a.a.a: nesting deeper than 8");
  EXPECT_EQ(rejected("[" + deep_objects, RejectReason::schema),
            "event[0].a.a.a.a.a.a.a.a: nesting deeper than 8");
  const std::string deep_arrays = R"({"payload":)" + std::string(200'000, '[');
  EXPECT_EQ(rejected(deep_arrays, RejectReason::schema),
            "event.payload[0][0][0][0][0][0][0]: nesting deeper than 8");
}

TEST(ValidatorLimits, MaxDepthIsConfigurable) {
  ValidationLimits limits;
  limits.max_depth = 3;
  EventValidator validator(limits);
  const auto body = [](int value_levels) {
    return EventJson().with_payload(payload_with_value(nested_objects(value_levels))).str();
  };
  EXPECT_TRUE(validator.validate(body(1), kReceivedAt).ok());
  const ValidationResult result = validator.validate(body(2), kReceivedAt);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error->reason, RejectReason::schema);
  EXPECT_EQ(result.error->message, "event.payload.value.x: nesting deeper than 3");
}

// --- bad_timestamp --------------------------------------------------------------------------

TEST_F(ValidatorTest, RejectsTimestampsThatAreNotRfc3339OrEpochMs) {
  for (const char* timestamp :
       {R"("1764000000000")", R"("2026-11-22T10:00:00")", R"("2026-11-22 10:00:00Z")",
        R"("2026-02-30T10:00:00Z")", R"("yesterday")", R"("")", "true", "null", "{}", "[]",
        "[1764000000000]"}) {
    EXPECT_EQ(rejected(EventJson().with_timestamp(timestamp).str(), RejectReason::bad_timestamp),
              "event.timestamp: RFC 3339 date-time with zone or epoch ms required")
        << timestamp;
  }
}

TEST_F(ValidatorTest, RejectsNegativeEpochMs) {
  EXPECT_EQ(rejected(EventJson().with_timestamp("-1").str(), RejectReason::bad_timestamp),
            "event.timestamp: epoch ms must not be negative");
  EXPECT_EQ(rejected(EventJson().with_timestamp("-9223372036854775808").str(),
                     RejectReason::bad_timestamp),
            "event.timestamp: epoch ms must not be negative");
}

TEST_F(ValidatorTest, RejectsNonIntegerEpochMs) {
  for (const char* timestamp : {"1764000000000.0", "1764000000000.5", "1.764e12", "1e3", "-0.0"}) {
    EXPECT_EQ(rejected(EventJson().with_timestamp(timestamp).str(), RejectReason::bad_timestamp),
              "event.timestamp: epoch ms must be an integer")
        << timestamp;
  }
}

TEST_F(ValidatorTest, RejectsEpochMsBeyondYear9999) {
  EXPECT_EQ(rejected(EventJson().with_timestamp("18446744073709551615").str(),
                     RejectReason::bad_timestamp),
            "event.timestamp: epoch ms out of range");
  EXPECT_EQ(rejected(EventJson().with_timestamp("9223372036854775807").str(),
                     RejectReason::bad_timestamp),
            "event.timestamp: epoch ms out of range");
}

// Found by the event_validator fuzz target: Boost.JSON reads 1e999 as infinity, which was stored
// as `inf`, a document Elasticsearch cannot parse, while the device heard 2.01.
TEST_F(ValidatorTest, RejectsNumbersBeyondADoublesRange) {
  EXPECT_EQ(
      rejected(EventJson().with_payload(payload_with_value("1e999")).str(), RejectReason::schema),
      "event.payload.value: number out of range");
  EXPECT_EQ(rejected(EventJson().with_payload(payload_with_value("[1, -1e999]")).str(),
                     RejectReason::schema),
            "event.payload.value[1]: number out of range");
  EXPECT_EQ(rejected(EventJson().with_timestamp("1e999").str(), RejectReason::schema),
            "event.timestamp: number out of range");
}

TEST_F(ValidatorTest, RejectsTimestampsTooFarInTheFuture) {
  const std::int64_t limit = kReceivedAt + 24 * 3'600'000;
  EXPECT_EQ(rejected(EventJson().with_timestamp(std::to_string(limit + 1)).str(),
                     RejectReason::bad_timestamp),
            "event.timestamp: more than 86400 s in the future");
  EXPECT_EQ(
      rejected("[" + EventJson().str() + "," +
                   EventJson().with_timestamp(quote(format_rfc3339_ms(limit + 1))).str() + "]",
               RejectReason::bad_timestamp),
      "event[1].timestamp: more than 86400 s in the future");
}

TEST(ValidatorLimits, MaxFutureIsConfigurable) {
  ValidationLimits limits;
  limits.max_future = std::chrono::milliseconds(1500);
  EventValidator validator(limits);
  const auto at = [](std::int64_t ms) {
    return EventJson().with_timestamp(std::to_string(ms)).str();
  };
  EXPECT_TRUE(validator.validate(at(kReceivedAt + 1500), kReceivedAt).ok());
  const ValidationResult result = validator.validate(at(kReceivedAt + 1501), kReceivedAt);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error->reason, RejectReason::bad_timestamp);
  EXPECT_EQ(result.error->message, "event.timestamp: more than 1500 ms in the future");
  // "now" far from the timestamp in either direction must not overflow.
  EXPECT_TRUE(validator.validate(at(0), INT64_MAX).ok());
  EXPECT_FALSE(validator.validate(at(253'402'300'799'999), INT64_MIN).ok());
}

}  // namespace
}  // namespace iot::event

namespace iot::event {
namespace {

// --- an authenticated device (DTLS identity) ------------------------------------------------

TEST(AuthenticatedSender, FillsAMissingSenderAndRefusesAnother) {
  EventValidator validator{ValidationLimits{}};
  const std::string anonymous =
      R"([{"origin":"p","payload":{"type":"t","value":1}},)"
      R"({"sender":"dev-42","origin":"p","payload":{"type":"t","value":2}}])";
  auto result = validator.validate(anonymous, 1'700'000'000'000, "dev-42");
  ASSERT_TRUE(result.ok()) << result.error->message;
  ASSERT_EQ(result.events.size(), 2U);
  EXPECT_EQ(result.events[0].sender, "dev-42");
  EXPECT_EQ(result.events[1].sender, "dev-42");

  result =
      validator.validate(R"({"sender":"dev-43","origin":"p","payload":{"type":"t","value":1}})",
                         1'700'000'000'000, "dev-42");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error->reason, RejectReason::sender_mismatch);
  EXPECT_EQ(result.error->message,
            "event.sender: must be this device's identity 'dev-42' or be left out");

  // Without an identity a sender is still required.
  result =
      validator.validate(R"({"origin":"p","payload":{"type":"t","value":1}})", 1'700'000'000'000);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error->reason, RejectReason::schema);
  EXPECT_EQ(result.error->message, "event.sender: missing");
}

}  // namespace
}  // namespace iot::event

#include "event/bulk_encoder.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <string>
#include <vector>

#include "event/timestamp.hpp"
#include "event/validator.hpp"

namespace iot::event {
namespace {

namespace json = boost::json;
using ::testing::MatchesRegex;

const std::int64_t kEventTime = *parse_rfc3339_ms("2026-11-22T10:00:00Z");
const std::int64_t kReceivedAt = *parse_rfc3339_ms("2026-11-22T10:00:01.5Z");
constexpr StoredDocumentContext kContext{"iot-events", "collector-0", 0};

Event sample_event() {
  Event event;
  event.event_namespace = "default";
  event.sender = "dev-42";
  event.origin = "probe1";
  event.payload = json::parse(R"({"type":"temperature","value":21.5})").as_object();
  event.timestamp_ms = kEventTime;
  event.timestamp_from_device = true;
  return event;
}

StoredDocumentContext context() {
  StoredDocumentContext c = kContext;
  c.received_at_ms = kReceivedAt;
  return c;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  for (std::size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1) {
    lines.push_back(text.substr(start, end - start));
  }
  EXPECT_EQ(start, text.size()) << "output must end with a newline";
  return lines;
}

// Catches any change of the hash input or algorithm: ids already stored in Elasticsearch would
// stop matching retransmissions of the same events.
constexpr const char* kSampleId = "6b308b1d6182bd34f08377ea6bfd57b4";

TEST(EventId, IsStable) {
  EXPECT_EQ(event_id(sample_event()), kSampleId);
}

TEST(EventId, Is32LowercaseHex) {
  EXPECT_THAT(event_id(sample_event()), MatchesRegex("[0-9a-f]{32}"));
  Event empty;
  EXPECT_THAT(event_id(empty), MatchesRegex("[0-9a-f]{32}"));
}

TEST(EventId, IsEqualForEqualEvents) {
  Event copy = sample_event();
  EXPECT_EQ(event_id(copy), event_id(sample_event()));
  // Not part of the identity: whether the time came from the device.
  copy.timestamp_from_device = false;
  EXPECT_EQ(event_id(copy), event_id(sample_event()));
}

TEST(EventId, DiffersWhenAnyIdentityPartDiffers) {
  const std::string original = event_id(sample_event());
  std::vector<Event> variants(6, sample_event());
  variants[0].event_namespace = "other";
  variants[1].sender = "dev-43";
  variants[2].origin = "probe2";
  variants[3].timestamp_ms += 1;
  variants[4].payload["value"] = 21.6;
  variants[5].payload["unit"] = "C";
  std::vector<std::string> ids{original};
  for (const Event& variant : variants) {
    const std::string id = event_id(variant);
    for (const std::string& seen : ids) EXPECT_NE(id, seen);
    ids.push_back(id);
  }
}

TEST(EventId, PartBoundariesAreUnambiguous) {
  Event a = sample_event();
  Event b = sample_event();
  a.sender = "ab";
  a.origin = "c";
  b.sender = "a";
  b.origin = "bc";
  EXPECT_NE(event_id(a), event_id(b));
  a = b = sample_event();
  a.event_namespace = "ns";
  a.sender = "";
  b.event_namespace = "";
  b.sender = "ns";
  EXPECT_NE(event_id(a), event_id(b));
}

TEST(AppendBulkCreate, WritesTheExactCompactPair) {
  std::string out;
  append_bulk_create(out, sample_event(), context());
  EXPECT_EQ(out, std::string(R"({"create":{"_index":"iot-events","_id":")") + kSampleId + "\"}}\n" +
                     R"({"@timestamp":"2026-11-22T10:00:00.000Z","namespace":"default",)"
                     R"("sender":"dev-42","origin":"probe1",)"
                     R"("payload":{"type":"temperature","value":21.5},"value_number":21.5,)"
                     R"("timestamp":"2026-11-22T10:00:00.000Z",)"
                     R"("received_at":"2026-11-22T10:00:01.500Z","collector":"collector-0"})"
                     "\n");
}

TEST(AppendBulkCreate, LinesParseWithTheDocumentedFields) {
  std::string out;
  append_bulk_create(out, sample_event(), context());
  const std::vector<std::string> lines = split_lines(out);
  ASSERT_EQ(lines.size(), 2U);

  const json::value action = json::parse(lines[0]);
  EXPECT_EQ(action, json::parse(R"({"create":{"_index":"iot-events","_id":")" +
                                event_id(sample_event()) + "\"}}"));

  const json::object document = json::parse(lines[1]).as_object();
  std::vector<std::string> keys;
  for (const auto& member : document) keys.emplace_back(member.key());
  EXPECT_EQ(keys,
            (std::vector<std::string>{"@timestamp", "namespace", "sender", "origin", "payload",
                                      "value_number", "timestamp", "received_at", "collector"}));
  EXPECT_EQ(document.at("payload"), json::value(sample_event().payload));
  EXPECT_EQ(document.at("received_at"), "2026-11-22T10:00:01.500Z");
}

TEST(AppendBulkCreate, OmitsTimestampWhenTheDeviceSentNone) {
  Event event = sample_event();
  event.timestamp_from_device = false;
  event.timestamp_ms = kReceivedAt;
  std::string out;
  append_bulk_create(out, event, context());
  const std::vector<std::string> lines = split_lines(out);
  ASSERT_EQ(lines.size(), 2U);
  const json::object document = json::parse(lines[1]).as_object();
  EXPECT_FALSE(document.contains("timestamp"));
  EXPECT_EQ(document.at("@timestamp"), "2026-11-22T10:00:01.500Z");
  EXPECT_EQ(document.size(), 8U);
}

// The template indexes value_number (double) and value_text (keyword); payload.value itself is
// stored unindexed, so these copies are what Kibana charts and searches.
TEST(AppendBulkCreate, CopiesTheValueIntoItsIndexedFieldByType) {
  const auto document_for = [](std::string_view payload) {
    Event event = sample_event();
    event.payload = json::parse(payload).as_object();
    std::string out;
    append_bulk_create(out, event, context());
    return json::parse(split_lines(out).at(1)).as_object();
  };
  const auto number = document_for(R"({"type":"t","value":-3})");
  EXPECT_EQ(number.at("value_number"), -3);
  EXPECT_FALSE(number.contains("value_text"));
  const auto text = document_for(R"({"type":"door","value":"open"})");
  EXPECT_EQ(text.at("value_text"), "open");
  EXPECT_FALSE(text.contains("value_number"));
  EXPECT_EQ(document_for(R"({"type":"alarm","value":false})").at("value_text"), "false");
  const auto object = document_for(R"({"type":"gps","value":{"lat":1.5}})");
  EXPECT_FALSE(object.contains("value_number") || object.contains("value_text"));
  EXPECT_EQ(event_id(sample_event()), kSampleId) << "the copies are not part of the id";
}

TEST(AppendBulkCreate, AppendsWithoutTouchingExistingContent) {
  std::string out = "previous\n";
  append_bulk_create(out, sample_event(), context());
  append_bulk_create(out, sample_event(), context());
  const std::vector<std::string> lines = split_lines(out);
  ASSERT_EQ(lines.size(), 5U);
  EXPECT_EQ(lines[0], "previous");
  EXPECT_EQ(lines[1], lines[3]);
  EXPECT_EQ(lines[2], lines[4]);
}

TEST(AppendBulkCreate, EscapesEveryString) {
  const std::string nasty = "q\"b\\s/\n\t\x01\xc3\xa9\xe2\x82\xac}";
  Event event = sample_event();
  event.event_namespace = nasty + "ns";
  event.sender = nasty + "s";
  event.origin = nasty + "o";
  event.payload["note"] = nasty;
  event.payload[nasty] = 1;
  StoredDocumentContext c = context();
  const std::string index = nasty + "i";
  const std::string collector = nasty + "c";
  c.index = index;
  c.collector = collector;

  std::string out;
  append_bulk_create(out, event, c);
  const std::vector<std::string> lines = split_lines(out);
  ASSERT_EQ(lines.size(), 2U) << "raw newlines must not leak into the NDJSON";
  EXPECT_EQ(json::parse(lines[0]).at("create").at("_index"), index.c_str());
  EXPECT_EQ(json::parse(lines[0]).at("create").at("_id"), event_id(event).c_str());
  const json::object document = json::parse(lines[1]).as_object();
  EXPECT_EQ(document.at("namespace"), event.event_namespace.c_str());
  EXPECT_EQ(document.at("sender"), event.sender.c_str());
  EXPECT_EQ(document.at("origin"), event.origin.c_str());
  EXPECT_EQ(document.at("collector"), collector.c_str());
  EXPECT_EQ(document.at("payload"), json::value(event.payload));
}

TEST(AppendBulkCreate, EncodesValidatedEvents) {
  EventValidator validator{ValidationLimits{}};
  const ValidationResult result = validator.validate(
      R"([{"sender":"a","origin":"b","payload":{"type":"t","value":{"x":[1,"y",null]},"unit":"C"}},)"
      R"({"sender":"a","origin":"b","payload":{"type":"t","value":1},"timestamp":1764000000000}])",
      kReceivedAt);
  ASSERT_TRUE(result.ok()) << result.error->message;
  std::string out;
  for (const Event& event : result.events) append_bulk_create(out, event, context());
  const std::vector<std::string> lines = split_lines(out);
  ASSERT_EQ(lines.size(), 4U);
  for (std::size_t i = 0; i < 2; ++i) {
    const Event& event = result.events[i];
    EXPECT_EQ(json::parse(lines[2 * i]).at("create").at("_id"), event_id(event).c_str());
    const json::object document = json::parse(lines[2 * i + 1]).as_object();
    EXPECT_EQ(document.at("payload"), json::value(event.payload));
    EXPECT_EQ(document.at("namespace"), "default");
    EXPECT_EQ(document.contains("timestamp"), event.timestamp_from_device);
  }
  EXPECT_EQ(json::parse(lines[3]).at("@timestamp"), format_rfc3339_ms(1'764'000'000'000).c_str());
  EXPECT_EQ(json::parse(lines[1]).at("@timestamp"), format_rfc3339_ms(kReceivedAt).c_str());
}

}  // namespace
}  // namespace iot::event

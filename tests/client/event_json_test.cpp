#include "event_json.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "cli/flag_set.hpp"

namespace iot::client {
namespace {

namespace json = boost::json;

TEST(EventValue, NumbersBooleansAndTextAsAPersonMeansThem) {
  EXPECT_EQ(parse_event_value("21.5"), EventValue(21.5));
  EXPECT_EQ(parse_event_value("-3"), EventValue(-3.0));
  EXPECT_EQ(parse_event_value("true"), EventValue(true));
  EXPECT_EQ(parse_event_value("false"), EventValue(false));
  EXPECT_EQ(parse_event_value("open"), EventValue(std::string("open")));
  EXPECT_EQ(parse_event_value("21.5C"), EventValue(std::string("21.5C")));
  EXPECT_EQ(parse_event_value("inf"), EventValue(std::string("inf"))) << "JSON has no infinity";
  EXPECT_EQ(parse_event_value(""), EventValue(std::string("")));
}

TEST(EventJson, HasEveryFieldTheCollectorValidates) {
  const auto t = std::chrono::system_clock::time_point(std::chrono::milliseconds(1795428000123));
  const auto event =
      json::parse(event_json({"lab", "dev-1", "probe", "temperature", 21.5, "C", t}));
  EXPECT_EQ(event.at("namespace"), "lab");
  EXPECT_EQ(event.at("sender"), "dev-1");
  EXPECT_EQ(event.at("origin"), "probe");
  EXPECT_EQ(event.at("timestamp"), "2026-11-23T10:00:00.123Z");
  EXPECT_EQ(event.at("payload").at("type"), "temperature");
  EXPECT_EQ(event.at("payload").at("value"), 21.5);
  EXPECT_EQ(event.at("payload").at("unit"), "C");
  const auto no_unit = json::parse(event_json({"d", "s", "o", "door", true, "", t}));
  EXPECT_FALSE(no_unit.at("payload").as_object().contains("unit"));
  EXPECT_EQ(no_unit.at("payload").at("value"), true);
}

TEST(EventTimestamp, Rfc3339OrEpochMilliseconds) {
  using std::chrono::milliseconds;
  EXPECT_EQ(parse_event_timestamp("1795428000123").time_since_epoch(), milliseconds(1795428000123));
  EXPECT_EQ(parse_event_timestamp("2026-11-23T10:00:00.123Z").time_since_epoch(),
            milliseconds(1795428000123));
  EXPECT_THROW(parse_event_timestamp("yesterday"), cli::UsageError);
  EXPECT_THROW(parse_event_timestamp(""), cli::UsageError);
}

}  // namespace
}  // namespace iot::client

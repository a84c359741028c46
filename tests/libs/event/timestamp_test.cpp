#include "event/timestamp.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <ctime>
#include <string>

namespace iot::event {
namespace {

constexpr std::int64_t kHour = 3'600'000;
// 2026-11-22T10:00:00Z, computed independently: 20'779 days after 1970-01-01, plus 10 hours.
constexpr std::int64_t kExampleMs = 20'779LL * 86'400'000 + 10 * kHour;

TEST(ParseRfc3339, AcceptsUtcWithAndWithoutFraction) {
  EXPECT_EQ(parse_rfc3339_ms("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_rfc3339_ms("2026-11-22T10:00:00Z"), kExampleMs);
  EXPECT_EQ(parse_rfc3339_ms("2026-11-22T10:00:00.000Z"), kExampleMs);
  EXPECT_EQ(parse_rfc3339_ms("2026-11-22T10:00:00.250Z"), kExampleMs + 250);
}

TEST(ParseRfc3339, AcceptsLowercaseSeparatorAndZone) {
  EXPECT_EQ(parse_rfc3339_ms("2026-11-22t10:00:00z"), kExampleMs);
  EXPECT_EQ(parse_rfc3339_ms("2026-11-22t10:00:00.5Z"), kExampleMs + 500);
}

TEST(ParseRfc3339, AppliesNumericOffsets) {
  EXPECT_EQ(parse_rfc3339_ms("2026-11-22T12:00:00+02:00"), kExampleMs);
  EXPECT_EQ(parse_rfc3339_ms("2026-11-22T04:30:00-05:30"), kExampleMs);
  EXPECT_EQ(parse_rfc3339_ms("2026-11-22T10:00:00+00:00"), kExampleMs);
  EXPECT_EQ(parse_rfc3339_ms("2026-11-22T10:00:00-00:00"), kExampleMs);
  // An offset can move the instant into another day, month and year.
  EXPECT_EQ(parse_rfc3339_ms("2027-01-01T01:00:00+02:00"),
            parse_rfc3339_ms("2026-12-31T23:00:00Z"));
  EXPECT_EQ(parse_rfc3339_ms("2026-11-22T00:00:00.123+23:59"),
            parse_rfc3339_ms("2026-11-21T00:01:00.123Z"));
}

TEST(ParseRfc3339, TruncatesFractionsOfAnyLengthToMilliseconds) {
  EXPECT_EQ(parse_rfc3339_ms("2026-11-22T10:00:00.1Z"), kExampleMs + 100);
  EXPECT_EQ(parse_rfc3339_ms("2026-11-22T10:00:00.12Z"), kExampleMs + 120);
  EXPECT_EQ(parse_rfc3339_ms("2026-11-22T10:00:00.123Z"), kExampleMs + 123);
  EXPECT_EQ(parse_rfc3339_ms("2026-11-22T10:00:00.1239Z"), kExampleMs + 123);
  EXPECT_EQ(parse_rfc3339_ms("2026-11-22T10:00:00.999999999999999999999Z"), kExampleMs + 999);
  EXPECT_EQ(parse_rfc3339_ms("2026-11-22T10:00:00.000001+01:00"), kExampleMs - kHour);
}

TEST(ParseRfc3339, ValidatesCalendarIncludingLeapYears) {
  EXPECT_TRUE(parse_rfc3339_ms("2024-02-29T00:00:00Z"));
  EXPECT_TRUE(parse_rfc3339_ms("2000-02-29T00:00:00Z"));
  EXPECT_TRUE(parse_rfc3339_ms("0000-02-29T00:00:00Z"));
  EXPECT_FALSE(parse_rfc3339_ms("2023-02-29T00:00:00Z"));
  EXPECT_FALSE(parse_rfc3339_ms("1900-02-29T00:00:00Z"));
  EXPECT_FALSE(parse_rfc3339_ms("2024-02-30T00:00:00Z"));
  EXPECT_TRUE(parse_rfc3339_ms("2026-04-30T00:00:00Z"));
  EXPECT_FALSE(parse_rfc3339_ms("2026-04-31T00:00:00Z"));
  EXPECT_TRUE(parse_rfc3339_ms("2026-12-31T23:59:59Z"));
  EXPECT_FALSE(parse_rfc3339_ms("2026-00-10T00:00:00Z"));
  EXPECT_FALSE(parse_rfc3339_ms("2026-13-10T00:00:00Z"));
  EXPECT_FALSE(parse_rfc3339_ms("2026-11-00T00:00:00Z"));
  EXPECT_FALSE(parse_rfc3339_ms("2026-11-22T24:00:00Z"));
  EXPECT_FALSE(parse_rfc3339_ms("2026-11-22T10:60:00Z"));
  EXPECT_FALSE(parse_rfc3339_ms("2026-11-22T10:00:60Z"));  // leap seconds are not accepted
}

TEST(ParseRfc3339, CoversYears0000To9999) {
  EXPECT_EQ(parse_rfc3339_ms("0000-01-01T00:00:00Z"), -62'167'219'200'000);
  EXPECT_EQ(parse_rfc3339_ms("9999-12-31T23:59:59.999Z"), 253'402'300'799'999);
  EXPECT_EQ(parse_rfc3339_ms("1969-12-31T23:59:59.999Z"), -1);
  // Offsets that leave the 4-digit year range in UTC are refused.
  EXPECT_FALSE(parse_rfc3339_ms("0000-01-01T00:30:00+01:00"));
  EXPECT_FALSE(parse_rfc3339_ms("9999-12-31T23:30:00-01:00"));
}

TEST(ParseRfc3339, RejectsOtherShapes) {
  for (const char* text : {
           "",
           "2026-11-22",
           "2026-11-22T10:00:00",       // no zone
           "2026-11-22T10:00Z",         // no seconds
           "2026-11-22 10:00:00Z",      // space separator
           "2026-11-22X10:00:00Z",      //
           "2026-11-22T10:00:00.Z",     // empty fraction
           "2026-11-22T10:00:00,5Z",    // comma fraction
           "2026-11-22T10:00:00ZZ",     // trailing text
           "2026-11-22T10:00:00Z ",     //
           " 2026-11-22T10:00:00Z",     //
           "2026-11-22T10:00:00+0200",  // offset without colon
           "2026-11-22T10:00:00+02",    //
           "2026-11-22T10:00:00+02:00:00",
           "2026-11-22T10:00:00+24:00",  // offset out of range
           "2026-11-22T10:00:00+02:60",  //
           "2026-11-22T10:00:00UTC",     //
           "26-11-22T10:00:00Z",         // short year
           "12026-11-22T10:00:00Z",      // long year
           "2026-1-22T10:00:00Z",        //
           "2026-11-22T1:00:00Z",        //
           "2026/11/22T10:00:00Z",       //
           "2026-11-22T10:00:00.12a4Z",  //
           "+026-11-22T10:00:00Z",       //
           "2026-11-22T10:00:0aZ",       //
           "1764000000000",              // epoch digits are not RFC 3339
       }) {
    EXPECT_FALSE(parse_rfc3339_ms(text)) << text;
  }
}

TEST(FormatRfc3339, UsesFixedWidthUtcWithMilliseconds) {
  EXPECT_EQ(format_rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_rfc3339_ms(kExampleMs), "2026-11-22T10:00:00.000Z");
  EXPECT_EQ(format_rfc3339_ms(kExampleMs + 7), "2026-11-22T10:00:00.007Z");
  EXPECT_EQ(format_rfc3339_ms(kExampleMs + 45 * 60'000 + 9'120), "2026-11-22T10:45:09.120Z");
  EXPECT_EQ(format_rfc3339_ms(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(format_rfc3339_ms(951'782'400'000), "2000-02-29T00:00:00.000Z");
  EXPECT_EQ(format_rfc3339_ms(-62'167'219'200'000), "0000-01-01T00:00:00.000Z");
  EXPECT_EQ(format_rfc3339_ms(253'402'300'799'999), "9999-12-31T23:59:59.999Z");
}

TEST(FormatRfc3339, DoesNotBreakOutsideFourDigitYears) {
  // Not produced by validated events, but must stay well defined.
  EXPECT_EQ(format_rfc3339_ms(253'402'300'800'000), "10000-01-01T00:00:00.000Z");
  EXPECT_FALSE(format_rfc3339_ms(INT64_MIN).empty());
  EXPECT_FALSE(format_rfc3339_ms(INT64_MAX).empty());
}

// gmtime_r serves only as an independent oracle here; the library does not use it.
TEST(FormatRfc3339, AgreesWithGmtimeAndRoundTrips) {
  constexpr std::int64_t kFirst = -62'167'219'200'000;  // 0000-01-01
  constexpr std::int64_t kLast = 253'402'300'799'999;   // 9999-12-31
  // A prime step walks through every month, day, hour and millisecond pattern.
  constexpr std::int64_t kStep = 9'999'991'337;
  int checked = 0;
  for (std::int64_t ms = kFirst; ms <= kLast; ms += kStep) {
    const std::string text = format_rfc3339_ms(ms);
    const auto seconds = static_cast<std::time_t>((ms - ((ms % 1000) + 1000) % 1000) / 1000);
    std::tm tm{};
    ASSERT_NE(gmtime_r(&seconds, &tm), nullptr);
    char expected[96];
    std::snprintf(expected, sizeof(expected), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                  tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(((ms % 1000) + 1000) % 1000));
    ASSERT_EQ(text, expected) << ms;
    ASSERT_EQ(parse_rfc3339_ms(text), ms) << text;
    ++checked;
  }
  EXPECT_GT(checked, 30'000);
}

}  // namespace
}  // namespace iot::event

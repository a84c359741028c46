#include "logging/log.hpp"

#include <gtest/gtest.h>

#include <cctype>

namespace iot::logging {
namespace {

// "2026-11-23T10:00:00.123Z": digits where the pattern has 'd', the rest literally.
bool is_utc_millis_timestamp(std::string_view text) {
  constexpr std::string_view kPattern = "dddd-dd-ddTdd:dd:dd.dddZ";
  if (text.size() != kPattern.size()) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const bool ok = kPattern[i] == 'd' ? std::isdigit(static_cast<unsigned char>(text[i])) != 0
                                       : text[i] == kPattern[i];
    if (!ok) return false;
  }
  return true;
}

std::string capture(Format format, Level level, auto&& body) {
  configure(format, level);
  ::testing::internal::CaptureStderr();
  body();
  return ::testing::internal::GetCapturedStderr();
}

TEST(Log, JsonLinesAreOneValidObjectWithEscapedFields) {
  const auto out = capture(Format::json, Level::info, [] {
    info("ready", {{"coap", "0.0.0.0:5683"},
                   {"threads", 2u},
                   {"ok", true},
                   {"ratio", 0.5},
                   {"detail", "quote\" backslash\\ newline\n tab\t bell\a"}});
  });
  ASSERT_EQ(out.rfind(R"({"ts":")", 0), 0u) << out;
  EXPECT_TRUE(is_utc_millis_timestamp(out.substr(7, 24))) << out;
  EXPECT_EQ(out.substr(31, 17), R"(","level":"info",)") << out;
  EXPECT_EQ(out.substr(out.size() - 2), "}\n") << out;
  EXPECT_NE(out.find(R"("msg":"ready","coap":"0.0.0.0:5683","threads":2,"ok":true,"ratio":0.5,)"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find(R"("detail":"quote\" backslash\\ newline\n tab\t bell\u0007")"),
            std::string::npos)
      << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << "one line per event";
}

TEST(Log, TextLinesQuoteOnlyAmbiguousValues) {
  const auto out = capture(Format::text, Level::info, [] {
    warn("sink write failed",
         {{"path", "/data/events.ndjson"}, {"error", "No space left"}, {"n", -3}});
  });
  EXPECT_TRUE(is_utc_millis_timestamp(out.substr(0, 24))) << out;
  EXPECT_EQ(out.substr(24),
            " warning sink write failed path=/data/events.ndjson error=\"No space left\" n=-3\n");
}

TEST(Log, LinesBelowTheLevelAreNotWritten) {
  const auto out = capture(Format::text, Level::warn, [] {
    info("hidden");
    debug("hidden");
    error("shown");
  });
  EXPECT_EQ(out.find("hidden"), std::string::npos);
  EXPECT_NE(out.find("shown"), std::string::npos);
  EXPECT_FALSE(enabled(Level::info));
  EXPECT_TRUE(enabled(Level::error));
}

TEST(Log, ParsesLevelsAndRefusesOthers) {
  EXPECT_EQ(parse_level("debug"), Level::debug);
  EXPECT_EQ(parse_level("off"), Level::off);
  EXPECT_THROW(parse_level("verbose"), std::invalid_argument);
}

}  // namespace
}  // namespace iot::logging

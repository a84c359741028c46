#include "logging/log.hpp"

#include <gtest/gtest.h>

#include <regex>

namespace iot::logging {
namespace {

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
  EXPECT_TRUE(std::regex_match(
      out, std::regex(R"(\{"ts":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z","level":"info",.*\}\n)")))
      << out;
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
  EXPECT_TRUE(std::regex_match(
      out,
      std::regex(
          R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z warning sink write failed path=/data/events.ndjson error="No space left" n=-3\n)")))
      << out;
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

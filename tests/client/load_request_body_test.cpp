#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <set>

#include "load_runner.hpp"

namespace iot::client {
namespace {

namespace json = boost::json;

LoadOptions options(std::uint32_t batch, std::size_t payload_bytes) {
  LoadOptions o;
  o.batch = batch;
  o.payload_bytes = payload_bytes;
  o.run_id = "run42abc";
  return o;
}

const auto kNow = std::chrono::system_clock::time_point(std::chrono::milliseconds(1795428000000));

TEST(LoadRequestBody, OneEventIsAnObjectCarryingTheRunIdAndItsSequenceNumber) {
  const auto body = json::parse(load_request_body(options(1, 0), "iotc-7", 41, 3, kNow));
  ASSERT_TRUE(body.is_object());
  EXPECT_EQ(body.at("sender"), "iotc-7");
  EXPECT_EQ(body.at("payload").at("run_id"), "run42abc");
  EXPECT_EQ(body.at("payload").at("value"), 41);
  EXPECT_EQ(body.at("timestamp"), "2026-11-23T10:00:00.000Z");
}

TEST(LoadRequestBody, ABatchIsAnArrayWithStridedSequenceNumbers) {
  const auto body = json::parse(load_request_body(options(4, 0), "d", 5, 3, kNow));
  ASSERT_TRUE(body.is_array());
  std::vector<std::int64_t> seqs;
  for (const auto& event : body.as_array())
    seqs.push_back(event.at("payload").at("value").as_int64());
  EXPECT_EQ(seqs, (std::vector<std::int64_t>{5, 8, 11, 14}));
}

TEST(LoadRequestBody, SequenceNumbersOfAllThreadsNeverCollide) {
  // Thread t, request n, event k: t + threads * (n * batch + k), as the load threads number them.
  constexpr std::uint64_t threads = 3, batch = 4;
  std::set<std::int64_t> seen;
  for (std::uint64_t t = 0; t < threads; ++t) {
    for (std::uint64_t n = 0; n < 50; ++n) {
      const auto body = json::parse(
          load_request_body(options(batch, 0), "d", t + threads * n * batch, threads, kNow));
      for (const auto& event : body.as_array()) {
        EXPECT_TRUE(seen.insert(event.at("payload").at("value").as_int64()).second);
      }
    }
  }
  EXPECT_EQ(seen.size(), threads * 50 * batch);
}

TEST(LoadRequestBody, PaddingReachesAboutTheRequestedSize) {
  for (const std::uint32_t batch : {1u, 3u}) {
    const auto body = load_request_body(options(batch, 1000), "d", 1, 1, kNow);
    EXPECT_LE(body.size(), 1000u);
    EXPECT_GE(body.size(), 1000u - 10 * batch) << "batch " << batch;
    EXPECT_NO_THROW(json::parse(body));
  }
  const auto small = load_request_body(options(1, 10), "d", 1, 1, kNow);
  EXPECT_EQ(small, load_request_body(options(1, 0), "d", 1, 1, kNow)) << "never cut short";
}

TEST(RunId, TwelveHexDigitsAndDifferentEachTime) {
  const auto a = new_run_id();
  EXPECT_EQ(a.size(), 12u);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(a, new_run_id());
}

}  // namespace
}  // namespace iot::client

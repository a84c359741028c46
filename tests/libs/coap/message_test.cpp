#include "coap/message.hpp"

#include <gtest/gtest.h>

namespace iot::coap {
namespace {

TEST(Code, PrintsClassDotDetail) {
  EXPECT_EQ(code_text(Code::created), "2.01");
  EXPECT_EQ(code_text(Code::continue_), "2.31");
  EXPECT_EQ(code_text(Code::request_entity_too_large), "4.13");
  EXPECT_EQ(code_text(Code::service_unavailable), "5.03");
}

TEST(BlockOption, RoundTripsAndRefusesBert) {
  const BlockOption option{5, true, 2};
  EXPECT_EQ(option.encode(), (5u << 4) | 0x8u | 2u);
  EXPECT_EQ(option.size(), 64u);
  const auto decoded = BlockOption::decode(option.encode());
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->number, 5u);
  EXPECT_TRUE(decoded->more);
  EXPECT_EQ(decoded->size_exponent, 2);
  EXPECT_FALSE(BlockOption::decode(0x7));
}

TEST(PeerAddress, FormatsForLogs) {
  PeerAddress v4;
  v4.bytes = {2 /* AF_INET */, 0x16, 0x33, 127, 0, 0, 1};
  v4.length = 7;
  EXPECT_EQ(v4.to_string(), "127.0.0.1:5683");
  PeerAddress v6;
  v6.bytes = {10 /* AF_INET6 */, 0x16, 0x33};
  v6.bytes[18] = 1;
  v6.length = 19;
  EXPECT_EQ(v6.to_string(), "[::1]:5683");
}

}  // namespace
}  // namespace iot::coap

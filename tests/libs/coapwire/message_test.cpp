// Encoding and decoding of CoAP messages (RFC 7252 §3).
#include "coapwire/message.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace iot::coapwire {
namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes bytes(std::initializer_list<int> values) {
  Bytes out;
  for (const int value : values) out.push_back(static_cast<std::uint8_t>(value));
  return out;
}

DecodeStatus status_of(const Bytes& datagram) {
  Message message;
  return decode_into(datagram, message);
}

TEST(coapwire_Code, PrintsClassDotTwoDigitDetail) {
  EXPECT_EQ(codes::kCreated.to_string(), "2.01");
  EXPECT_EQ(codes::kGet.to_string(), "0.01");
  EXPECT_EQ(codes::kRequestEntityTooLarge.to_string(), "4.13");
  EXPECT_EQ(codes::kServiceUnavailable.to_string(), "5.03");
  EXPECT_EQ(codes::kContinue.to_string(), "2.31");
}

TEST(coapwire_Code, RoundTripsThroughTheWireByte) {
  EXPECT_EQ(codes::kContent.raw(), 0x45);
  EXPECT_EQ(Code::from_raw(0x84), codes::kNotFound);
  EXPECT_TRUE(codes::kPost.is_request());
  EXPECT_TRUE(codes::kBadRequest.is_response());
  EXPECT_FALSE((Code{3, 1}.is_response()));
  EXPECT_TRUE(codes::kEmpty.is_empty());
}

// RFC 7252 Appendix A, figure 16: GET /temperature.
TEST(coapwire_Encode, MatchesTheRfcExample) {
  Message message;
  message.type = MessageType::confirmable;
  message.code = codes::kGet;
  message.message_id = 0x7d34;
  message.add_uri_path("temperature");
  Bytes expected = bytes({0x40, 0x01, 0x7d, 0x34, 0xbb});
  for (const char c : std::string("temperature")) expected.push_back(static_cast<std::uint8_t>(c));
  EXPECT_EQ(encode(message), expected);

  const auto decoded = decode(expected);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->type, MessageType::confirmable);
  EXPECT_EQ(decoded->code, codes::kGet);
  EXPECT_EQ(decoded->message_id, 0x7d34);
  EXPECT_EQ(decoded->uri_path(), "temperature");
}

TEST(coapwire_Encode, KeepsOptionsInAscendingOrderAndRepeatedOnesInTheirOrder) {
  Message message;
  message.code = codes::kPost;
  message.token = *Token::from(bytes({1, 2, 3, 4}));
  message.set_content_format(kContentFormatJson);
  message.add_uri_query("b=2&&c");
  message.add_uri_path("/api//v1/events/");
  message.payload = bytes({'{', '}'});
  const Bytes wire = encode(message);
  const auto decoded = decode(wire);
  ASSERT_TRUE(decoded);
  ASSERT_EQ(decoded->option_count(), 6u);
  std::vector<std::uint16_t> numbers;
  for (std::size_t i = 0; i < decoded->option_count(); ++i) {
    numbers.push_back(decoded->option(i).number);
  }
  EXPECT_EQ(numbers, (std::vector<std::uint16_t>{11, 11, 11, 12, 15, 15}));
  EXPECT_EQ(decoded->uri_path(), "api/v1/events");
  EXPECT_EQ(decoded->content_format(), kContentFormatJson);
  EXPECT_EQ(decoded->token, message.token);
  EXPECT_EQ(decoded->payload_text(), "{}");
  EXPECT_EQ(encode(*decoded), wire);
}

TEST(coapwire_Encode, UsesExtendedDeltaAndLengthForms) {
  Message message;
  message.code = codes::kPost;
  message.set_size1(1'000'000);                     // delta 60: the 13 form
  message.add_option(2000, std::string(300, 'x'));  // delta 1940 and length 300: the 14 form
  message.add_option(65535, std::string_view("z"));
  const Bytes wire = encode(message);
  // Size1: delta 60 = 13 + 47, length 3.
  EXPECT_EQ(wire[4], 0xd3);
  EXPECT_EQ(wire[5], 47);
  const auto decoded = decode(wire);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->size1(), 1'000'000u);
  ASSERT_TRUE(decoded->find_option(2000));
  EXPECT_EQ(decoded->find_option(2000)->value.size(), 300u);
  EXPECT_EQ(decoded->find_option(65535)->value.size(), 1u);
  EXPECT_EQ(encode(*decoded), wire);
}

TEST(coapwire_Options, UnsignedValuesUseTheFewestBytes) {
  for (const auto& [value, length] : std::vector<std::pair<std::uint32_t, std::size_t>>{
           {0, 0}, {1, 1}, {255, 1}, {256, 2}, {65536, 3}, {0x01000000, 4}, {0xffffffff, 4}}) {
    Message message;
    message.add_uint_option(options::kMaxAge, value);
    EXPECT_EQ(message.find_option(options::kMaxAge)->value.size(), length) << value;
    EXPECT_EQ(message.max_age(), value);
  }
  Message message;
  message.add_option(options::kMaxAge, bytes({1, 2, 3, 4, 5}));
  EXPECT_FALSE(message.max_age()) << "longer than 4 bytes is not a uint";
  EXPECT_FALSE(message.content_format());
}

TEST(coapwire_Options, Block1RoundTrips) {
  Message message;
  message.set_block1(BlockOption{5, true, 6});
  const auto block = message.block1();
  ASSERT_TRUE(block);
  EXPECT_EQ(block->number, 5u);
  EXPECT_TRUE(block->more);
  EXPECT_EQ(block->size(), 1024u);
  EXPECT_FALSE(BlockOption::decode(0x07)) << "szx 7 (BERT) is not supported";
}

TEST(coapwire_Token, HoldsAtMostEightBytes) {
  EXPECT_TRUE(Token::from(Bytes(8, 1)));
  EXPECT_FALSE(Token::from(Bytes(9, 1)));
  EXPECT_EQ(*Token::from(bytes({1, 2})), *Token::from(bytes({1, 2})));
  EXPECT_FALSE(*Token::from(bytes({1, 2})) == *Token::from(bytes({1, 2, 0})));
}

TEST(coapwire_Encode, EmptyMessagesAreFourBytes) {
  EXPECT_EQ(encode_empty(MessageType::acknowledgement, 0x1234),
            (std::array<std::uint8_t, 4>{0x60, 0x00, 0x12, 0x34}));
  EXPECT_EQ(encode_empty(MessageType::reset, 0xbeef),
            (std::array<std::uint8_t, 4>{0x70, 0x00, 0xbe, 0xef}));
  Message empty;
  empty.type = MessageType::reset;
  empty.message_id = 0xbeef;
  EXPECT_EQ(encode(empty), bytes({0x70, 0x00, 0xbe, 0xef}));
  empty.token = *Token::from(bytes({1}));
  EXPECT_THROW(encode(empty), std::invalid_argument);
}

TEST(coapwire_Decode, ReadsTypeTokenAndPayload) {
  const auto message =
      decode(bytes({0x62, 0x45, 0x00, 0x07, 0xaa, 0xbb, 0xc1, 0x00, 0xff, 'o', 'k'}));
  ASSERT_TRUE(message);
  EXPECT_EQ(message->type, MessageType::acknowledgement);
  EXPECT_EQ(message->code, codes::kContent);
  EXPECT_EQ(message->message_id, 7);
  EXPECT_EQ(message->token, *Token::from(bytes({0xaa, 0xbb})));
  EXPECT_EQ(message->content_format(), 0u);
  EXPECT_EQ(message->payload_text(), "ok");
}

TEST(coapwire_Decode, RejectsWhatRfc7252Section3Forbids) {
  EXPECT_EQ(status_of(bytes({0x40, 0x01, 0x00})), DecodeStatus::too_short);
  EXPECT_EQ(status_of(bytes({})), DecodeStatus::too_short);
  EXPECT_EQ(status_of(bytes({0x80, 0x01, 0x00, 0x01})), DecodeStatus::bad_version);
  EXPECT_EQ(status_of(bytes({0x00, 0x01, 0x00, 0x01})), DecodeStatus::bad_version);
  EXPECT_EQ(status_of(bytes({0x49, 0x01, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9})),
            DecodeStatus::bad_token_length);
  EXPECT_EQ(status_of(bytes({0x44, 0x01, 0, 1, 1, 2})), DecodeStatus::bad_token_length);
  EXPECT_EQ(status_of(bytes({0x41, 0x00, 0, 1, 0xaa})), DecodeStatus::empty_not_empty);
  EXPECT_EQ(status_of(bytes({0x60, 0x00, 0, 1, 0xff})), DecodeStatus::empty_not_empty);
  EXPECT_EQ(status_of(bytes({0x40, 0x01, 0, 1, 0xf1, 0x00})), DecodeStatus::reserved_option_nibble);
  EXPECT_EQ(status_of(bytes({0x40, 0x01, 0, 1, 0x1f})), DecodeStatus::reserved_option_nibble);
  EXPECT_EQ(status_of(bytes({0x40, 0x01, 0, 1, 0xd0})), DecodeStatus::truncated_option);
  EXPECT_EQ(status_of(bytes({0x40, 0x01, 0, 1, 0xe0, 0x01})), DecodeStatus::truncated_option);
  EXPECT_EQ(status_of(bytes({0x40, 0x01, 0, 1, 0x0d, 0x05, 'a'})), DecodeStatus::truncated_option);
  EXPECT_EQ(status_of(bytes({0x40, 0x01, 0, 1, 0x13, 'a'})), DecodeStatus::truncated_option);
  EXPECT_EQ(status_of(bytes({0x40, 0x01, 0, 1, 0xe0, 0xff, 0xff, 0x10})),
            DecodeStatus::option_number_overflow);
  EXPECT_EQ(status_of(bytes({0x40, 0x01, 0, 1, 0xff})), DecodeStatus::empty_payload);
  EXPECT_EQ(status_of(bytes({0x40, 0x01, 0, 1})), DecodeStatus::ok);
  EXPECT_EQ(status_of(bytes({0x60, 0x00, 0, 1})), DecodeStatus::ok);
}

TEST(coapwire_Decode, ReusesTheMessageWithoutKeepingOldContent) {
  Message message;
  ASSERT_EQ(decode_into(bytes({0x41, 0x45, 0, 1, 9, 0xb1, 'a', 0xff, 'x', 'y'}), message),
            DecodeStatus::ok);
  ASSERT_EQ(decode_into(bytes({0x60, 0x00, 0, 2}), message), DecodeStatus::ok);
  EXPECT_EQ(message.option_count(), 0u);
  EXPECT_TRUE(message.payload.empty());
  EXPECT_EQ(message.token.length, 0);
  EXPECT_EQ(message.message_id, 2);
}

}  // namespace
}  // namespace iot::coapwire

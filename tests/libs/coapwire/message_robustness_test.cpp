// Decoding garbage must never crash or read out of bounds (the sanitizer build checks the
// latter), and whatever decodes must encode back to the same bytes: RFC 7252's option encoding
// has exactly one form per value, so a round trip that differs means a decoding bug.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "coapwire/message.hpp"

namespace iot::coapwire {
namespace {

using Bytes = std::vector<std::uint8_t>;

// Decodes into a reused message (as the engine does) and checks the round trip when it decodes.
void expect_safe(const Bytes& datagram, Message& reused, std::vector<std::uint8_t>& scratch) {
  if (decode_into(datagram, reused) != DecodeStatus::ok) return;
  encode(reused, scratch);
  ASSERT_EQ(scratch, datagram) << "round trip changed a valid datagram";
}

std::vector<Bytes> valid_messages() {
  std::vector<Bytes> out;
  Message message;
  message.code = codes::kPost;
  message.message_id = 0x1234;
  message.token = *Token::from(Bytes{1, 2, 3, 4, 5, 6, 7, 8});
  message.add_uri_path("events/batch");
  message.set_content_format(kContentFormatJson);
  message.set_block1(BlockOption{3, true, 6});
  message.set_size1(100'000);
  message.add_option(2000, std::string(300, 'v'));
  message.payload = Bytes(40, 'p');
  out.push_back(encode(message));

  Message ack;
  ack.type = MessageType::acknowledgement;
  ack.code = codes::kCreated;
  ack.message_id = 7;
  ack.token = *Token::from(Bytes{9, 9, 9, 9});
  ack.add_uint_option(options::kMaxAge, 30);
  ack.payload = Bytes{'o', 'k'};
  out.push_back(encode(ack));

  Message empty;
  empty.type = MessageType::reset;
  empty.message_id = 0xffff;
  out.push_back(encode(empty));
  return out;
}

TEST(coapwire_DecodeRobustness, EveryTruncationOfValidMessages) {
  Message reused;
  Bytes scratch;
  for (const Bytes& full : valid_messages()) {
    ASSERT_EQ(decode_into(full, reused), DecodeStatus::ok);
    for (std::size_t length = 0; length < full.size(); ++length) {
      // A copy of exactly `length` bytes, so reading past it is a heap overflow ASan reports.
      const Bytes prefix(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(length));
      expect_safe(prefix, reused, scratch);
    }
  }
}

TEST(coapwire_DecodeRobustness, EverySingleByteValueAtEveryPosition) {
  Message reused;
  Bytes scratch;
  for (const Bytes& full : valid_messages()) {
    for (std::size_t position = 0; position < full.size(); ++position) {
      Bytes mutated = full;
      for (int value = 0; value < 256; ++value) {
        mutated[position] = static_cast<std::uint8_t>(value);
        expect_safe(mutated, reused, scratch);
      }
    }
  }
}

TEST(coapwire_DecodeRobustness, RandomDatagrams) {
  std::mt19937 random(20240601);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<std::size_t> length(0, 48);
  Message reused;
  Bytes scratch;
  std::size_t decoded = 0;
  for (int i = 0; i < 200'000; ++i) {
    Bytes datagram(length(random));
    for (auto& b : datagram) b = static_cast<std::uint8_t>(byte(random));
    // Mostly version 1 with a small token length, or nearly everything fails at the header.
    if (!datagram.empty() && i % 4 != 0) {
      datagram[0] = static_cast<std::uint8_t>(0x40 | (datagram[0] & 0x30) | (datagram[0] % 9));
    }
    expect_safe(datagram, reused, scratch);
    if (decode_into(datagram, reused) == DecodeStatus::ok) ++decoded;
  }
  EXPECT_GT(decoded, 1000u) << "the generator should reach the option parser";
}

}  // namespace
}  // namespace iot::coapwire

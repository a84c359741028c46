// OutgoingConfirmables: the retransmission schedule of the server's separate responses, with an
// explicit clock.
#include "outgoing_confirmables.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <vector>

namespace iot::coap::detail {
namespace {

using namespace std::chrono_literals;
using Clock = OutgoingConfirmables::Clock;

PeerAddress peer(std::uint8_t last) {
  PeerAddress address;
  address.bytes = {AF_INET, 0x16, 0x33, 127, 0, 0, last};
  address.length = 7;
  return address;
}

class OutgoingConfirmablesTest : public ::testing::Test {
 protected:
  coapwire::TransmissionParameters parameters{.ack_timeout = 100ms, .max_retransmit = 2};
  OutgoingConfirmables outgoing{parameters};
  std::vector<std::vector<std::uint8_t>> sent;
  OutgoingConfirmables::Send send = [this](const SocketAddress&,
                                           const std::vector<std::uint8_t>& datagram) {
    sent.push_back(datagram);
  };
  const Clock::time_point start = Clock::now();
};

TEST_F(OutgoingConfirmablesTest, RetransmitsWithDoublingTimeoutsThenGivesUp) {
  const auto first = outgoing.add(peer(1), 7, SocketAddress{}, {1, 2, 3}, start);
  EXPECT_GE(first - start, 100ms);
  EXPECT_LE(first - start, 150ms) << "ACK_TIMEOUT * ACK_RANDOM_FACTOR at most";
  EXPECT_EQ(outgoing.expire(first - 1ms, send), 0u);
  EXPECT_TRUE(sent.empty()) << "nothing is due before the deadline";

  EXPECT_EQ(outgoing.expire(first, send), 0u);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0], (std::vector<std::uint8_t>{1, 2, 3}));
  const auto second = *outgoing.next_deadline();
  EXPECT_EQ(second - first, 2 * (first - start)) << "the timeout doubles";

  EXPECT_EQ(outgoing.expire(second, send), 0u);
  EXPECT_EQ(sent.size(), 2u);
  EXPECT_EQ(outgoing.expire(*outgoing.next_deadline(), send), 1u) << "MAX_RETRANSMIT reached";
  EXPECT_EQ(sent.size(), 2u);
  EXPECT_TRUE(outgoing.empty());
  EXPECT_FALSE(outgoing.next_deadline());
}

TEST_F(OutgoingConfirmablesTest, AnAckFromTheSamePeerAndMessageIdSettlesIt) {
  outgoing.add(peer(1), 7, SocketAddress{}, {1}, start);
  EXPECT_FALSE(outgoing.settle(peer(2), 7)) << "another peer";
  EXPECT_FALSE(outgoing.settle(peer(1), 8)) << "another message";
  EXPECT_TRUE(outgoing.settle(peer(1), 7));
  EXPECT_TRUE(outgoing.empty());
  EXPECT_EQ(outgoing.expire(start + 1h, send), 0u);
  EXPECT_TRUE(sent.empty()) << "a settled message is never retransmitted";
}

TEST_F(OutgoingConfirmablesTest, ManySettledMessagesDoNotHideTheOneStillDue) {
  for (std::uint16_t id = 0; id < 1000; ++id) {
    outgoing.add(peer(1), id, SocketAddress{}, {static_cast<std::uint8_t>(id)}, start);
  }
  for (std::uint16_t id = 0; id < 1000; ++id) {
    if (id != 500) outgoing.settle(peer(1), id);
  }
  EXPECT_EQ(outgoing.size(), 1u);
  EXPECT_EQ(outgoing.expire(start + 200ms, send), 0u);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0], (std::vector<std::uint8_t>{static_cast<std::uint8_t>(500 & 0xff)}));
}

}  // namespace
}  // namespace iot::coap::detail

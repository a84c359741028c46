#include "coap/block1_assembler.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace iot::coap {
namespace {

using namespace std::chrono_literals;
using Assembler = Block1Assembler;

PeerAddress peer(std::uint8_t id) {
  PeerAddress p;
  p.bytes = {2, 0x13, 0x88, 10, 0, 0, id};
  p.length = 7;
  return p;
}

std::vector<std::uint8_t> bytes(std::size_t n, char fill) {
  return std::vector<std::uint8_t>(n, fill);
}

BlockOption block(std::uint32_t number, bool more, std::uint8_t szx = 2 /* 64 bytes */) {
  return BlockOption{number, more, szx};
}

TEST(Block1Assembler, ReassemblesInOrderBlocks) {
  Assembler assembler({.max_body_bytes = 1000});
  const auto now = Assembler::Clock::now();
  auto a = bytes(64, 'a'), b = bytes(64, 'b'), c = bytes(10, 'c');
  EXPECT_TRUE(std::holds_alternative<Assembler::Continue>(
      assembler.add(peer(1), "events", block(0, true), 138, a, now)));
  EXPECT_TRUE(std::holds_alternative<Assembler::Continue>(
      assembler.add(peer(1), "events", block(1, true), {}, b, now)));
  EXPECT_EQ(assembler.buffered_bytes(), 128u);
  auto last = assembler.add(peer(1), "events", block(2, false), {}, c, now);
  ASSERT_TRUE(std::holds_alternative<Assembler::Complete>(last));
  EXPECT_EQ(std::get<Assembler::Complete>(last).body,
            std::string(64, 'a') + std::string(64, 'b') + std::string(10, 'c'));
  EXPECT_EQ(assembler.transfers(), 0u);
  EXPECT_EQ(assembler.buffered_bytes(), 0u);
}

TEST(Block1Assembler, RefusesAnOversizedSize1OnTheFirstBlockWithoutBuffering) {
  Assembler assembler({.max_body_bytes = 1000});
  auto a = bytes(64, 'a');
  auto outcome =
      assembler.add(peer(1), "events", block(0, true), 1'000'000'000, a, Assembler::Clock::now());
  EXPECT_TRUE(std::holds_alternative<Assembler::TooLarge>(outcome));
  EXPECT_EQ(assembler.transfers(), 0u);
  EXPECT_EQ(assembler.buffered_bytes(), 0u);
}

TEST(Block1Assembler, RefusesOnTheFirstBlockThatCrossesTheLimitWhenSize1IsAbsent) {
  Assembler assembler({.max_body_bytes = 100});
  const auto now = Assembler::Clock::now();
  auto a = bytes(64, 'a');
  EXPECT_TRUE(std::holds_alternative<Assembler::Continue>(
      assembler.add(peer(1), "events", block(0, true), {}, a, now)));
  EXPECT_TRUE(std::holds_alternative<Assembler::TooLarge>(
      assembler.add(peer(1), "events", block(1, true), {}, a, now)));
  EXPECT_EQ(assembler.transfers(), 0u);
  // The transfer is gone: a continuation that would fit is now out of order.
  auto tail = bytes(10, 't');
  EXPECT_TRUE(std::holds_alternative<Assembler::Incomplete>(
      assembler.add(peer(1), "events", block(1, false), {}, tail, now)));
}

TEST(Block1Assembler, OutOfOrderAndShortMiddleBlocksAreIncomplete) {
  Assembler assembler({.max_body_bytes = 1000});
  const auto now = Assembler::Clock::now();
  auto a = bytes(64, 'a'), s = bytes(10, 's');
  EXPECT_TRUE(std::holds_alternative<Assembler::Incomplete>(
      assembler.add(peer(1), "events", block(1, true), {}, a, now)));
  EXPECT_TRUE(std::holds_alternative<Assembler::Continue>(
      assembler.add(peer(1), "events", block(0, true), {}, a, now)));
  EXPECT_TRUE(std::holds_alternative<Assembler::Incomplete>(
      assembler.add(peer(1), "events", block(2, true), {}, a, now)));
  EXPECT_TRUE(std::holds_alternative<Assembler::Incomplete>(
      assembler.add(peer(1), "events", block(0, true), {}, s, now)));
  EXPECT_EQ(assembler.buffered_bytes(), 0u);
}

TEST(Block1Assembler, SingleBlockUploadCompletesAtOnce) {
  Assembler assembler({.max_body_bytes = 1000});
  auto a = bytes(20, 'a');
  auto outcome = assembler.add(peer(1), "events", block(0, false), {}, a, Assembler::Clock::now());
  ASSERT_TRUE(std::holds_alternative<Assembler::Complete>(outcome));
  EXPECT_EQ(std::get<Assembler::Complete>(outcome).body.size(), 20u);
}

TEST(Block1Assembler, KeepsPeersApartAndBoundsConcurrentTransfers) {
  Assembler assembler({.max_body_bytes = 1000, .max_transfers = 2});
  const auto now = Assembler::Clock::now();
  auto a = bytes(64, 'a');
  EXPECT_TRUE(std::holds_alternative<Assembler::Continue>(
      assembler.add(peer(1), "events", block(0, true), {}, a, now)));
  EXPECT_TRUE(std::holds_alternative<Assembler::Continue>(
      assembler.add(peer(2), "events", block(0, true), {}, a, now)));
  EXPECT_TRUE(std::holds_alternative<Assembler::Busy>(
      assembler.add(peer(3), "events", block(0, true), {}, a, now)));
  EXPECT_EQ(assembler.transfers(), 2u);
}

TEST(Block1Assembler, DropsIdleTransfers) {
  Assembler assembler({.max_body_bytes = 1000, .max_transfers = 1, .idle_timeout = 60s});
  const auto now = Assembler::Clock::now();
  auto a = bytes(64, 'a');
  EXPECT_TRUE(std::holds_alternative<Assembler::Continue>(
      assembler.add(peer(1), "events", block(0, true), {}, a, now)));
  EXPECT_TRUE(std::holds_alternative<Assembler::Continue>(
      assembler.add(peer(2), "events", block(0, true), {}, a, now + 61s)));
  EXPECT_EQ(assembler.transfers(), 1u);
  EXPECT_EQ(assembler.buffered_bytes(), 64u);
}

}  // namespace
}  // namespace iot::coap

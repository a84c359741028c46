// The engine's open-addressing index against std::unordered_map as the reference.
#include "slot_index.hpp"

#include <gtest/gtest.h>

#include <random>
#include <unordered_map>

namespace iot::coapwire::detail {
namespace {

TEST(coapwire_SlotIndex, FindsInsertedKeysAndForgetsErasedOnes) {
  SlotIndex index(4);
  index.insert(42, 7);
  index.insert(43, 8);
  EXPECT_EQ(index.find(42), 7u);
  EXPECT_EQ(index.find(43), 8u);
  EXPECT_FALSE(index.find(44));
  EXPECT_TRUE(index.erase(42));
  EXPECT_FALSE(index.erase(42));
  EXPECT_FALSE(index.find(42));
  EXPECT_EQ(index.find(43), 8u);
  EXPECT_EQ(index.size(), 1u);
}

TEST(coapwire_SlotIndex, AgreesWithUnorderedMapUnderRandomChurn) {
  SlotIndex index;
  std::unordered_map<std::uint64_t, std::uint32_t> reference;
  std::mt19937_64 random(7);
  // Keys shaped like the engine's (device << 16 | message id), from a small range so inserts,
  // erases and probe runs collide often.
  std::uniform_int_distribution<std::uint64_t> device(0, 40);
  std::uniform_int_distribution<std::uint64_t> id(0, 400);
  for (std::uint32_t step = 0; step < 300'000; ++step) {
    const std::uint64_t key = (device(random) << 16) | id(random);
    const auto found = reference.find(key);
    if (found == reference.end()) {
      index.insert(key, step);
      reference.emplace(key, step);
    } else if (step % 3 != 0) {
      ASSERT_TRUE(index.erase(key));
      reference.erase(found);
    }
    if (step % 1000 == 0) {
      ASSERT_EQ(index.size(), reference.size());
      for (const auto& [k, v] : reference) ASSERT_EQ(index.find(k), v);
    }
  }
  for (const auto& [k, v] : reference) ASSERT_EQ(index.find(k), v);
}

}  // namespace
}  // namespace iot::coapwire::detail

#include "elastic/bulk_batcher.hpp"

#include <gtest/gtest.h>

namespace iot::elastic {
namespace {

using namespace std::chrono_literals;
using Clock = BulkBatcher::Clock;

QueuedDocument doc(std::string id, std::uint64_t group = 1) {
  return QueuedDocument{"{\"create\":{\"_id\":\"" + id + "\"}}\n{\"v\":1}\n", group, 0};
}

TEST(BulkBatcher, IsDueWhenTheOldestDocumentHasLingered) {
  BulkBatcher batcher({.max_docs = 100, .max_bytes = 1 << 20, .linger = 20ms});
  const auto t0 = Clock::now();
  EXPECT_FALSE(batcher.due(t0));
  EXPECT_FALSE(batcher.linger_deadline());
  batcher.add(doc("a"), t0);
  batcher.add(doc("b"), t0 + 15ms);
  EXPECT_FALSE(batcher.due(t0 + 19ms));
  EXPECT_EQ(batcher.linger_deadline(), t0 + 20ms) << "the oldest document sets the deadline";
  EXPECT_TRUE(batcher.due(t0 + 20ms));
}

TEST(BulkBatcher, IsDueAtOnceWhenFullByCountOrBytes) {
  const auto now = Clock::now();
  BulkBatcher by_count({.max_docs = 2, .max_bytes = 1 << 20, .linger = 1s});
  by_count.add(doc("a"), now);
  EXPECT_FALSE(by_count.due(now));
  by_count.add(doc("b"), now);
  EXPECT_TRUE(by_count.due(now));

  BulkBatcher by_bytes({.max_docs = 100, .max_bytes = 60, .linger = 1s});
  by_bytes.add(doc("a"), now);  // 36 bytes
  EXPECT_FALSE(by_bytes.due(now));
  by_bytes.add(doc("b"), now);
  EXPECT_TRUE(by_bytes.due(now));
}

TEST(BulkBatcher, TakesTheOldestUpToTheLimitsAndBuildsTheBodyInOrder) {
  const auto now = Clock::now();
  BulkBatcher batcher({.max_docs = 2, .max_bytes = 1 << 20, .linger = 1s});
  batcher.add(doc("a", 1), now);
  batcher.add(doc("b", 2), now);
  batcher.add(doc("c", 3), now);
  const auto batch = batcher.take();
  ASSERT_EQ(batch.documents.size(), 2u);
  EXPECT_EQ(batch.documents[0].group, 1u);
  EXPECT_EQ(batch.documents[1].group, 2u);
  EXPECT_EQ(batch.body, doc("a").lines + doc("b").lines);
  EXPECT_EQ(batch.body.back(), '\n') << "Elasticsearch refuses a bulk body without a final newline";
  EXPECT_EQ(batcher.documents(), 1u);
  EXPECT_EQ(batcher.bytes(), doc("c").lines.size());
}

TEST(BulkBatcher, RespectsMaxBytesButNeverReturnsAnEmptyBatch) {
  const auto now = Clock::now();
  BulkBatcher batcher({.max_docs = 100, .max_bytes = 50, .linger = 1s});
  QueuedDocument huge{std::string(200, 'x') + "\n", 9, 0};
  batcher.add(std::move(huge), now);
  batcher.add(doc("a"), now);
  batcher.add(doc("b"), now);
  const auto first = batcher.take();
  ASSERT_EQ(first.documents.size(), 1u) << "an oversized document goes alone";
  EXPECT_EQ(first.documents[0].group, 9u);
  const auto second = batcher.take();
  EXPECT_EQ(second.documents.size(), 1u) << "a + b would exceed 50 bytes";
  EXPECT_EQ(batcher.take().documents.size(), 1u);
  EXPECT_TRUE(batcher.empty());
  EXPECT_EQ(batcher.bytes(), 0u);
  EXPECT_TRUE(batcher.take().documents.empty());
}

TEST(BulkBatcher, LowerMaxBytesOnlyEverLowersTheLimit) {
  BulkBatcher batcher({.max_docs = 100, .max_bytes = 1000, .linger = 1s});
  batcher.lower_max_bytes(400);
  EXPECT_EQ(batcher.max_bytes(), 400u);
  batcher.lower_max_bytes(5000);
  EXPECT_EQ(batcher.max_bytes(), 400u) << "a later, larger refusal does not raise it";
  batcher.lower_max_bytes(0);
  EXPECT_EQ(batcher.max_bytes(), 1u) << "never zero: one document still goes alone";
}

}  // namespace
}  // namespace iot::elastic

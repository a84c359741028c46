#include "elastic/bulk_batcher.hpp"

#include <gtest/gtest.h>

namespace iot::elastic {
namespace {

using namespace std::chrono_literals;
using Clock = BulkBatcher::Clock;

std::string lines(const std::string& id) {
  return "{\"create\":{\"_id\":\"" + id + "\"}}\n{\"v\":1}\n";
}

// Queues document `id` for `group`.
void add(BulkBatcher& batcher, const std::string& id, Clock::time_point now,
         std::uint64_t group = 1) {
  batcher.add(lines(id), QueuedDocument{.group = group}, now);
}

TEST(BulkBatcher, IsDueWhenTheOldestDocumentHasLingered) {
  BulkBatcher batcher({.max_docs = 100, .max_bytes = 1 << 20, .linger = 20ms});
  const auto t0 = Clock::now();
  EXPECT_FALSE(batcher.due(t0));
  EXPECT_FALSE(batcher.linger_deadline());
  add(batcher, "a", t0);
  add(batcher, "b", t0 + 15ms);
  EXPECT_FALSE(batcher.due(t0 + 19ms));
  EXPECT_EQ(batcher.linger_deadline(), t0 + 20ms) << "the oldest document sets the deadline";
  EXPECT_TRUE(batcher.due(t0 + 20ms));
}

TEST(BulkBatcher, IsDueAtOnceWhenFullByCountOrBytes) {
  const auto now = Clock::now();
  BulkBatcher by_count({.max_docs = 2, .max_bytes = 1 << 20, .linger = 1s});
  add(by_count, "a", now);
  EXPECT_FALSE(by_count.due(now));
  add(by_count, "b", now);
  EXPECT_TRUE(by_count.due(now));

  BulkBatcher by_bytes({.max_docs = 100, .max_bytes = 60, .linger = 1s});
  add(by_bytes, "a", now);  // 36 bytes
  EXPECT_FALSE(by_bytes.due(now));
  add(by_bytes, "b", now);
  EXPECT_TRUE(by_bytes.due(now));
}

TEST(BulkBatcher, TakesTheOldestUpToTheLimitsAndBuildsTheBodyInOrder) {
  const auto now = Clock::now();
  BulkBatcher batcher({.max_docs = 2, .max_bytes = 1 << 20, .linger = 1s});
  add(batcher, "a", now, 1);
  add(batcher, "b", now, 2);
  add(batcher, "c", now, 3);
  const auto batch = batcher.take();
  ASSERT_EQ(batch.documents.size(), 2u);
  EXPECT_EQ(batch.documents[0].group, 1u);
  EXPECT_EQ(batch.documents[1].group, 2u);
  EXPECT_EQ(batch.body, lines("a") + lines("b"));
  EXPECT_EQ(batch.body.back(), '\n') << "Elasticsearch refuses a bulk body without a final newline";
  EXPECT_EQ(batcher.documents(), 1u);
  EXPECT_EQ(batcher.bytes(), lines("c").size());
}

TEST(BulkBatcher, RespectsMaxBytesButNeverReturnsAnEmptyBatch) {
  const auto now = Clock::now();
  BulkBatcher batcher({.max_docs = 100, .max_bytes = 50, .linger = 1s});
  batcher.add(std::string(200, 'x') + "\n", QueuedDocument{.group = 9}, now);
  add(batcher, "a", now);
  add(batcher, "b", now);
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

TEST(BulkBatcher, EachDocumentOfABatchFindsItsOwnLinesInTheBody) {
  // Takes come at every point of a batch's filling (max_docs 3) while more documents arrive, so
  // batches leave full, part-full and just opened.
  const auto now = Clock::now();
  BulkBatcher batcher({.max_docs = 3, .max_bytes = 1 << 20, .linger = 1s});
  std::uint64_t added = 0;
  std::uint64_t taken = 0;
  for (int round = 0; round < 20; ++round) {
    for (int i = 0; i < 2 + round % 3; ++i, ++added) {
      add(batcher, "doc" + std::to_string(added), now, added + 1);
    }
    const auto batch = batcher.take();
    std::string expected_body;
    for (const auto& document : batch.documents) {
      const std::uint64_t index = document.group - 1;
      EXPECT_EQ(index, taken++) << "documents leave in the order they came";
      EXPECT_EQ(batch.lines(document), lines("doc" + std::to_string(index)));
      expected_body += batch.lines(document);
    }
    EXPECT_EQ(batch.body, expected_body) << "the body is the documents' lines and nothing else";
  }
  while (!batcher.empty()) {
    const auto batch = batcher.take();
    for (const auto& document : batch.documents) {
      EXPECT_EQ(batch.lines(document), lines("doc" + std::to_string(document.group - 1)));
      ++taken;
    }
  }
  EXPECT_EQ(taken, added);
  EXPECT_EQ(batcher.bytes(), 0u);
}

TEST(BulkBatcher, DocumentsOfEverySizeKeepTheirLines) {
  // Sizes from a byte to 300 KB, so batches grow past what they reserved; each document is
  // filled with its own letter, so that one read from the wrong place shows.
  const auto now = Clock::now();
  BulkBatcher batcher({.max_docs = 4, .max_bytes = 1 << 30, .linger = 1s});
  const std::size_t sizes[] = {10, 100'000, 200'000, 30, 300'000, 70'000, 1, 262'144, 5, 150'000};
  auto document = [&](std::size_t index) {
    return std::string(sizes[index] - 1, static_cast<char>('a' + index)) + "\n";
  };
  std::size_t taken = 0;
  auto check = [&](const DocumentBatch& batch) {
    for (const auto& queued : batch.documents) {
      ASSERT_EQ(queued.group, ++taken);
      EXPECT_EQ(batch.lines(queued), document(queued.group - 1)) << "document " << queued.group;
    }
  };
  for (std::size_t i = 0; i < std::size(sizes); ++i) {
    batcher.add(document(i), QueuedDocument{.group = i + 1}, now);
    if (i % 3 == 2) check(batcher.take());
  }
  while (!batcher.empty()) check(batcher.take());
  EXPECT_EQ(taken, std::size(sizes));
  EXPECT_EQ(batcher.bytes(), 0u);
}

TEST(BulkBatcher, ARetriedDocumentKeepsItsAttemptAndGroup) {
  const auto now = Clock::now();
  BulkBatcher batcher({.max_docs = 10, .max_bytes = 1 << 20, .linger = 1s});
  DocumentBatch failed;
  failed.append(lines("x"), QueuedDocument{.group = 7, .attempt = 2, .dead_letter = true});
  batcher.add(failed.lines(failed.documents[0]), failed.documents[0], now);
  const auto batch = batcher.take();
  ASSERT_EQ(batch.documents.size(), 1u);
  EXPECT_EQ(batch.documents[0].group, 7u);
  EXPECT_EQ(batch.documents[0].attempt, 2u);
  EXPECT_TRUE(batch.documents[0].dead_letter);
  EXPECT_EQ(batch.body, lines("x"));
}

TEST(BulkBatcher, DocumentsAlreadyQueuedFollowALoweredMaxBytes) {
  const auto now = Clock::now();
  BulkBatcher batcher({.max_docs = 100, .max_bytes = 1 << 20, .linger = 1s});
  for (int i = 0; i < 5; ++i) add(batcher, "d" + std::to_string(i), now, i + 1);
  ASSERT_FALSE(batcher.due(now + 10ms)) << "one batch, not full, not lingered";
  const std::size_t one = lines("d0").size();
  batcher.lower_max_bytes(2 * one);
  EXPECT_TRUE(batcher.due(now + 10ms)) << "the queued five no longer fit one request";
  EXPECT_EQ(batcher.linger_deadline(), now + 1s) << "re-cutting does not restart the linger";
  std::uint64_t next_group = 1;
  for (const std::size_t expected : {2u, 2u, 1u}) {
    const auto batch = batcher.take();
    ASSERT_EQ(batch.documents.size(), expected);
    EXPECT_LE(batch.body.size(), 2 * one);
    for (const auto& document : batch.documents) {
      EXPECT_EQ(document.group, next_group);
      EXPECT_EQ(batch.lines(document), lines("d" + std::to_string(next_group - 1)));
      ++next_group;
    }
  }
  EXPECT_TRUE(batcher.empty());
  EXPECT_EQ(batcher.bytes(), 0u);
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

#include "elastic/bulk_batcher.hpp"

#include <algorithm>
#include <utility>

namespace iot::elastic {

void DocumentBatch::append(std::string_view lines, QueuedDocument document) {
  document.offset = body.size();
  document.length = lines.size();
  body += lines;
  documents.push_back(document);
}

BulkBatcher::BulkBatcher(Limits limits) : limits_(limits) {}

void BulkBatcher::add(std::string_view lines, QueuedDocument document, Clock::time_point now) {
  if (chunks_.empty() || chunks_.back().capacity() - chunks_.back().size() < lines.size()) {
    std::string chunk = std::exchange(spare_, std::string());
    chunk.clear();
    chunk.reserve(std::max(kChunkBytes, lines.size()));
    chunks_.push_back(std::move(chunk));
  }
  std::string& chunk = chunks_.back();
  document.offset = chunk.size();
  document.length = lines.size();
  chunk += lines;
  bytes_ += lines.size();
  queue_.push_back(Entry{document, front_chunk_ + chunks_.size() - 1, now});
}

bool BulkBatcher::due(Clock::time_point now) const {
  if (queue_.empty()) return false;
  return queue_.size() >= limits_.max_docs || bytes_ >= limits_.max_bytes ||
         now >= queue_.front().queued + limits_.linger;
}

std::optional<BulkBatcher::Clock::time_point> BulkBatcher::linger_deadline() const {
  if (queue_.empty()) return std::nullopt;
  return queue_.front().queued + limits_.linger;
}

void BulkBatcher::lower_max_bytes(std::size_t max_bytes) {
  limits_.max_bytes = std::max<std::size_t>(1, std::min(limits_.max_bytes, max_bytes));
}

BulkBatcher::Batch BulkBatcher::take() {
  std::size_t count = 0;
  std::size_t batch_bytes = 0;
  while (count < queue_.size() && count < limits_.max_docs) {
    const std::size_t next = queue_[count].document.length;
    if (count > 0 && batch_bytes + next > limits_.max_bytes) break;
    batch_bytes += next;
    ++count;
  }
  Batch batch;
  batch.body.reserve(batch_bytes);
  batch.documents.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    const Entry& entry = queue_.front();
    batch.append(std::string_view(chunks_[entry.chunk - front_chunk_])
                     .substr(entry.document.offset, entry.document.length),
                 entry.document);
    queue_.pop_front();
  }
  bytes_ -= batch_bytes;
  // Chunks before the next queued document's are done with (all of them when none is queued);
  // one of the usual size is kept for the next.
  const std::uint64_t keep_from =
      queue_.empty() ? front_chunk_ + chunks_.size() : queue_.front().chunk;
  while (front_chunk_ < keep_from) {
    if (spare_.capacity() < kChunkBytes && chunks_.front().capacity() <= 2 * kChunkBytes) {
      spare_ = std::move(chunks_.front());
    }
    chunks_.pop_front();
    ++front_chunk_;
  }
  return batch;
}

}  // namespace iot::elastic

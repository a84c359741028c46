#include "elastic/bulk_batcher.hpp"

#include <algorithm>

namespace iot::elastic {

void DocumentBatch::append(std::string_view lines, QueuedDocument document) {
  document.offset = body.size();
  document.length = lines.size();
  body += lines;
  documents.push_back(document);
}

BulkBatcher::BulkBatcher(Limits limits) : limits_(limits) {}

void BulkBatcher::add(std::string_view lines, QueuedDocument document, Clock::time_point now) {
  document.offset = buffer_.size();
  document.length = lines.size();
  buffer_ += lines;
  bytes_ += lines.size();
  queue_.push_back(Entry{document, now});
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
  if (count == 0) return batch;
  // Queued lines are contiguous from the front: the batch's body is one slice of the buffer.
  batch.body.assign(buffer_, taken_, batch_bytes);
  batch.documents.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    QueuedDocument document = queue_.front().document;
    document.offset -= taken_;
    batch.documents.push_back(document);
    queue_.pop_front();
  }
  bytes_ -= batch_bytes;
  taken_ += batch_bytes;
  if (queue_.empty()) {
    buffer_.clear();  // keeps its capacity for the next batch
    taken_ = 0;
  } else if (taken_ >= buffer_.size() / 2) {
    // Drop what was taken once it is half of the buffer: each byte moves at most once more.
    buffer_.erase(0, taken_);
    for (auto& entry : queue_) entry.document.offset -= taken_;
    taken_ = 0;
  }
  return batch;
}

}  // namespace iot::elastic

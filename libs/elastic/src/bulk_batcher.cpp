#include "elastic/bulk_batcher.hpp"

#include <algorithm>

namespace iot::elastic {

BulkBatcher::BulkBatcher(Limits limits) : limits_(limits) {}

void BulkBatcher::add(QueuedDocument document, Clock::time_point now) {
  bytes_ += document.lines.size();
  queue_.push_back(Entry{std::move(document), now});
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
  Batch batch;
  std::size_t batch_bytes = 0;
  while (!queue_.empty() && batch.documents.size() < limits_.max_docs) {
    const std::size_t next = queue_.front().document.lines.size();
    if (!batch.documents.empty() && batch_bytes + next > limits_.max_bytes) break;
    batch_bytes += next;
    batch.documents.push_back(std::move(queue_.front().document));
    queue_.pop_front();
  }
  bytes_ -= batch_bytes;
  batch.body.reserve(batch_bytes);
  for (const auto& document : batch.documents) batch.body += document.lines;
  return batch;
}

}  // namespace iot::elastic

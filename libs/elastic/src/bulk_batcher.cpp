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

// The same rule take() always kept: at most max_docs documents and max_bytes bytes, but never an
// empty batch (a document larger than max_bytes goes alone; Elasticsearch decides).
bool BulkBatcher::has_room(const DocumentBatch& batch, std::size_t lines) const {
  if (batch.documents.empty()) return true;
  return batch.documents.size() < limits_.max_docs &&
         batch.body.size() + lines <= limits_.max_bytes;
}

void BulkBatcher::add(std::string_view lines, QueuedDocument document, Clock::time_point now) {
  if (pending_.empty() || !has_room(pending_.back().batch, lines.size())) {
    if (!pending_.empty()) {
      expected_bytes_ = pending_.back().batch.body.size();
      expected_documents_ = pending_.back().batch.documents.size();
    }
    Pending& next = pending_.emplace_back(Pending{{}, now});
    next.batch.body.reserve(std::max(std::min(expected_bytes_, limits_.max_bytes), lines.size()));
    next.batch.documents.reserve(expected_documents_);
  }
  pending_.back().batch.append(lines, document);
  bytes_ += lines.size();
  ++documents_;
}

bool BulkBatcher::due(Clock::time_point now) const {
  if (pending_.empty()) return false;
  const Pending& front = pending_.front();
  return pending_.size() > 1 || front.batch.documents.size() >= limits_.max_docs ||
         front.batch.body.size() >= limits_.max_bytes || now >= front.first_queued + limits_.linger;
}

std::optional<BulkBatcher::Clock::time_point> BulkBatcher::linger_deadline() const {
  if (pending_.empty()) return std::nullopt;
  return pending_.front().first_queued + limits_.linger;
}

void BulkBatcher::lower_max_bytes(std::size_t max_bytes) {
  const std::size_t lowered = std::max<std::size_t>(1, std::min(limits_.max_bytes, max_bytes));
  if (lowered == limits_.max_bytes) return;
  limits_.max_bytes = lowered;
  // Batches already formed are cut again to the new limit. Rare (an HTTP 413), so a copy is fine.
  auto formed = std::exchange(pending_, {});
  documents_ = 0;
  bytes_ = 0;
  expected_bytes_ = 0;
  expected_documents_ = 0;
  for (const Pending& old : formed) {
    for (const QueuedDocument& document : old.batch.documents) {
      add(old.batch.lines(document), document, old.first_queued);
    }
  }
}

BulkBatcher::Batch BulkBatcher::take() {
  if (pending_.empty()) return {};
  Batch batch = std::move(pending_.front().batch);
  pending_.pop_front();
  bytes_ -= batch.body.size();
  documents_ -= batch.documents.size();
  return batch;
}

}  // namespace iot::elastic

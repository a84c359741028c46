#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace iot::elastic {

// One document on its way to Elasticsearch: where its bulk lines (action + source, each ending in
// '\n') are in the buffer that holds them, and the acknowledgement group (the device request)
// waiting for it. The lines stay in their batch's body until the document is settled, so a
// document that fails alone (item 429/5xx) can be sent again by itself, and a rejected one can go
// to the dead-letter stream. No string per document: at 1,000 documents per bulk request,
// freeing their strings (allocated 20 ms earlier, cold in the cache) held up the thread that
// answers devices for ~0.1 ms per response.
struct QueuedDocument {
  std::size_t offset = 0;    // of its lines in the holding buffer
  std::size_t length = 0;    // of its lines
  std::uint64_t group = 0;   // 0: nobody waits (non-confirmable, --ack accepted)
  unsigned attempt = 0;      // sends so far
  bool dead_letter = false;  // already a dead-letter record: if rejected too, it is not re-wrapped
};

// Documents with their lines one after the other in one buffer: a bulk request's body, and
// which part of it is whose.
struct DocumentBatch {
  std::string body;                       // the NDJSON request body, ending in '\n'
  std::vector<QueuedDocument> documents;  // in body order: item i of the response is documents[i]

  std::string_view lines(const QueuedDocument& document) const {
    return std::string_view(body).substr(document.offset, document.length);
  }
  // Appends the lines; the document's offset and length are set to where they went.
  void append(std::string_view lines, QueuedDocument document);
};

// Collects documents into bulk requests for one worker: a batch is due when it holds max_docs
// documents or max_bytes bytes, or when its oldest document has waited `linger`. Pure: time is
// passed in, so the policy is tested without clocks or sockets. Not thread-safe.
class BulkBatcher {
 public:
  using Clock = std::chrono::steady_clock;
  struct Limits {
    std::size_t max_docs = 1000;
    std::size_t max_bytes = 5u << 20;
    std::chrono::milliseconds linger{20};
  };
  using Batch = DocumentBatch;

  explicit BulkBatcher(Limits limits);

  // Queues a copy of `lines` with the document's group, attempt and dead_letter (its offset and
  // length are the batcher's to set).
  void add(std::string_view lines, QueuedDocument document, Clock::time_point now);
  bool due(Clock::time_point now) const;
  // When the oldest queued document's linger ends (to arm a timer); nullopt when empty.
  std::optional<Clock::time_point> linger_deadline() const;
  // Takes the oldest documents up to the limits (always at least one when not empty, even if it
  // alone exceeds max_bytes: Elasticsearch, not the batcher, decides whether it is too large).
  Batch take();

  // Lowers max_bytes (never raises it): after Elasticsearch, or a proxy in front of it, refused a
  // request as too large (HTTP 413), later batches, queued documents included, stay below what
  // it took.
  void lower_max_bytes(std::size_t max_bytes);
  std::size_t max_bytes() const { return limits_.max_bytes; }

  bool empty() const { return documents_ == 0; }
  std::size_t documents() const { return documents_; }
  std::size_t bytes() const { return bytes_; }

 private:
  // Queued documents are written straight into the body of the batch they will leave in: a
  // batch is closed when the next document would take it past max_docs or max_bytes, and take()
  // hands the front one over whole. Copying ~350 KB of lines out of a shared buffer when a
  // batch was taken held up the thread that answers devices for ~0.07 ms per bulk request.
  struct Pending {
    DocumentBatch batch;
    Clock::time_point first_queued;
  };
  bool has_room(const DocumentBatch& batch, std::size_t lines) const;
  Limits limits_;
  std::deque<Pending> pending_;
  std::size_t documents_ = 0;
  std::size_t bytes_ = 0;  // of queued documents
  // Size of the last batch closed by the limits: the next one reserves that much, so its body is
  // not copied as it grows.
  std::size_t expected_bytes_ = 0;
  std::size_t expected_documents_ = 0;
};

}  // namespace iot::elastic

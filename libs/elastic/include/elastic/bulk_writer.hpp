#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "elastic/acknowledgement_groups.hpp"
#include "elastic/bulk_batcher.hpp"
#include "elastic/retry_policy.hpp"
#include "metrics/metrics.hpp"

namespace iot::elastic {

// Sends one bulk request body and reports the outcome: an HTTP status and body, or status 0 and
// a one-line transport error. Implemented over HttpClient in production and scripted in tests.
// The body is shared, not copied: the writer keeps it for retries, and a transport on another
// thread (BackgroundBulkTransport) makes what copy it needs there.
class BulkTransport {
 public:
  virtual ~BulkTransport() = default;
  using Done = std::function<void(int status, std::string body, std::string error)>;
  virtual void send_bulk(std::shared_ptr<const std::string> body, Done done) = 0;
};

struct BulkWriterSettings {
  BulkBatcher::Limits batching;
  std::size_t concurrency = 2;                  // bulk requests in flight
  std::chrono::milliseconds ack_timeout{5000};  // a waiting device is told 5.03 after this
  std::size_t max_buffered_bytes = 16u << 20;   // queued + in flight + awaiting retry
  std::chrono::milliseconds retry_base{100};
  std::chrono::milliseconds retry_cap{10000};
  std::string dead_letter_stream = "iot-events-dlq";
};

// What the writer did, for /metrics: written by the worker thread, read at scrape time.
struct BulkWriterStats {
  metrics::Counter requests;          // bulk requests sent (including retries)
  metrics::Counter request_failures;  // transport errors and non-200 answers (retried)
  metrics::Counter created;           // documents stored (201)
  metrics::Counter duplicates;        // documents already there (409): stored by an earlier try
  metrics::Counter item_retries;      // documents re-sent alone after an item 429/5xx
  metrics::Counter dead_lettered;     // documents rejected (4xx) and written to the DLQ stream
  metrics::Counter too_large;         // single documents refused with HTTP 413: not storable
  metrics::LatencyHistogram request_duration;
  std::atomic<std::uint64_t> buffered_bytes{0};
};

// The Elasticsearch write path of one worker: batches documents (BulkBatcher), keeps up to
// `concurrency` bulk requests in flight, and settles every document exactly as the bulk
// response says: created or 409 -> stored; item 429/5xx -> re-sent alone with backoff; other
// 4xx -> written to the dead-letter stream (the original as text, so it cannot be rejected
// again) and its device told why. A request refused as too large (HTTP 413: the cluster's
// http.max_content_length, or a proxy's body limit) is split at once, and later batches stay
// below half of its size; a single document refused so is rejected (no retry can store it). Any
// other whole-request failure (transport error, 429, 5xx, any non-200) is retried with
// exponential backoff and full jitter, never dropped: documents leave
// the writer only once Elasticsearch has them. Devices that wait (--ack stored) are told through
// `completed` when every document of their request is settled, or through `expired` at the
// acknowledgement timeout. Runs on its io_context's thread only.
class BulkWriter {
 public:
  using GroupId = AcknowledgementGroups::GroupId;
  struct Callbacks {
    std::function<void(const AcknowledgementGroups::Completion&)> completed;
    std::function<void(GroupId)> expired;
  };

  BulkWriter(boost::asio::io_context& io, BulkTransport& transport, BulkWriterSettings settings,
             Callbacks callbacks, BulkWriterStats& stats);
  ~BulkWriter();
  BulkWriter(const BulkWriter&) = delete;
  BulkWriter& operator=(const BulkWriter&) = delete;

  // Whether `bytes` more fit under max_buffered_bytes (else the device gets 5.03).
  bool has_room(std::size_t bytes) const;
  // A Max-Age hint for 5.03 under backpressure: how long the backlog needs at the current pace.
  std::uint32_t retry_after_seconds() const;

  // Queues copies of the documents (each an action line and a source line). With `acknowledge`,
  // returns the group reported through the callbacks; otherwise 0.
  GroupId write(const std::vector<std::string>& documents, bool acknowledge);

  // Sends everything queued without waiting for linger, then calls `done` once nothing is
  // queued, in flight or awaiting a retry (shutdown).
  void drain(std::function<void()> done);

  std::size_t in_flight() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace iot::elastic

#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "coap/block1_assembler.hpp"
#include "coap/server.hpp"
#include "collector_metrics.hpp"
#include "event/validator.hpp"
#include "event_store.hpp"
#include "throttle/token_bucket_table.hpp"

namespace iot::collector {

struct IngestSettings {
  std::size_t max_payload = 16384;
  std::size_t max_batch = 100;
  std::string index;     // _index of stored documents
  std::string instance;  // stored as "collector"
  std::uint32_t drain_max_age_seconds = 2;
  // Per-device limit on POST /events (--rate-limit, --rate-burst); nullopt: none.
  std::optional<throttle::RateLimit> rate_limit;
  std::uint64_t rate_limit_seed = 0;  // random per process: device keys cannot be made to collide
};

// The collector's CoAP API on one worker: routes /events and /health, reassembles Block1
// uploads, validates, encodes and stores events, and counts every answer. Runs on the worker's
// thread only.
class IngestHandler final : public coap::RequestHandler {
 public:
  IngestHandler(IngestSettings settings, EventStore& store, WorkerMetrics& metrics,
                const std::atomic<bool>& draining);

  std::optional<coap::Response> handle(const coap::Request& request) override;
  void end_of_batch() override { store_.end_of_batch(); }

 private:
  std::optional<coap::Response> route(const coap::Request& request, PathLabel path);
  std::optional<coap::Response> post_events(const coap::Request& request);
  std::optional<coap::Response> store(std::string_view body, const coap::Request& request);
  coap::Response reject(RejectLabel label, coap::Code code, std::string message);
  coap::Response too_many_requests(const throttle::Decision& decision);
  void take_tokens(const coap::Request& request, std::uint64_t events,
                   throttle::TokenBucketTable::Clock::time_point now);

  IngestSettings settings_;
  EventStore& store_;
  WorkerMetrics& metrics_;
  const std::atomic<bool>& draining_;
  event::EventValidator validator_;
  coap::Block1Assembler assembler_;
  // Scratch for one request's encoded documents, reused (at most the largest request's worth:
  // --max-payload bounds it).
  std::vector<std::string> documents_;
  // This worker's devices only: SO_REUSEPORT hashes a source address and port to one worker
  // always, so per-worker buckets are exact and need no locking.
  std::optional<throttle::TokenBucketTable> rate_limiter_;
  std::string rate_limit_text_;  // "rate limit: 5 events/s per device; retry in "
};

}  // namespace iot::collector

#include "file_store.hpp"

#include "logging/log.hpp"

namespace iot::collector {

FileStore::FileStore(const std::string& path, WorkerMetrics& metrics)
    : sink_(path), metrics_(metrics) {}

std::optional<coap::Response> FileStore::store(const std::vector<std::string>& documents,
                                               const coap::Request& request) {
  for (const auto& document : documents) batch_ += document;
  waiting_.push_back(
      Waiting{coap::defer(request), std::chrono::steady_clock::now(), documents.size()});
  return std::nullopt;
}

void FileStore::end_of_batch() {
  if (waiting_.empty()) return;
  const coap::Response response = write_batch();
  const auto now = std::chrono::steady_clock::now();
  for (auto& waiting : waiting_) {
    if (response.code == coap::Code::created) metrics_.events_accepted.add(waiting.events);
    waiting.exchange.respond(response);
    metrics_.count_deferred_answer(
        response.code,
        static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(now - waiting.since).count()));
  }
  waiting_.clear();
  batch_.clear();
}

coap::Response FileStore::write_batch() {
  const auto error = sink_.append(batch_);
  if (!error) return coap::Response(coap::Code::created);
  metrics_.sink_write_errors.add();
  ++errors_since_log_;
  const auto now = std::chrono::steady_clock::now();
  if (now >= next_error_log_) {
    logging::error("sink write failed", {{"path", sink_.path().string()},
                                         {"error", error.message()},
                                         {"failures", errors_since_log_}});
    errors_since_log_ = 0;
    next_error_log_ = now + std::chrono::seconds(10);
  }
  return coap::Response::text(coap::Code::internal_server_error, "storage failed; retry later");
}

void FileStore::drain(std::function<void()> done) {
  if (auto error = sink_.sync()) {
    logging::error("sink sync failed",
                   {{"path", sink_.path().string()}, {"error", error.message()}});
  }
  done();
}

}  // namespace iot::collector

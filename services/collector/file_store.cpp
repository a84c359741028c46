#include "file_store.hpp"

#include "logging/log.hpp"

namespace iot::collector {

FileStore::FileStore(const std::string& path, WorkerMetrics& metrics)
    : sink_(path), metrics_(metrics) {}

std::optional<coap::Response> FileStore::store(std::vector<std::string> documents,
                                               const coap::Request& /*request*/) {
  encoded_.clear();
  for (const auto& document : documents) encoded_ += document;
  if (auto error = sink_.append(encoded_)) {
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
  return coap::Response(coap::Code::created);
}

void FileStore::drain(std::function<void()> done) {
  if (auto error = sink_.sync()) {
    logging::error("sink sync failed",
                   {{"path", sink_.path().string()}, {"error", error.message()}});
  }
  done();
}

}  // namespace iot::collector

#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "collector_metrics.hpp"
#include "event_store.hpp"
#include "sink/file_sink.hpp"

namespace iot::collector {

// The embedded default: appends each request's bulk pairs to a file with one write(2) and answers
// 2.01 once the kernel has them (5.00 when the write fails).
class FileStore final : public EventStore {
 public:
  FileStore(const std::string& path, WorkerMetrics& metrics);
  std::optional<coap::Response> store(std::vector<std::string> documents,
                                      const coap::Request& request) override;
  void drain(std::function<void()> done) override;

 private:
  sink::FileSink sink_;
  WorkerMetrics& metrics_;
  std::string encoded_;  // reused between requests
  // A failing disk fails every request: log the first failure, then at most one line per interval
  // with the number of failures in between.
  std::chrono::steady_clock::time_point next_error_log_{};
  std::uint64_t errors_since_log_ = 0;
};

}  // namespace iot::collector

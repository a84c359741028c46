#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "coap/server.hpp"
#include "collector_metrics.hpp"
#include "event_store.hpp"
#include "sink/file_sink.hpp"

namespace iot::collector {

// The embedded default: appends bulk pairs to a file and answers 2.01 once the kernel has them
// (5.00 when the write fails). The requests of one receive batch share one write(2): each is
// deferred, and answered at the end of the batch, so the answer still rides on the ACK.
class FileStore final : public EventStore {
 public:
  FileStore(const std::string& path, WorkerMetrics& metrics);
  std::optional<coap::Response> store(const std::vector<std::string>& documents,
                                      const coap::Request& request) override;
  void end_of_batch() override;
  void drain(std::function<void()> done) override;

 private:
  sink::FileSink sink_;
  WorkerMetrics& metrics_;
  coap::Response write_batch();

  struct Waiting {
    coap::PendingExchange exchange;
    std::chrono::steady_clock::time_point since;
    std::size_t events;
  };
  std::vector<Waiting> waiting_;  // the requests of the open batch
  std::string batch_;             // their bulk pairs; reused between batches
  // A failing disk fails every request: log the first failure, then at most one line per interval
  // with the number of failures in between.
  std::chrono::steady_clock::time_point next_error_log_{};
  std::uint64_t errors_since_log_ = 0;
};

}  // namespace iot::collector

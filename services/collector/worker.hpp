#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "coap/server.hpp"
#include "collector_metrics.hpp"
#include "event_store.hpp"
#include "ingest_handler.hpp"

namespace iot::collector {

// One shared-nothing worker: its own thread, event loop, CoAP endpoints on the shared ports,
// sink handle, validator and buffers. Nothing on the request path is shared with other workers.
// Makes a worker's store on the worker's own event loop (FileStore, ElasticsearchStore).
using StoreFactory =
    std::function<std::unique_ptr<EventStore>(boost::asio::io_context&, WorkerMetrics&)>;

class Worker {
 public:
  // Binds the endpoints at once (throws with a one-line message), so start-up errors surface
  // before the process reports ready. One or two endpoints (plain UDP and DTLS), one handler.
  Worker(unsigned index, std::span<const coap::ServerOptions> endpoints,
         const IngestSettings& settings, const StoreFactory& make_store,
         const std::atomic<bool>& draining);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void start();
  // Asks the worker to finish: drains its store (answering every waiting device), lets the server
  // deliver those answers until `deliver_by`, then frees the store and the CoAP context on its own
  // thread. The future becomes ready when it has. An answer still undelivered at `deliver_by`
  // (a device that went away) is given up: its events are stored, and the device's retry at
  // another collector is answered 2.01 through the 409 of the same document id.
  std::future<void> stop(std::chrono::steady_clock::time_point deliver_by);
  void join();

  const WorkerMetrics& metrics() const { return metrics_; }
  // "127.0.0.1:5683", in the order of the endpoints given.
  std::vector<std::string> addresses() const;

 private:
  void run();
  void stop_when_delivered(std::chrono::steady_clock::time_point deliver_by);

  unsigned index_;
  WorkerMetrics metrics_;
  // Before the store and the server: their timers, sockets and exchanges belong to this loop.
  boost::asio::io_context io_;
  std::unique_ptr<EventStore> store_;
  IngestHandler handler_;
  std::vector<std::unique_ptr<coap::Server>> servers_;
  boost::asio::steady_timer delivery_timer_{io_};
  std::promise<void> stopped_;
  std::thread thread_;
};

}  // namespace iot::collector

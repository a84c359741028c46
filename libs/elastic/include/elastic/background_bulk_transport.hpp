#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "elastic/bulk_writer.hpp"

namespace iot::elastic {

// Runs a BulkTransport on a thread of its own. Sending a bulk request of ~350 KB costs its
// sender ~0.15 ms of CPU (the body copy and the socket writes), ~1.1 ms more with gzip, more
// again with TLS; on the worker's thread that was time in which no device was answered. Here
// the worker only hands the shared body over, and `done` comes back on the owner's io_context,
// so the BulkWriter still runs on one thread. Where the two threads share one core the scheduler
// decides who waits: the thread keeps the default priority, because a lower one (nice 10) or
// yielding between gzip steps, tried, shortened the devices' waits but starved the writes into
// Elasticsearch at full load.
class BackgroundBulkTransport final : public BulkTransport {
 public:
  // Builds the inner transport for the background thread's io_context.
  using Factory = std::function<std::unique_ptr<BulkTransport>(boost::asio::io_context&)>;

  // `owner` runs the callers of send_bulk and their `done`s; it must outlive this object.
  // `thread_name` (at most 15 characters) is what `top -H` and `ps -L` show.
  BackgroundBulkTransport(boost::asio::io_context& owner, const Factory& make_inner,
                          const std::string& thread_name);
  // Stops the thread. Requests still out are abandoned: their `done` is never called.
  ~BackgroundBulkTransport() override;
  BackgroundBulkTransport(const BackgroundBulkTransport&) = delete;
  BackgroundBulkTransport& operator=(const BackgroundBulkTransport&) = delete;

  void send_bulk(std::shared_ptr<const std::string> body, Done done) override;

 private:
  boost::asio::io_context& owner_;
  boost::asio::io_context io_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> keep_running_;
  std::unique_ptr<BulkTransport> inner_;  // used on thread_ only, once it has started
  std::thread thread_;
};

}  // namespace iot::elastic

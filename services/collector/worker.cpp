#include "worker.hpp"

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <functional>

#include "logging/log.hpp"

namespace iot::collector {

Worker::Worker(unsigned index, const coap::ServerOptions& coap_options,
               const IngestSettings& settings, const StoreFactory& make_store,
               const std::atomic<bool>& draining)
    : index_(index),
      store_(make_store(io_, metrics_)),
      handler_(settings, *store_, metrics_, draining) {
  coap::ServerOptions options = coap_options;
  // Answers completed by a bulk response go out together, one system call per 64.
  options.request_flush = [this] {
    boost::asio::post(io_, [this] {
      if (server_) server_->flush();
    });
  };
  server_.emplace(options, handler_, metrics_.duplicates);
}

Worker::~Worker() {
  join();
}

void Worker::start() {
  thread_ = std::thread([this] { run(); });
}

std::future<void> Worker::stop(std::chrono::steady_clock::time_point deliver_by) {
  auto done = stopped_.get_future();
  // The store finishes first (Elasticsearch: everything queued is sent and every waiting device
  // answered) while the CoAP endpoint keeps serving, answering new requests 5.03.
  boost::asio::post(io_, [this, deliver_by] {
    store_->drain([this, deliver_by] { stop_when_delivered(deliver_by); });
  });
  return done;
}

void Worker::stop_when_delivered(std::chrono::steady_clock::time_point deliver_by) {
  // The server offers no completion callback for its unacknowledged answers: look again every
  // few milliseconds, bounded by deliver_by.
  if (!server_->has_pending_sends() || std::chrono::steady_clock::now() >= deliver_by) {
    io_.stop();
    return;
  }
  delivery_timer_.expires_after(std::chrono::milliseconds(10));
  delivery_timer_.async_wait([this, deliver_by](const boost::system::error_code& error) {
    if (!error) stop_when_delivered(deliver_by);
  });
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::run() {
  // The server's event fd is readable whenever a datagram or a retransmission is due: waiting on
  // it lets the CoAP endpoint and asio timers/sockets share this one thread.
  boost::asio::posix::stream_descriptor coap_events(io_, server_->event_fd());
  std::function<void()> wait_for_coap, process_coap;
  wait_for_coap = [&] {
    coap_events.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                           [&](const boost::system::error_code& error) {
                             if (!error) process_coap();
                           });
  };
  // Drains a bounded batch; when more is pending, lets other work on this loop run first.
  process_coap = [&] {
    if (server_->process()) {
      boost::asio::post(io_, process_coap);
    } else {
      wait_for_coap();
    }
  };
  wait_for_coap();
  try {
    io_.run();
  } catch (const std::exception& e) {
    logging::error("worker failed", {{"worker", index_}, {"error", e.what()}});
  }
  // The descriptor belongs to the server: release it rather than let asio close it.
  coap_events.release();
  // Timers and exchanges of the store belong to this loop and to the server: free it first.
  store_.reset();
  server_.reset();
  stopped_.set_value();
}

}  // namespace iot::collector

#include "worker.hpp"

#include <algorithm>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <functional>

#include "logging/log.hpp"

namespace iot::collector {

Worker::Worker(unsigned index, std::span<const coap::ServerOptions> endpoints,
               const IngestSettings& settings, const StoreFactory& make_store,
               const std::atomic<bool>& draining)
    : index_(index),
      store_(make_store(io_, metrics_)),
      handler_(settings, *store_, metrics_, draining) {
  for (const auto& endpoint : endpoints) {
    coap::ServerOptions options = endpoint;
    const std::size_t position = servers_.size();
    // Answers completed by a bulk response go out together, one system call per 64.
    options.request_flush = [this, position] {
      boost::asio::post(io_, [this, position] {
        if (position < servers_.size() && servers_[position]) servers_[position]->flush();
      });
    };
    servers_.push_back(std::make_unique<coap::Server>(options, handler_, metrics_.duplicates,
                                                      &metrics_.dtls, &metrics_.receive_wait));
  }
}

std::vector<std::string> Worker::addresses() const {
  std::vector<std::string> addresses;
  for (const auto& server : servers_) addresses.push_back(server->local_address());
  return addresses;
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
  const bool pending = std::any_of(servers_.begin(), servers_.end(),
                                   [](const auto& server) { return server->has_pending_sends(); });
  if (!pending || std::chrono::steady_clock::now() >= deliver_by) {
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
  // A server's event fd is readable whenever a datagram or a retransmission is due: waiting on
  // it lets the CoAP endpoints and asio timers/sockets share this one thread.
  struct Endpoint {
    coap::Server& server;
    boost::asio::posix::stream_descriptor events;
    std::function<void()> wait, process;
  };
  std::vector<std::unique_ptr<Endpoint>> endpoints;
  for (const auto& server : servers_) {
    auto endpoint = std::make_unique<Endpoint>(
        Endpoint{*server, boost::asio::posix::stream_descriptor(io_, server->event_fd()), {}, {}});
    Endpoint& e = *endpoint;
    e.wait = [&e] {
      e.events.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                          [&e](const boost::system::error_code& error) {
                            if (!error) e.process();
                          });
    };
    // Drains a bounded batch; when more is pending, lets other work on this loop run first.
    e.process = [this, &e] {
      if (e.server.process()) {
        boost::asio::post(io_, e.process);
      } else {
        e.wait();
      }
    };
    e.wait();
    endpoints.push_back(std::move(endpoint));
  }
  try {
    io_.run();
  } catch (const std::exception& e) {
    logging::error("worker failed", {{"worker", index_}, {"error", e.what()}});
  }
  // The descriptors belong to the servers: release them rather than let asio close them.
  for (auto& endpoint : endpoints) endpoint->events.release();
  // Timers and exchanges of the store belong to this loop and to the servers: free it first.
  store_.reset();
  for (auto& server : servers_) server.reset();
  stopped_.set_value();
}

}  // namespace iot::collector

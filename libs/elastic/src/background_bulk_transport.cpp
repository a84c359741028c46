#include "elastic/background_bulk_transport.hpp"

#include <pthread.h>

#include <boost/asio/post.hpp>
#include <utility>

#include "logging/log.hpp"

namespace iot::elastic {

BackgroundBulkTransport::BackgroundBulkTransport(boost::asio::io_context& owner,
                                                 const Factory& make_inner,
                                                 const std::string& thread_name)
    : owner_(owner), keep_running_(io_.get_executor()), inner_(make_inner(io_)) {
  thread_ = std::thread([this] {
    try {
      io_.run();
    } catch (const std::exception& e) {
      // Nothing in the transports throws on purpose; a request stuck here would show as an
      // acknowledgement timeout and a growing buffer, so say why.
      logging::error("elasticsearch bulk thread failed", {{"error", e.what()}});
    }
  });
  // Only a name: a failure here changes nothing else.
  ::pthread_setname_np(thread_.native_handle(), thread_name.substr(0, 15).c_str());
}

BackgroundBulkTransport::~BackgroundBulkTransport() {
  keep_running_.reset();
  io_.stop();
  thread_.join();
  // The thread is gone: the inner transport (and its sockets) can be closed from here.
  inner_.reset();
}

void BackgroundBulkTransport::send_bulk(std::shared_ptr<const std::string> body, Done done) {
  boost::asio::post(io_, [this, body = std::move(body), done = std::move(done)]() mutable {
    inner_->send_bulk(
        std::move(body), [&owner = owner_, done = std::move(done)](int status, std::string answer,
                                                                   std::string error) mutable {
          boost::asio::post(owner, [done = std::move(done), status, answer = std::move(answer),
                                    error = std::move(error)]() mutable {
            done(status, std::move(answer), std::move(error));
          });
        });
  });
}

}  // namespace iot::elastic

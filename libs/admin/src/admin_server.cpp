#include "admin/admin_server.hpp"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace iot::admin {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

using Request = http::request<http::empty_body>;
using Response = http::response<http::string_body>;

constexpr std::uint32_t kHeaderLimit = 8 * 1024;
// Bounds both keep-alive idleness and how long one request may take to arrive (slowloris).
constexpr auto kIdleTimeout = std::chrono::seconds(10);
constexpr std::size_t kMaxConnections = 64;
// Accept failures such as EMFILE repeat instantly; pausing keeps the thread from spinning.
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(100);

constexpr std::string_view kServerName = "iot-collector";
constexpr std::string_view kTextContentType = "text/plain; charset=utf-8";
constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

std::string join_host_port(std::string_view host, unsigned short port) {
  std::string out;
  if (host.find(':') != std::string_view::npos && !host.starts_with('[')) {
    out.append("[").append(host).append("]");
  } else {
    out.append(host);
  }
  return out + ":" + std::to_string(port);
}

std::string format_endpoint(const tcp::endpoint& ep) {
  return join_host_port(ep.address().to_string(), ep.port());
}

Response make_response(unsigned version, bool keep_alive, http::status status,
                       std::string_view content_type, std::string body) {
  Response res{status, version};
  res.set(http::field::server, kServerName);
  res.set(http::field::content_type, content_type);
  res.keep_alive(keep_alive);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

Response route(const AdminHandlers& handlers, const Request& req) {
  const std::string_view target = req.target();
  const std::string_view path = target.substr(0, target.find('?'));
  const unsigned version = req.version();
  const bool keep_alive = req.keep_alive();

  enum class Endpoint { kHealth, kReady, kMetrics };
  Endpoint endpoint;
  if (path == "/healthz") {
    endpoint = Endpoint::kHealth;
  } else if (path == "/readyz") {
    endpoint = Endpoint::kReady;
  } else if (path == "/metrics") {
    endpoint = Endpoint::kMetrics;
  } else {
    return make_response(version, keep_alive, http::status::not_found, kTextContentType,
                         "not found\n");
  }

  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    Response res = make_response(version, keep_alive, http::status::method_not_allowed,
                                 kTextContentType, "method not allowed\n");
    res.set(http::field::allow, "GET, HEAD");
    return res;
  }

  // The handlers are the caller's code: a throw must cost one 500, not the serving thread.
  try {
    switch (endpoint) {
      case Endpoint::kHealth:
        return make_response(version, keep_alive, http::status::ok, kTextContentType, "ok\n");
      case Endpoint::kReady: {
        const bool ready = !handlers.ready || handlers.ready();
        return ready ? make_response(version, keep_alive, http::status::ok, kTextContentType,
                                     "ready\n")
                     : make_response(version, keep_alive, http::status::service_unavailable,
                                     kTextContentType, "not ready\n");
      }
      case Endpoint::kMetrics:
        return make_response(version, keep_alive, http::status::ok, kMetricsContentType,
                             handlers.metrics ? handlers.metrics() : std::string{});
    }
  } catch (...) {
  }
  return make_response(version, keep_alive, http::status::internal_server_error, kTextContentType,
                       "internal error\n");
}

Response handle(const AdminHandlers& handlers, const Request& req) {
  Response res = route(handlers, req);
  if (req.method() == http::verb::head) {
    // Content-Length stays that of the GET body (set by prepare_payload); only the bytes go.
    res.body().clear();
  }
  return res;
}

// Parse failures worth answering before closing; anything else (timeout, reset) just closes.
std::optional<http::status> status_for_read_error(const beast::error_code& ec) {
  if (ec == http::error::header_limit) return http::status::request_header_fields_too_large;
  if (ec == http::error::body_limit || ec == http::error::unexpected_body) {
    return http::status::payload_too_large;
  }
  if (ec == http::error::partial_message || ec == http::error::end_of_stream) return std::nullopt;
  if (ec.category() == http::make_error_code(http::error::bad_target).category()) {
    return http::status::bad_request;
  }
  return std::nullopt;
}

// State the sessions read; only touched on the serving thread (or after it has been joined).
struct ServeContext {
  AdminHandlers handlers;
  bool stopping = false;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, const ServeContext& ctx) : stream_(std::move(socket)), ctx_(ctx) {}

  void run() { do_read(); }

  // Cancels whatever is pending; the completions then drop the last references.
  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

 private:
  void do_read() {
    if (ctx_.stopping) return;
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(0);
    stream_.expires_after(kIdleTimeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t /*bytes*/) {
    if (ec == http::error::end_of_stream) return do_close();
    if (ec) {
      if (const auto status = status_for_read_error(ec)) {
        send(make_response(11, false, *status, kTextContentType,
                           std::string(http::obsolete_reason(*status)) + "\n"));
      }
      return;
    }
    send(handle(ctx_.handlers, parser_->get()));
  }

  void send(Response&& res) {
    // Kept as a member: async_write needs the message alive until it completes.
    res_ = std::move(res);
    stream_.expires_after(kIdleTimeout);
    http::async_write(stream_, res_,
                      beast::bind_front_handler(&Session::on_write, shared_from_this()));
  }

  void on_write(beast::error_code ec, std::size_t /*bytes*/) {
    if (ec) return;
    if (res_.need_eof()) return do_close();
    do_read();
  }

  void do_close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::empty_body>> parser_;
  Response res_;
  const ServeContext& ctx_;
};

}  // namespace

struct AdminServer::Impl {
  Impl(const std::string& host, unsigned short port, AdminHandlers handlers)
      : ctx{std::move(handlers), false} {
    const std::string where = "admin listen " + join_host_port(host, port);
    auto fail = [&where](const beast::error_code& ec) {
      throw std::runtime_error(where + ": " + ec.message());
    };

    std::string_view bare = host;
    if (bare.size() >= 2 && bare.front() == '[' && bare.back() == ']') {
      bare = bare.substr(1, bare.size() - 2);
    }

    beast::error_code ec;
    tcp::endpoint endpoint;
    const asio::ip::address address = asio::ip::make_address(bare, ec);
    if (!ec) {
      endpoint = tcp::endpoint(address, port);
    } else {
      tcp::resolver resolver(ioc);
      const auto results = resolver.resolve(bare, std::to_string(port), ec);
      if (ec) fail(ec);
      if (results.empty()) fail(asio::error::host_not_found);
      endpoint = results.begin()->endpoint();
    }

    acceptor.open(endpoint.protocol(), ec);
    if (ec) fail(ec);
    acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (ec) fail(ec);
    acceptor.bind(endpoint, ec);
    if (ec) fail(ec);
    acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) fail(ec);
    const tcp::endpoint bound = acceptor.local_endpoint(ec);
    if (ec) fail(ec);
    local_address = format_endpoint(bound);
  }

  void start() {
    std::lock_guard lock(mutex);
    if (started || stopped) return;
    started = true;
    do_accept();
    thread = std::thread([this] {
      // A throw escaping a completion handler loses that one operation; keep serving the rest.
      for (;;) {
        try {
          ioc.run();
          return;
        } catch (...) {
        }
      }
    });
  }

  void stop() {
    std::lock_guard lock(mutex);
    if (stopped) return;
    stopped = true;
    if (thread.joinable()) {
      asio::post(ioc, [this] {
        close_all();
        ioc.stop();
      });
      thread.join();
    } else {
      close_all();
    }
    // Run the cancelled completions now so every session is released here, not in ~io_context.
    ioc.restart();
    ioc.poll();
  }

  void do_accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ctx.stopping) return;
      if (ec) {
        if (ec == asio::error::operation_aborted) return;
        retry_timer.expires_after(kAcceptRetryDelay);
        retry_timer.async_wait([this](beast::error_code wait_ec) {
          if (!wait_ec && !ctx.stopping) do_accept();
        });
        return;
      }
      std::erase_if(sessions, [](const std::weak_ptr<Session>& s) { return s.expired(); });
      if (sessions.size() >= kMaxConnections) {
        beast::error_code ignored;
        socket.close(ignored);
      } else {
        auto session = std::make_shared<Session>(std::move(socket), ctx);
        sessions.push_back(session);
        session->run();
      }
      do_accept();
    });
  }

  void close_all() {
    ctx.stopping = true;
    beast::error_code ignored;
    acceptor.close(ignored);
    retry_timer.cancel();
    for (const auto& weak : sessions) {
      if (const auto session = weak.lock()) session->close();
    }
    sessions.clear();
  }

  // Declared before the io_context so it outlives any handler the io_context destroys.
  ServeContext ctx;
  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  asio::steady_timer retry_timer{ioc};
  // Weak: a session's lifetime is its pending operations; this list only finds them to close.
  std::vector<std::weak_ptr<Session>> sessions;
  std::string local_address;

  std::mutex mutex;
  bool started = false;
  bool stopped = false;
  std::thread thread;
};

AdminServer::AdminServer(const std::string& host, unsigned short port, AdminHandlers handlers)
    : impl_(std::make_unique<Impl>(host, port, std::move(handlers))) {}

AdminServer::~AdminServer() {
  // Only a misuse (stop from a handler, i.e. a self-join) throws; a destructor must not.
  try {
    stop();
  } catch (...) {
  }
}

void AdminServer::start() {
  impl_->start();
}

void AdminServer::stop() {
  impl_->stop();
}

std::string AdminServer::local_address() const {
  return impl_->local_address;
}

}  // namespace iot::admin

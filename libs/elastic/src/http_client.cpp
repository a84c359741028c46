#include "elastic/http_client.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cstdint>
#include <deque>
#include <stdexcept>
#include <string_view>
#include <utility>

#include "elastic/node_selector.hpp"
#include "http_client_gzip.hpp"

#ifndef IOT_VERSION
#define IOT_VERSION "0.1.0"
#endif

namespace iot::elastic {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = NodeSelector::Clock;

// Bulk responses echo one item per document; even 100k-document requests stay far below this.
constexpr std::uint64_t kBodyLimit = std::uint64_t{64} << 20;
// Elasticsearch can send long Warning headers (deprecations); Beast's 8 KiB default is too tight.
constexpr std::uint32_t kHeaderLimit = 256 * 1024;
constexpr std::string_view kUserAgent = "iot-collector/" IOT_VERSION;

enum class Step { resolve, connect, handshake, write, read };

const char* step_name(Step step) {
  switch (step) {
    case Step::resolve:
      return "resolve";
    case Step::connect:
      return "connect";
    case Step::handshake:
      return "handshake";
    case Step::write:
      return "write";
    case Step::read:
      return "read";
  }
  return "request";
}

// Callers see std::error_code only; the two conditions they are likely to test get portable values.
std::error_code to_std(const beast::error_code& ec) {
  if (ec == beast::error::timeout) return std::make_error_code(std::errc::timed_out);
  if (ec == asio::error::operation_aborted) {
    return std::make_error_code(std::errc::operation_canceled);
  }
  return ec;
}

// Beast's "end of stream" and "partial message" mean little to whoever reads the log.
std::string describe(const beast::error_code& ec) {
  if (ec == http::error::end_of_stream || ec == asio::error::eof) {
    return "connection closed by the server before an answer";
  }
  if (ec == http::error::partial_message) return "connection closed in the middle of the answer";
  return ec.message();
}

bool is_ip_address(const std::string& host) {
  beast::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

std::string bracketed(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

// "https://host:port": the node as operators know it, without the path prefix.
std::string node_name(const NodeUrl& url) {
  return std::string(url.tls ? "https://" : "http://") + bracketed(url.host) + ":" +
         std::to_string(url.port);
}

std::shared_ptr<ssl::context> make_tls_context(const HttpClientSettings& settings) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
  if (SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION) != 1) {
    throw std::runtime_error("TLS: cannot require TLS 1.2 or later");
  }
  context->set_options(ssl::context::default_workarounds | ssl::context::no_compression);
  if (settings.insecure) {
    context->set_verify_mode(ssl::verify_none);
    return context;
  }
  context->set_verify_mode(ssl::verify_peer);
  beast::error_code ec;
  if (!settings.ca_file.empty()) {
    context->load_verify_file(settings.ca_file, ec);
    if (ec) {
      throw std::invalid_argument("cannot load CA file '" + settings.ca_file +
                                  "': " + ec.message());
    }
  } else {
    context->set_default_verify_paths(ec);
    if (ec) throw std::runtime_error("cannot load the system trust store: " + ec.message());
  }
  return context;
}

struct Call {
  http::request<http::string_body> message;
  std::function<void(HttpResult)> done;
  std::size_t node = 0;
  bool head = false;
  bool replayed = false;  // already sent again once after a stale keep-alive connection
};

struct Connection {
  Connection(asio::io_context& io, std::size_t node, std::shared_ptr<ssl::context> context)
      : node(node), resolver(io), tls_context(std::move(context)) {
    if (tls_context) {
      tls.emplace(io, *tls_context);
    } else {
      plain.emplace(io);
    }
    // Beast reads into what the buffer has room for, 512 bytes when it is empty: the response to
    // a bulk of 1,000 documents (~25 KB) then took ~50 reads, each one pass of the worker's event
    // loop behind a batch of CoAP datagrams, and a loaded collector waited ~40 ms per bulk.
    buffer.reserve(kReadBufferBytes);
  }
  static constexpr std::size_t kReadBufferBytes = 64 * 1024;

  beast::tcp_stream& tcp() { return tls ? beast::get_lowest_layer(*tls) : *plain; }

  template <class F>
  void with_stream(F&& f) {
    if (tls) {
      f(*tls);
    } else {
      f(*plain);
    }
  }

  const std::size_t node;
  tcp::resolver resolver;
  // Shared so that the SSL_CTX (and verification state asio keeps in it) outlives this stream
  // even when a late completion holds the connection after the client is gone.
  std::shared_ptr<ssl::context> tls_context;
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;
  std::optional<http::response_parser<http::string_body>> parser;
  std::shared_ptr<Call> call;  // the request in progress; empty while idle
  bool used = false;           // has answered before: a failure may be a stale keep-alive
  bool closed = false;         // dropped by the client: completions must do nothing
};

using ConnectionPtr = std::shared_ptr<Connection>;

void close(Connection& conn) {
  conn.closed = true;
  conn.resolver.cancel();
  conn.tcp().close();
}

// A keep-alive connection the server has already closed (its idle timeout) shows as readable
// EOF. Checking before reuse avoids most stale sends; the retry in fail() covers the race.
bool peer_hung_up(Connection& conn) {
  auto& socket = conn.tcp().socket();
  beast::error_code ec;
  // Async operations leave the socket non-blocking anyway; this only keeps the peek from waiting.
  socket.non_blocking(true, ec);
  if (ec) return true;
  char byte = 0;
  socket.receive(asio::buffer(&byte, 1), tcp::socket::message_peek, ec);
  if (ec == asio::error::would_block) return false;
  if (ec) return true;  // EOF or reset
  // Unsolicited bytes: nothing valid for plain HTTP, but TLS may carry post-handshake messages
  // (session tickets) that the next read consumes.
  return !conn.tls;
}

}  // namespace

// Completion handlers own their Connection (a socket must outlive its operations) but hold Impl
// only weakly: after ~HttpClient, late completions find no Impl, or a closed connection, and
// return without calling back.
struct HttpClient::Impl : std::enable_shared_from_this<HttpClient::Impl> {
  struct Pool {
    std::vector<ConnectionPtr> connections;  // connecting, busy and idle
    std::vector<ConnectionPtr> idle;         // most recently used last
    std::deque<std::shared_ptr<Call>> waiting;
  };

  Impl(asio::io_context& io_context, HttpClientSettings s)
      : io(io_context),
        settings(std::move(s)),
        selector(settings.nodes.size(), settings.quarantine),
        pools(settings.nodes.size()) {
    settings.max_connections_per_node = std::max<std::size_t>(settings.max_connections_per_node, 1);
    bool any_tls = false;
    for (const NodeUrl& url : settings.nodes) {
      names.push_back(node_name(url));
      hosts.push_back(bracketed(url.host) + ":" + std::to_string(url.port));
      any_tls = any_tls || url.tls;
    }
    if (any_tls) tls_context = make_tls_context(settings);
  }

  void send(HttpRequest request, std::function<void(HttpResult)> done) {
    auto call = std::make_shared<Call>();
    call->done = std::move(done);
    if (stopped) {
      post_result(std::move(call),
                  failure(asio::error::operation_aborted, "aborted: the HTTP client is shut down"));
      return;
    }
    call->node = selector.next(Clock::now());
    call->head = request.method == "HEAD";
    build(call->message, std::move(request), call->node);
    dispatch(call);
  }

  void build(http::request<http::string_body>& message, HttpRequest request, std::size_t node) {
    const NodeUrl& url = settings.nodes[node];
    message.version(11);
    const http::verb verb = http::string_to_verb(request.method);
    if (verb == http::verb::unknown) {
      message.method_string(request.method);
    } else {
      message.method(verb);
    }
    std::string target = url.path_prefix;
    if (!request.target.starts_with('/')) target += '/';
    target += request.target;
    message.target(target);
    message.set(http::field::host, hosts[node]);
    message.set(http::field::user_agent, kUserAgent);
    message.set(http::field::accept, "application/json");
    if (settings.authorization) message.set(http::field::authorization, *settings.authorization);
    if (settings.gzip) message.set(http::field::accept_encoding, "gzip");
    if (!request.body.empty()) {
      if (!request.content_type.empty()) {
        message.set(http::field::content_type, request.content_type);
      }
      if (settings.gzip) {
        message.set(http::field::content_encoding, "gzip");
        message.body() = detail::gzip_compress(request.body);
      } else {
        message.body() = std::move(request.body);
      }
    }
    message.prepare_payload();
    message.set(http::field::connection, "keep-alive");
  }

  void dispatch(const std::shared_ptr<Call>& call) {
    if (!try_start(call)) pools[call->node].waiting.push_back(call);
  }

  // Starts `call` on an idle or new connection; false when the node's pool is full.
  bool try_start(const std::shared_ptr<Call>& call) {
    Pool& pool = pools[call->node];
    while (!pool.idle.empty()) {
      ConnectionPtr conn = std::move(pool.idle.back());
      pool.idle.pop_back();
      if (peer_hung_up(*conn)) {
        discard(conn);
        continue;
      }
      conn->call = call;
      start(conn);
      return true;
    }
    if (pool.connections.size() >= settings.max_connections_per_node) return false;
    open(call);
    return true;
  }

  // Hands freed capacity to the requests queued for the node.
  void pump(std::size_t node) {
    auto& waiting = pools[node].waiting;
    while (!waiting.empty() && try_start(waiting.front())) waiting.pop_front();
  }

  void open(const std::shared_ptr<Call>& call) {
    const std::size_t node = call->node;
    const NodeUrl& url = settings.nodes[node];
    auto conn = std::make_shared<Connection>(io, node, url.tls ? tls_context : nullptr);
    conn->call = call;
    pools[node].connections.push_back(conn);
    beast::error_code ec;
    const asio::ip::address address = asio::ip::make_address(url.host, ec);
    if (!ec) {
      connect(conn, std::array<tcp::endpoint, 1>{tcp::endpoint(address, url.port)});
      return;
    }
    conn->resolver.async_resolve(
        url.host, std::to_string(url.port),
        [weak = weak_from_this(), conn](const beast::error_code& error,
                                        const tcp::resolver::results_type& endpoints) {
          const auto self = weak.lock();
          if (!self || conn->closed) return;
          if (error) return self->fail(conn, Step::resolve, error);
          self->connect(conn, endpoints);
        });
  }

  template <class Endpoints>
  void connect(const ConnectionPtr& conn, const Endpoints& endpoints) {
    // One budget for TCP and TLS together: "connected" means ready to send.
    conn->tcp().expires_after(settings.connect_timeout);
    conn->tcp().async_connect(endpoints,
                              [weak = weak_from_this(), conn](const beast::error_code& ec,
                                                              const tcp::endpoint& /*endpoint*/) {
                                const auto self = weak.lock();
                                if (!self || conn->closed) return;
                                if (ec) return self->fail(conn, Step::connect, ec);
                                self->on_connected(conn);
                              });
  }

  void on_connected(const ConnectionPtr& conn) {
    beast::error_code ignored;
    // Header and body go out in separate writes; Nagle would hold the body back for an ACK.
    conn->tcp().socket().set_option(tcp::no_delay(true), ignored);
    if (!conn->tls) return start(conn);

    auto& stream = *conn->tls;
    const std::string& host = settings.nodes[conn->node].host;
    // RFC 6066: SNI carries names only, never addresses.
    if (!is_ip_address(host) &&
        SSL_set_tlsext_host_name(stream.native_handle(), host.c_str()) != 1) {
      const beast::error_code ec(static_cast<int>(ERR_get_error()),
                                 asio::error::get_ssl_category());
      return fail(conn, Step::handshake, ec);
    }
    if (!settings.insecure) stream.set_verify_callback(ssl::host_name_verification(host));
    stream.async_handshake(ssl::stream_base::client,
                           [weak = weak_from_this(), conn](const beast::error_code& ec) {
                             const auto self = weak.lock();
                             if (!self || conn->closed) return;
                             if (ec) return self->fail(conn, Step::handshake, ec);
                             self->start(conn);
                           });
  }

  void start(const ConnectionPtr& conn) {
    conn->parser.emplace();
    conn->parser->header_limit(kHeaderLimit);
    conn->parser->body_limit(kBodyLimit);
    // A HEAD answer announces the GET body's length without sending it.
    conn->parser->skip(conn->call->head);
    conn->tcp().expires_after(settings.request_timeout);
    conn->with_stream([&](auto& stream) {
      http::async_write(stream, conn->call->message,
                        [weak = weak_from_this(), conn](const beast::error_code& ec, std::size_t) {
                          const auto self = weak.lock();
                          if (!self || conn->closed) return;
                          if (ec) return self->fail(conn, Step::write, ec);
                          self->read(conn);
                        });
    });
  }

  void read(const ConnectionPtr& conn) {
    // The timer set in start() keeps running: request_timeout bounds write and read together.
    conn->with_stream([&](auto& stream) {
      http::async_read(stream, conn->buffer, *conn->parser,
                       [weak = weak_from_this(), conn](const beast::error_code& ec, std::size_t) {
                         const auto self = weak.lock();
                         if (!self || conn->closed) return;
                         if (ec) return self->fail(conn, Step::read, ec);
                         self->on_response(conn);
                       });
    });
  }

  void on_response(const ConnectionPtr& conn) {
    auto message = conn->parser->release();
    HttpResponse response;
    response.status = static_cast<int>(message.result_int());
    response.node = conn->node;
    response.body = std::move(message.body());
    if (!response.body.empty() && beast::iequals(message[http::field::content_encoding], "gzip")) {
      auto plain = detail::gzip_decompress(response.body, kBodyLimit);
      if (!plain) {
        return fail(
            conn, Step::read,
            beast::error_code(boost::system::errc::bad_message, boost::system::generic_category()),
            "invalid or oversized gzip response body");
      }
      response.body = std::move(*plain);
    }

    const int status = response.status;
    if (status == 502 || status == 503 || status == 504) {
      selector.mark_failed(conn->node, Clock::now());
    } else if ((status >= 200 && status < 300) || (status >= 400 && status < 500)) {
      selector.mark_ok(conn->node);
    }

    auto call = std::move(conn->call);
    // Leftover bytes would be the start of an answer nobody asked for: not reusable.
    if (message.keep_alive() && conn->buffer.size() == 0) {
      conn->used = true;
      conn->parser.reset();
      conn->tcp().expires_never();
      pools[conn->node].idle.push_back(conn);
    } else {
      discard(conn);
    }
    pump(conn->node);
    // Last: the callback may send again, shut down or destroy the client.
    deliver(*call, HttpResult{std::move(response), {}, {}});
  }

  void fail(const ConnectionPtr& conn, Step step, const beast::error_code& ec,
            std::string what = {}) {
    auto call = std::move(conn->call);
    const bool response_started =
        conn->parser && (conn->parser->got_some() || conn->buffer.size() > 0);
    const bool timed_out = ec == beast::error::timeout;
    const bool stale = conn->used && !response_started && !timed_out;
    discard(conn);
    if (stale && !call->replayed) {
      // The standard keep-alive race, not an application retry: the server closed this idle
      // connection (its keep-alive timeout) just as the request went out, so it saw nothing and
      // answered nothing. Sending once more on a fresh connection is what every HTTP/1.1 client
      // does; a second failure, a timeout, or any response byte makes the failure final.
      call->replayed = true;
      open(call);
      return;
    }
    selector.mark_failed(conn->node, Clock::now());
    pump(conn->node);
    std::string detail;
    if (timed_out) {
      const bool connecting = step != Step::write && step != Step::read;
      const auto limit = connecting ? settings.connect_timeout : settings.request_timeout;
      detail = "timeout " + names[conn->node] + ": " +
               (connecting ? "not connected" : "no complete response") + " within " +
               std::to_string(limit.count()) + " ms";
    } else {
      detail = std::string(step_name(step)) + " " + names[conn->node] + ": " +
               (what.empty() ? describe(ec) : what);
    }
    deliver(*call, failure(ec, std::move(detail)));
  }

  static HttpResult failure(const beast::error_code& ec, std::string detail) {
    HttpResult result;
    result.error = to_std(ec);
    result.detail = std::move(detail);
    return result;
  }

  void deliver(Call& call, HttpResult result) {
    auto done = std::move(call.done);
    if (done) done(std::move(result));
  }

  // Completes a request from a fresh handler, never from inside send() or shutdown().
  void post_result(std::shared_ptr<Call> call, HttpResult result) {
    asio::post(io, [weak = weak_from_this(), call = std::move(call),
                    result = std::move(result)]() mutable {
      const auto self = weak.lock();
      if (!self || self->destroyed) return;
      self->deliver(*call, std::move(result));
    });
  }

  void discard(const ConnectionPtr& conn) {
    close(*conn);
    Pool& pool = pools[conn->node];
    std::erase(pool.connections, conn);
    std::erase(pool.idle, conn);
  }

  void close_all(bool notify) {
    for (std::size_t node = 0; node < pools.size(); ++node) {
      Pool pool = std::exchange(pools[node], Pool{});
      for (const ConnectionPtr& conn : pool.connections) {
        close(*conn);
        if (conn->call && notify) post_result(std::move(conn->call), aborted(node));
        conn->call.reset();
      }
      if (!notify) continue;
      for (auto& call : pool.waiting) post_result(std::move(call), aborted(node));
    }
  }

  HttpResult aborted(std::size_t node) const {
    return failure(asio::error::operation_aborted,
                   "aborted " + names[node] + ": the HTTP client is shut down");
  }

  std::size_t connections_open() const {
    std::size_t count = 0;
    for (const Pool& pool : pools) count += pool.connections.size();
    return count;
  }

  asio::io_context& io;
  HttpClientSettings settings;
  NodeSelector selector;
  std::vector<Pool> pools;
  std::vector<std::string> names;  // "https://host:port", for error details
  std::vector<std::string> hosts;  // Host header values
  std::shared_ptr<ssl::context> tls_context;
  bool stopped = false;
  bool destroyed = false;
};

HttpClient::HttpClient(boost::asio::io_context& io, HttpClientSettings settings)
    : impl_(std::make_shared<Impl>(io, std::move(settings))) {}

HttpClient::~HttpClient() {
  impl_->destroyed = true;
  impl_->close_all(false);
}

void HttpClient::send(HttpRequest request, std::function<void(HttpResult)> done) {
  impl_->send(std::move(request), std::move(done));
}

void HttpClient::shutdown() {
  impl_->stopped = true;
  impl_->close_all(true);
}

std::size_t HttpClient::connections_open() const {
  return impl_->connections_open();
}

}  // namespace iot::elastic

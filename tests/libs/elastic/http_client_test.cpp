#include "elastic/http_client.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "elastic/url.hpp"
#include "http_client_gzip.hpp"

namespace iot::elastic {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

// Bounds every wait: a healthy exchange on loopback takes milliseconds.
constexpr auto kDeadline = 10s;
constexpr std::string_view kSecret = "ApiKey c2VjcmV0LWtleQ==";

// Independent of the client's zlib code, so a bug there cannot hide behind the same bug here.
std::string gzip(std::string_view data, bool inflate) {
  z_stream zs{};
  const int init = inflate ? inflateInit2(&zs, MAX_WBITS + 16)
                           : deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, MAX_WBITS + 16, 8,
                                          Z_DEFAULT_STRATEGY);
  if (init != Z_OK) return "<zlib init failed>";
  std::string out;
  std::vector<unsigned char> chunk(16 * 1024);
  zs.next_in = reinterpret_cast<unsigned char*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  int rc = Z_OK;
  do {
    zs.next_out = chunk.data();
    zs.avail_out = static_cast<uInt>(chunk.size());
    rc = inflate ? ::inflate(&zs, Z_NO_FLUSH) : ::deflate(&zs, Z_FINISH);
    out.append(reinterpret_cast<char*>(chunk.data()), chunk.size() - zs.avail_out);
  } while (rc == Z_OK);
  if (inflate) {
    inflateEnd(&zs);
  } else {
    deflateEnd(&zs);
  }
  return rc == Z_STREAM_END ? out : "<zlib failed>";
}

std::string compress(std::string_view data) {
  return gzip(data, false);
}
std::string decompress(std::string_view data) {
  return gzip(data, true);
}

// ---- A scripted HTTP/1.1 server on the test's io_context ------------------------------------

struct Reply {
  int status = 200;
  std::string body = R"({"ok":true})";
  bool gzip = false;         // Content-Encoding: gzip
  bool close_after = false;  // Connection: close
  bool hold = false;         // answered only by TestServer::release_held()
  bool hang = false;         // never answered (the connection stays open)
  bool drop = false;         // closed right after the request was read, without an answer
  bool partial = false;      // part of a status line and headers, then closed
};

struct Received {
  http::request<http::string_body> request;
  std::size_t connection = 0;  // 1-based, in accept order
  std::size_t sequence = 0;    // 0-based index of the request on its connection
};

class SessionBase {
 public:
  virtual ~SessionBase() = default;
  virtual void answer(const Reply& reply) = 0;
  virtual void close() = 0;
  bool idle = false;  // waiting for the next request
};

struct ServerState {
  std::function<Reply(const Received&)> script = [](const Received&) { return Reply{}; };
  std::vector<Received> requests;
  std::size_t accepted = 0;
  std::size_t peer_closed = 0;  // connections the client closed while the server waited
  std::size_t unanswered = 0;
  std::size_t max_unanswered = 0;
  std::vector<std::weak_ptr<SessionBase>> sessions;
  std::vector<std::pair<std::shared_ptr<SessionBase>, Reply>> held;
  std::vector<std::shared_ptr<SessionBase>> hung;
};

template <class Stream>
class Session : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
 public:
  template <class... Args>
  Session(std::shared_ptr<ServerState> state, std::size_t id, Args&&... args)
      : state_(std::move(state)), id_(id), stream_(std::forward<Args>(args)...) {}

  void start() {
    if constexpr (kTls) {
      stream_.async_handshake(ssl::stream_base::server,
                              [self = this->shared_from_this()](const beast::error_code& ec) {
                                if (!ec) self->read();
                              });
    } else {
      read();
    }
  }

  void answer(const Reply& reply) override {
    --state_->unanswered;
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(reply.status), 11);
    res->set(http::field::content_type, "application/json");
    res->set("X-Elastic-Product", "Elasticsearch");
    if (reply.gzip) {
      res->set(http::field::content_encoding, "gzip");
      res->body() = compress(reply.body);
    } else {
      res->body() = reply.body;
    }
    res->keep_alive(!reply.close_after);
    res->prepare_payload();
    // HEAD: the length of the body that a GET would get, and no body.
    if (head_) res->body().clear();
    http::async_write(
        stream_, *res,
        [self = this->shared_from_this(), res](const beast::error_code& ec, std::size_t) {
          if (ec) return;
          if (res->keep_alive()) {
            self->read();
          } else {
            self->close();
          }
        });
  }

  void close() override {
    beast::error_code ignored;
    beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(stream_).close();
  }

 private:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  void read() {
    idle = true;
    parser_.emplace();
    parser_->body_limit(std::uint64_t{128} << 20);
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](const beast::error_code& ec, std::size_t) {
                       self->on_read(ec);
                     });
  }

  void on_read(const beast::error_code& ec) {
    idle = false;
    if (ec) {
      if (ec != asio::error::operation_aborted) ++state_->peer_closed;
      return;
    }
    head_ = parser_->get().method() == http::verb::head;
    state_->requests.push_back({parser_->release(), id_, sequence_++});
    state_->max_unanswered = std::max(state_->max_unanswered, ++state_->unanswered);
    const Reply reply = state_->script(state_->requests.back());
    if (reply.drop) {
      --state_->unanswered;
      close();
    } else if (reply.partial) {
      --state_->unanswered;
      auto text = std::make_shared<std::string>("HTTP/1.1 200 OK\r\nContent-Ty");
      asio::async_write(stream_, asio::buffer(*text),
                        [self = this->shared_from_this(), text](const beast::error_code&,
                                                                std::size_t) { self->close(); });
    } else if (reply.hang) {
      state_->hung.push_back(this->shared_from_this());
    } else if (reply.hold) {
      state_->held.emplace_back(this->shared_from_this(), reply);
    } else {
      answer(reply);
    }
  }

  std::shared_ptr<ServerState> state_;
  std::size_t id_;
  std::size_t sequence_ = 0;
  bool head_ = false;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
};

class TestServer {
 public:
  explicit TestServer(asio::io_context& io, ssl::context* tls = nullptr)
      : acceptor_(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
        tls_(tls),
        state_(std::make_shared<ServerState>()) {
    accept();
  }

  ~TestServer() {
    beast::error_code ignored;
    acceptor_.close(ignored);
    for (const auto& weak : state_->sessions) {
      if (const auto session = weak.lock()) session->close();
    }
    state_->held.clear();
    state_->hung.clear();
  }

  unsigned short port() const { return acceptor_.local_endpoint().port(); }
  NodeUrl url(const std::string& host = "127.0.0.1") const {
    return parse_node_url((tls_ ? "https://" : "http://") + host + ":" + std::to_string(port()));
  }

  ServerState& state() { return *state_; }
  void script(std::function<Reply(const Received&)> script) { state_->script = std::move(script); }
  void reply(Reply reply) {
    state_->script = [reply](const Received&) { return reply; };
  }

  void release_held() {
    auto held = std::exchange(state_->held, {});
    for (auto& [session, reply] : held) session->answer(reply);
  }

  std::size_t idle_connections() const {
    return static_cast<std::size_t>(
        std::count_if(state_->sessions.begin(), state_->sessions.end(), [](const auto& weak) {
          const auto session = weak.lock();
          return session && session->idle;
        }));
  }

  // What a server's keep-alive timeout does.
  void close_idle() {
    for (const auto& weak : state_->sessions) {
      const auto session = weak.lock();
      if (session && session->idle) session->close();
    }
  }

 private:
  void accept() {
    acceptor_.async_accept([this, state = state_](const beast::error_code& ec, tcp::socket socket) {
      if (ec) return;  // closed: `this` may be gone
      const std::size_t id = ++state->accepted;
      std::shared_ptr<SessionBase> session;
      if (tls_) {
        auto tls = std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
            state, id, std::move(socket), *tls_);
        tls->start();
        session = tls;
      } else {
        auto plain = std::make_shared<Session<beast::tcp_stream>>(state, id, std::move(socket));
        plain->start();
        session = plain;
      }
      state->sessions.push_back(session);
      accept();
    });
  }

  tcp::acceptor acceptor_;
  ssl::context* tls_;
  std::shared_ptr<ServerState> state_;
};

// A loopback port with nothing listening: bound once, then released.
unsigned short refused_port(asio::io_context& io) {
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

HttpRequest bulk(std::string body = "{\"create\":{}}\n{\"a\":1}\n") {
  HttpRequest request;
  request.target = "/_bulk";
  request.body = std::move(body);
  return request;
}

HttpClientSettings settings_for(std::vector<NodeUrl> nodes) {
  HttpClientSettings settings;
  settings.nodes = std::move(nodes);
  settings.quarantine = 60s;  // longer than any test: a quarantined node stays so
  return settings;
}

class HttpClientTest : public ::testing::Test {
 protected:
  // Runs the loop until `done` holds or the deadline passes.
  bool run_until(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + kDeadline;
    while (!done()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      if (io_.stopped()) io_.restart();
      io_.run_one_for(50ms);
    }
    return true;
  }

  HttpResult send(HttpClient& client, HttpRequest request = bulk()) {
    std::optional<HttpResult> result;
    client.send(std::move(request), [&result](HttpResult r) { result = std::move(r); });
    EXPECT_TRUE(run_until([&] { return result.has_value(); })) << "no result in time";
    return result.value_or(HttpResult{});
  }

  asio::io_context io_;
};

std::string describe(const HttpResult& result) {
  if (result.response) return "HTTP " + std::to_string(result.response->status);
  return result.error.message() + " / " + result.detail;
}

TEST_F(HttpClientTest, RoundTripSendsTheExpectedHeaders) {
  TestServer server(io_);
  server.reply({.status = 201, .body = R"({"errors":false})"});
  auto settings = settings_for({server.url()});
  settings.authorization = std::string(kSecret);
  HttpClient client(io_, settings);

  HttpRequest request = bulk();
  const std::string body = request.body;
  const HttpResult result = send(client, request);
  ASSERT_TRUE(result.response) << describe(result);
  EXPECT_FALSE(result.error);
  EXPECT_EQ(result.response->status, 201);
  EXPECT_EQ(result.response->body, R"({"errors":false})");
  EXPECT_EQ(result.response->node, 0u);

  ASSERT_EQ(server.state().requests.size(), 1u);
  const auto& req = server.state().requests[0].request;
  EXPECT_EQ(req.method(), http::verb::post);
  EXPECT_EQ(req.target(), "/_bulk");
  EXPECT_EQ(req[http::field::host], "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(req[http::field::content_type], "application/x-ndjson");
  EXPECT_EQ(req[http::field::authorization], kSecret);
  EXPECT_EQ(req[http::field::accept], "application/json");
  EXPECT_EQ(req[http::field::connection], "keep-alive");
  EXPECT_EQ(req[http::field::content_length], std::to_string(body.size()));
  EXPECT_TRUE(req[http::field::user_agent].starts_with("iot-collector/"));
  EXPECT_EQ(req.count(http::field::content_encoding), 0u);
  EXPECT_EQ(req.count(http::field::accept_encoding), 0u);
  EXPECT_EQ(req.body(), body);
}

TEST_F(HttpClientTest, GzipCompressesTheBodyAndAcceptsGzipAnswers) {
  TestServer server(io_);
  server.reply({.body = R"({"took":3,"errors":false,"items":[]})", .gzip = true});
  auto settings = settings_for({server.url()});
  settings.gzip = true;
  HttpClient client(io_, settings);

  std::string body;
  for (int i = 0; i < 500; ++i)
    body += "{\"create\":{}}\n{\"device\":\"d-" + std::to_string(i) + "\"}\n";
  const HttpResult result = send(client, bulk(body));
  ASSERT_TRUE(result.response) << describe(result);
  EXPECT_EQ(result.response->body, R"({"took":3,"errors":false,"items":[]})");

  ASSERT_EQ(server.state().requests.size(), 1u);
  const auto& req = server.state().requests[0].request;
  EXPECT_EQ(req[http::field::content_encoding], "gzip");
  EXPECT_EQ(req[http::field::accept_encoding], "gzip");
  EXPECT_EQ(req[http::field::content_length], std::to_string(req.body().size()));
  EXPECT_LT(req.body().size(), body.size());
  EXPECT_EQ(decompress(req.body()), body);
}

TEST_F(HttpClientTest, PathPrefixGetWithoutBodyAndNoAuthorization) {
  TestServer server(io_);
  NodeUrl url = server.url();
  url.path_prefix = "/proxy/es";
  HttpClient client(io_, settings_for({url}));

  HttpRequest request;
  request.method = "GET";
  request.target = "/_cluster/health";
  const HttpResult result = send(client, request);
  ASSERT_TRUE(result.response) << describe(result);

  const auto& req = server.state().requests.at(0).request;
  EXPECT_EQ(req.method(), http::verb::get);
  EXPECT_EQ(req.target(), "/proxy/es/_cluster/health");
  EXPECT_EQ(req.count(http::field::authorization), 0u);
  EXPECT_EQ(req.count(http::field::content_type), 0u);
  EXPECT_EQ(req.count(http::field::content_length), 0u);
}

TEST_F(HttpClientTest, HeadAnswerWithLengthButNoBodyKeepsTheConnectionUsable) {
  TestServer server(io_);
  server.reply({.body = "0123456789"});
  HttpClient client(io_, settings_for({server.url()}));

  HttpRequest head;
  head.method = "HEAD";
  head.target = "/_index_template/iot";
  const HttpResult first = send(client, head);
  ASSERT_TRUE(first.response) << describe(first);
  EXPECT_EQ(first.response->status, 200);
  EXPECT_TRUE(first.response->body.empty());

  const HttpResult second = send(client);
  ASSERT_TRUE(second.response) << describe(second);
  EXPECT_EQ(second.response->body, "0123456789");
  EXPECT_EQ(server.state().accepted, 1u);
}

TEST_F(HttpClientTest, AnyStatusIsAResponse) {
  TestServer server(io_);
  server.reply({.status = 429, .body = "busy"});
  HttpClient client(io_, settings_for({server.url()}));
  const HttpResult result = send(client);
  ASSERT_TRUE(result.response) << describe(result);
  EXPECT_EQ(result.response->status, 429);
  EXPECT_EQ(result.response->body, "busy");
}

TEST_F(HttpClientTest, SequentialRequestsReuseOneConnection) {
  TestServer server(io_);
  HttpClient client(io_, settings_for({server.url()}));
  for (int i = 0; i < 3; ++i) {
    const HttpResult result = send(client);
    ASSERT_TRUE(result.response) << describe(result);
  }
  EXPECT_EQ(server.state().accepted, 1u);
  EXPECT_EQ(server.state().requests.size(), 3u);
  EXPECT_EQ(client.connections_open(), 1u);
}

TEST_F(HttpClientTest, ConnectionCloseAnswerIsNotReused) {
  TestServer server(io_);
  server.reply({.close_after = true});
  HttpClient client(io_, settings_for({server.url()}));
  for (int i = 0; i < 2; ++i) {
    const HttpResult result = send(client);
    ASSERT_TRUE(result.response) << describe(result);
  }
  EXPECT_EQ(server.state().accepted, 2u);
  EXPECT_EQ(client.connections_open(), 0u);
}

TEST_F(HttpClientTest, ConcurrencyIsCappedPerNodeAndTheRestQueues) {
  TestServer server(io_);
  server.reply({.hold = true});
  auto settings = settings_for({server.url()});
  settings.max_connections_per_node = 2;
  HttpClient client(io_, settings);

  constexpr std::size_t kRequests = 5;
  std::vector<HttpResult> results;
  for (std::size_t i = 0; i < kRequests; ++i) {
    client.send(bulk(), [&results](HttpResult r) { results.push_back(std::move(r)); });
  }
  EXPECT_EQ(client.connections_open(), 2u);
  ASSERT_TRUE(run_until([&] { return server.state().held.size() == 2; }));
  EXPECT_EQ(server.state().accepted, 2u);
  EXPECT_TRUE(results.empty());

  while (results.size() < kRequests) {
    ASSERT_TRUE(
        run_until([&] { return !server.state().held.empty() || results.size() == kRequests; }));
    server.release_held();
  }
  for (const auto& result : results) EXPECT_TRUE(result.response) << describe(result);
  EXPECT_EQ(server.state().requests.size(), kRequests);
  EXPECT_EQ(server.state().accepted, 2u);
  EXPECT_EQ(server.state().max_unanswered, 2u);
  EXPECT_EQ(client.connections_open(), 2u);
}

TEST_F(HttpClientTest, ConnectionRefusedNamesTheNodeButNoSecret) {
  const unsigned short port = refused_port(io_);
  auto settings = settings_for({parse_node_url("http://127.0.0.1:" + std::to_string(port))});
  settings.authorization = std::string(kSecret);
  HttpClient client(io_, settings);

  const HttpResult result = send(client);
  EXPECT_FALSE(result.response);
  EXPECT_EQ(result.error, std::errc::connection_refused) << result.error.message();
  EXPECT_EQ(result.detail.rfind("connect http://127.0.0.1:" + std::to_string(port), 0), 0u)
      << result.detail;
  EXPECT_EQ(result.detail.find("c2VjcmV0"), std::string::npos) << result.detail;
  EXPECT_EQ(result.detail.find('\n'), std::string::npos);
  EXPECT_EQ(client.connections_open(), 0u);
}

TEST_F(HttpClientTest, RequestTimeout) {
  TestServer server(io_);
  server.reply({.hang = true});
  auto settings = settings_for({server.url()});
  settings.request_timeout = 200ms;
  HttpClient client(io_, settings);

  const HttpResult result = send(client);
  EXPECT_FALSE(result.response);
  EXPECT_EQ(result.error, std::errc::timed_out) << result.error.message();
  EXPECT_TRUE(result.detail.starts_with("timeout " + server.url().to_string() + ": "))
      << result.detail;
  EXPECT_EQ(server.state().requests.size(), 1u);  // never replayed
  EXPECT_EQ(client.connections_open(), 0u);
}

TEST_F(HttpClientTest, IdleConnectionClosedByTheServerIsReplacedTransparently) {
  TestServer server(io_);
  HttpClient client(io_, settings_for({server.url()}));
  ASSERT_TRUE(send(client).response);
  ASSERT_TRUE(run_until([&] { return server.idle_connections() == 1; }));
  server.close_idle();

  const HttpResult result = send(client);
  ASSERT_TRUE(result.response) << describe(result);
  EXPECT_EQ(server.state().accepted, 2u);
  EXPECT_EQ(server.state().requests.size(), 2u);
}

TEST_F(HttpClientTest, ReusedConnectionDroppedBeforeAnAnswerIsRetriedOnceOnAFreshOne) {
  TestServer server(io_);
  // The server's keep-alive timer fires just as the second request arrives on connection 1.
  server.script(
      [](const Received& r) { return Reply{.drop = r.connection == 1 && r.sequence == 1}; });
  HttpClient client(io_, settings_for({server.url()}));
  ASSERT_TRUE(send(client).response);

  const HttpResult result = send(client);
  ASSERT_TRUE(result.response) << describe(result);
  EXPECT_EQ(server.state().accepted, 2u);
  ASSERT_EQ(server.state().requests.size(), 3u);
  EXPECT_EQ(server.state().requests[2].connection, 2u);
}

TEST_F(HttpClientTest, ReusedConnectionDroppedTwiceFailsAfterOneRetry) {
  TestServer server(io_);
  server.script(
      [](const Received& r) { return Reply{.drop = r.connection > 1 || r.sequence > 0}; });
  HttpClient client(io_, settings_for({server.url()}));
  ASSERT_TRUE(send(client).response);

  const HttpResult result = send(client);
  EXPECT_FALSE(result.response);
  EXPECT_TRUE(result.detail.starts_with("read " + server.url().to_string())) << result.detail;
  EXPECT_EQ(server.state().requests.size(), 3u);
}

TEST_F(HttpClientTest, PartialAnswerOnAReusedConnectionIsNotReplayed) {
  TestServer server(io_);
  server.script([](const Received& r) { return Reply{.partial = r.sequence == 1}; });
  HttpClient client(io_, settings_for({server.url()}));
  ASSERT_TRUE(send(client).response);

  const HttpResult result = send(client);
  EXPECT_FALSE(result.response);
  EXPECT_TRUE(result.detail.starts_with("read " + server.url().to_string())) << result.detail;
  EXPECT_EQ(server.state().requests.size(), 2u);
  EXPECT_EQ(server.state().accepted, 1u);
}

TEST_F(HttpClientTest, ResetOnAFreshConnectionIsAnErrorWithoutRetry) {
  TestServer server(io_);
  server.reply({.drop = true});
  HttpClient client(io_, settings_for({server.url()}));

  const HttpResult result = send(client);
  EXPECT_FALSE(result.response);
  EXPECT_TRUE(result.error);
  EXPECT_TRUE(result.detail.starts_with("read " + server.url().to_string() + ": ") ||
              result.detail.starts_with("write " + server.url().to_string() + ": "))
      << result.detail;
  EXPECT_EQ(server.state().requests.size(), 1u);
  EXPECT_EQ(server.state().accepted, 1u);
}

TEST_F(HttpClientTest, RoundRobinAcrossNodes) {
  TestServer a(io_);
  TestServer b(io_);
  HttpClient client(io_, settings_for({a.url(), b.url()}));
  std::vector<std::size_t> nodes;
  for (int i = 0; i < 4; ++i) {
    const HttpResult result = send(client);
    ASSERT_TRUE(result.response) << describe(result);
    nodes.push_back(result.response->node);
  }
  EXPECT_EQ(nodes, (std::vector<std::size_t>{0, 1, 0, 1}));
  EXPECT_EQ(a.state().requests.size(), 2u);
  EXPECT_EQ(b.state().requests.size(), 2u);
}

TEST_F(HttpClientTest, RefusedNodeIsQuarantined) {
  TestServer good(io_);
  const auto bad = parse_node_url("http://127.0.0.1:" + std::to_string(refused_port(io_)));
  HttpClient client(io_, settings_for({bad, good.url()}));

  const HttpResult first = send(client);
  EXPECT_FALSE(first.response);
  EXPECT_TRUE(first.detail.starts_with("connect " + bad.to_string())) << first.detail;
  for (int i = 0; i < 4; ++i) {
    const HttpResult result = send(client);
    ASSERT_TRUE(result.response) << describe(result);
    EXPECT_EQ(result.response->node, 1u);
  }
  EXPECT_EQ(good.state().requests.size(), 4u);
}

TEST_F(HttpClientTest, ServiceUnavailableQuarantinesTheNode) {
  TestServer unavailable(io_);
  unavailable.reply({.status = 503, .body = "down"});
  TestServer good(io_);
  HttpClient client(io_, settings_for({unavailable.url(), good.url()}));

  const HttpResult first = send(client);
  ASSERT_TRUE(first.response) << describe(first);
  EXPECT_EQ(first.response->status, 503);
  EXPECT_EQ(first.response->node, 0u);
  for (int i = 0; i < 3; ++i) {
    const HttpResult result = send(client);
    ASSERT_TRUE(result.response) << describe(result);
    EXPECT_EQ(result.response->node, 1u);
  }
  EXPECT_EQ(unavailable.state().requests.size(), 1u);
}

TEST_F(HttpClientTest, ClientErrorDoesNotQuarantine) {
  TestServer a(io_);
  a.reply({.status = 400, .body = "bad"});
  TestServer b(io_);
  HttpClient client(io_, settings_for({a.url(), b.url()}));
  std::vector<std::size_t> nodes;
  for (int i = 0; i < 4; ++i) {
    const HttpResult result = send(client);
    ASSERT_TRUE(result.response) << describe(result);
    nodes.push_back(result.response->node);
  }
  EXPECT_EQ(nodes, (std::vector<std::size_t>{0, 1, 0, 1}));
}

TEST_F(HttpClientTest, ShutdownCompletesOutstandingRequestsWithAnError) {
  TestServer server(io_);
  server.reply({.hold = true});
  auto settings = settings_for({server.url()});
  settings.max_connections_per_node = 1;
  HttpClient client(io_, settings);

  std::vector<HttpResult> results;
  for (int i = 0; i < 2; ++i) {
    client.send(bulk(), [&results](HttpResult r) { results.push_back(std::move(r)); });
  }
  ASSERT_TRUE(run_until([&] { return server.state().held.size() == 1; }));
  client.shutdown();
  EXPECT_TRUE(results.empty());  // completions come from the loop, not from inside shutdown()
  EXPECT_EQ(client.connections_open(), 0u);
  ASSERT_TRUE(run_until([&] { return results.size() == 2; }));
  for (const auto& result : results) {
    EXPECT_FALSE(result.response);
    EXPECT_EQ(result.error, std::errc::operation_canceled) << result.error.message();
    EXPECT_TRUE(result.detail.starts_with("aborted " + server.url().to_string())) << result.detail;
  }

  // Late answers to the aborted requests go nowhere.
  server.release_held();
  const HttpResult after = send(client);
  EXPECT_EQ(after.error, std::errc::operation_canceled);
  EXPECT_EQ(results.size(), 2u);
}

TEST_F(HttpClientTest, DestructionDropsCallbacks) {
  TestServer server(io_);
  server.reply({.hold = true});
  bool called = false;
  auto client = std::make_unique<HttpClient>(io_, settings_for({server.url()}));
  client->send(bulk(), [&called](HttpResult) { called = true; });
  client->send(bulk(), [&called](HttpResult) { called = true; });
  ASSERT_TRUE(run_until([&] { return server.state().held.size() == 2; }));
  client.reset();

  server.release_held();
  // Both answers are written and the server then sees the client's close.
  ASSERT_TRUE(run_until([&] { return server.state().peer_closed == 2; }));
  EXPECT_FALSE(called);
}

TEST_F(HttpClientTest, DestructionWhileConnectingDropsCallbacks) {
  TestServer server(io_);
  bool called = false;
  auto client = std::make_unique<HttpClient>(io_, settings_for({server.url()}));
  client->send(bulk(), [&called](HttpResult) { called = true; });
  client.reset();
  io_.poll();
  ASSERT_TRUE(run_until([&] { return server.state().accepted == 1; }));
  io_.poll();
  EXPECT_FALSE(called);
}

TEST_F(HttpClientTest, CallbackMayDestroyTheClient) {
  TestServer server(io_);
  auto client = std::make_unique<HttpClient>(io_, settings_for({server.url()}));
  bool called = false;
  client->send(bulk(), [&](HttpResult result) {
    EXPECT_TRUE(result.response);
    called = true;
    client.reset();
  });
  ASSERT_TRUE(run_until([&] { return called; }));
  EXPECT_FALSE(client);
  ASSERT_TRUE(run_until([&] { return server.state().peer_closed == 1; }));
}

TEST_F(HttpClientTest, CallbackMaySendAgainOnTheSameConnection) {
  TestServer server(io_);
  HttpClient client(io_, settings_for({server.url()}));
  int done = 0;
  std::function<void(HttpResult)> next = [&](HttpResult result) {
    EXPECT_TRUE(result.response) << describe(result);
    if (++done < 3) client.send(bulk(), next);
  };
  client.send(bulk(), next);
  ASSERT_TRUE(run_until([&] { return done == 3; }));
  EXPECT_EQ(server.state().accepted, 1u);
}

// ---- gzip helpers -----------------------------------------------------------------------------

TEST(HttpGzipTest, RoundTripAndConcatenatedMembers) {
  const std::string text(100000, 'x');
  const std::string packed = detail::gzip_compress(text);
  EXPECT_LT(packed.size(), 1000u);
  EXPECT_EQ(decompress(packed), text);
  EXPECT_EQ(detail::gzip_decompress(packed, text.size()), text);
  EXPECT_EQ(detail::gzip_decompress(compress("ab") + compress("cd"), 100), "abcd");
  EXPECT_EQ(detail::gzip_decompress(detail::gzip_compress(""), 10), "");
}

TEST(HttpGzipTest, RejectsCorruptTruncatedAndOversized) {
  const std::string packed = detail::gzip_compress(std::string(100000, 'x'));
  EXPECT_FALSE(detail::gzip_decompress("not gzip at all", 1000));
  EXPECT_FALSE(detail::gzip_decompress(packed.substr(0, packed.size() / 2), 1000000));
  EXPECT_FALSE(detail::gzip_decompress(packed, 99999));
}

// ---- TLS ----------------------------------------------------------------------------------------

// A throwaway CA and a server certificate for DNS:localhost only, made by the openssl CLI.
class HttpClientTlsTest : public HttpClientTest {
 protected:
  static void SetUpTestSuite() {
    if (std::system("openssl version >/dev/null 2>&1") != 0) return;
    std::string pattern = (std::filesystem::temp_directory_path() / "http-client-tls-XXXXXX");
    if (mkdtemp(pattern.data()) == nullptr) return;
    dir_ = pattern;
    const std::string script =
        "cd '" + dir_.string() +
        "' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
        " -keyout ca.key -out ca.pem -days 2 -subj '/CN=iot test CA'"
        " && openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
        " -keyout server.key -out server.csr -subj '/CN=localhost'"
        " && printf 'subjectAltName=DNS:localhost\\nextendedKeyUsage=serverAuth\\n' > ext.cnf"
        " && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial"
        " -out server.pem -days 2 -extfile ext.cnf";
    ready_ = std::system(("(" + script + ") >/dev/null 2>&1").c_str()) == 0;
  }

  static void TearDownTestSuite() {
    std::error_code ignored;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
  }

  void SetUp() override {
    if (!ready_) GTEST_SKIP() << "the openssl command is missing or failed";
    server_tls_.use_certificate_chain_file((dir_ / "server.pem").string());
    server_tls_.use_private_key_file((dir_ / "server.key").string(), ssl::context::pem);
  }

  std::string ca_file() const { return (dir_ / "ca.pem").string(); }

  ssl::context server_tls_{ssl::context::tls_server};
  static inline std::filesystem::path dir_;
  static inline bool ready_ = false;
};

TEST_F(HttpClientTlsTest, VerifiedWithTheCaFileAndKeptAlive) {
  TestServer server(io_, &server_tls_);
  auto settings = settings_for({server.url("localhost")});
  settings.ca_file = ca_file();
  HttpClient client(io_, settings);
  for (int i = 0; i < 3; ++i) {
    const HttpResult result = send(client);
    ASSERT_TRUE(result.response) << describe(result);
    EXPECT_EQ(result.response->status, 200);
  }
  EXPECT_EQ(server.state().accepted, 1u);
  EXPECT_EQ(server.state().requests.at(0).request[http::field::host],
            "localhost:" + std::to_string(server.port()));
}

TEST_F(HttpClientTlsTest, WrongHostNameFailsTheHandshake) {
  TestServer server(io_, &server_tls_);
  auto settings = settings_for({server.url("127.0.0.1")});
  settings.ca_file = ca_file();
  HttpClient client(io_, settings);
  const HttpResult result = send(client);
  EXPECT_FALSE(result.response);
  EXPECT_TRUE(result.error);
  EXPECT_TRUE(result.detail.starts_with(
      "handshake https://127.0.0.1:" + std::to_string(server.port()) + ": "))
      << result.detail;
  EXPECT_TRUE(server.state().requests.empty());
}

TEST_F(HttpClientTlsTest, UnknownCaFailsTheHandshake) {
  TestServer server(io_, &server_tls_);
  HttpClient client(io_, settings_for({server.url("localhost")}));  // system trust store
  const HttpResult result = send(client);
  EXPECT_FALSE(result.response);
  EXPECT_TRUE(result.detail.starts_with("handshake https://localhost:")) << result.detail;
  EXPECT_TRUE(server.state().requests.empty());
}

TEST_F(HttpClientTlsTest, InsecureSkipsTheChecks) {
  TestServer server(io_, &server_tls_);
  auto settings = settings_for({server.url("127.0.0.1")});
  settings.insecure = true;
  HttpClient client(io_, settings);
  const HttpResult result = send(client);
  ASSERT_TRUE(result.response) << describe(result);
  EXPECT_EQ(result.response->status, 200);
}

TEST_F(HttpClientTlsTest, MissingCaFileIsRefusedAtConstruction) {
  TestServer server(io_, &server_tls_);
  auto settings = settings_for({server.url("localhost")});
  settings.ca_file = (dir_ / "missing.pem").string();
  EXPECT_THROW({ HttpClient client(io_, settings); }, std::invalid_argument);
}

}  // namespace
}  // namespace iot::elastic

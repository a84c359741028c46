#include "admin/admin_server.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using iot::admin::AdminHandlers;
using iot::admin::AdminServer;

// Far above any healthy round trip, far below the server's 10 s idle timeout: a hang fails fast.
constexpr auto kClientTimeout = std::chrono::seconds(5);

tcp::endpoint parse_endpoint(const std::string& address) {
  const auto colon = address.rfind(':');
  std::string host = address.substr(0, colon);
  if (host.starts_with('[')) host = host.substr(1, host.size() - 2);
  return {asio::ip::make_address(host),
          static_cast<unsigned short>(std::stoul(address.substr(colon + 1)))};
}

bool is_closed_by_peer(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == http::error::partial_message;
}

// A blocking HTTP client whose every call is bounded by kClientTimeout.
class Client {
 public:
  beast::error_code connect(const tcp::endpoint& endpoint) {
    return run([&](auto handler) { stream_.async_connect(endpoint, handler); });
  }

  beast::error_code connect(const std::string& address) { return connect(parse_endpoint(address)); }

  beast::error_code write(const std::string& raw) {
    return run([&](auto handler) { asio::async_write(stream_, asio::buffer(raw), handler); });
  }

  beast::error_code write(http::request<http::string_body> req) {
    req.prepare_payload();
    return run([&](auto handler) { http::async_write(stream_, req, handler); });
  }

  // HEAD responses announce a Content-Length without sending it, so the parser must be told.
  std::pair<beast::error_code, http::response<http::string_body>> read(bool head = false) {
    http::response_parser<http::string_body> parser;
    parser.skip(head);
    const beast::error_code ec =
        run([&](auto handler) { http::async_read(stream_, buffer_, parser, handler); });
    return {ec, parser.release()};
  }

  http::response<http::string_body> request(http::verb method, const std::string& target) {
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "test");
    const beast::error_code write_ec = write(std::move(req));
    EXPECT_FALSE(write_ec) << write_ec.message();
    auto [ec, res] = read(method == http::verb::head);
    EXPECT_FALSE(ec) << ec.message();
    return res;
  }

  http::response<http::string_body> get(const std::string& target) {
    return request(http::verb::get, target);
  }

 private:
  template <class Start>
  beast::error_code run(Start&& start) {
    std::optional<beast::error_code> result;
    stream_.expires_after(kClientTimeout);
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    ioc_.restart();
    while (!result && ioc_.run_one() > 0) {
    }
    return result.value_or(asio::error::operation_aborted);
  }

  asio::io_context ioc_;
  beast::tcp_stream stream_{ioc_};
  beast::flat_buffer buffer_;
};

class AdminServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    AdminHandlers handlers;
    handlers.ready = [this] { return ready_.load(); };
    handlers.metrics = [this]() -> std::string {
      if (metrics_throw_.load()) throw std::runtime_error("metrics broke");
      return "# TYPE up gauge\nup 1\n";
    };
    server_ = std::make_unique<AdminServer>("127.0.0.1", 0, std::move(handlers));
    server_->start();
  }

  http::response<http::string_body> get(const std::string& target) {
    Client client;
    const beast::error_code ec = client.connect(server_->local_address());
    EXPECT_FALSE(ec) << ec.message();
    return client.get(target);
  }

  std::atomic<bool> ready_{true};
  std::atomic<bool> metrics_throw_{false};
  std::unique_ptr<AdminServer> server_;
};

TEST_F(AdminServerTest, LocalAddressIsTheBoundLoopbackPort) {
  const std::string address = server_->local_address();
  ASSERT_TRUE(address.starts_with("127.0.0.1:")) << address;
  EXPECT_NE(parse_endpoint(address).port(), 0);
}

TEST_F(AdminServerTest, HealthzIsOk) {
  const auto res = get("/healthz");
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res.body(), "ok\n");
  EXPECT_EQ(res[http::field::server], "iot-collector");
}

TEST_F(AdminServerTest, ReadyzFollowsTheHandler) {
  auto res = get("/readyz");
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res.body(), "ready\n");

  ready_ = false;
  res = get("/readyz");
  EXPECT_EQ(res.result(), http::status::service_unavailable);
}

TEST_F(AdminServerTest, MetricsHasPrometheusContentType) {
  const auto res = get("/metrics");
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res.body(), "# TYPE up gauge\nup 1\n");
  EXPECT_EQ(res[http::field::content_type], "text/plain; version=0.0.4; charset=utf-8");
}

TEST_F(AdminServerTest, QueryStringIsIgnoredForRouting) {
  EXPECT_EQ(get("/metrics?name=up").result(), http::status::ok);
}

TEST_F(AdminServerTest, HeadHasHeadersButNoBody) {
  Client client;
  ASSERT_FALSE(client.connect(server_->local_address()));
  const auto head = client.request(http::verb::head, "/metrics");
  EXPECT_EQ(head.result(), http::status::ok);
  EXPECT_EQ(head[http::field::content_length],
            std::to_string(std::string("# TYPE up gauge\nup 1\n").size()));
  EXPECT_EQ(head[http::field::content_type], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_TRUE(head.body().empty());

  // Had any body bytes been sent, they would corrupt the next response on this connection.
  const auto res = client.get("/healthz");
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res.body(), "ok\n");
}

TEST_F(AdminServerTest, UnknownPathIsNotFound) {
  const auto res = get("/nope");
  EXPECT_EQ(res.result(), http::status::not_found);
  EXPECT_EQ(res.body(), "not found\n");
}

TEST_F(AdminServerTest, OtherMethodIsNotAllowed) {
  Client client;
  ASSERT_FALSE(client.connect(server_->local_address()));
  for (const auto method : {http::verb::post, http::verb::delete_}) {
    const auto res = client.request(method, "/healthz");
    EXPECT_EQ(res.result(), http::status::method_not_allowed);
    EXPECT_EQ(res[http::field::allow], "GET, HEAD");
  }
}

TEST_F(AdminServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  Client client;
  ASSERT_FALSE(client.connect(server_->local_address()));
  EXPECT_EQ(client.get("/healthz").result(), http::status::ok);
  const auto res = client.get("/metrics");
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_TRUE(res.keep_alive());
  EXPECT_EQ(client.get("/readyz").result(), http::status::ok);
}

TEST_F(AdminServerTest, RequestBodyIsRefused) {
  Client client;
  ASSERT_FALSE(client.connect(server_->local_address()));
  http::request<http::string_body> req{http::verb::post, "/metrics", 11};
  req.set(http::field::host, "test");
  req.body() = "hello";
  const beast::error_code write_ec = client.write(std::move(req));
  ASSERT_TRUE(!write_ec || is_closed_by_peer(write_ec)) << write_ec.message();

  const auto [ec, res] = client.read();
  if (ec) {
    EXPECT_TRUE(is_closed_by_peer(ec)) << ec.message();
  } else {
    EXPECT_EQ(res.result(), http::status::payload_too_large);
    EXPECT_FALSE(res.keep_alive());
  }
  EXPECT_EQ(get("/healthz").result(), http::status::ok);
}

TEST_F(AdminServerTest, OversizeHeadersAreRefused) {
  Client client;
  ASSERT_FALSE(client.connect(server_->local_address()));
  const std::string raw = "GET /healthz HTTP/1.1\r\nHost: test\r\nX-Padding: " +
                          std::string(std::size_t{16} * 1024, 'a') + "\r\n\r\n";
  const beast::error_code write_ec = client.write(raw);
  ASSERT_TRUE(!write_ec || is_closed_by_peer(write_ec)) << write_ec.message();

  const auto [ec, res] = client.read();
  if (ec) {
    EXPECT_TRUE(is_closed_by_peer(ec)) << ec.message();
  } else {
    EXPECT_EQ(res.result(), http::status::request_header_fields_too_large);
  }
  EXPECT_EQ(get("/healthz").result(), http::status::ok);
}

TEST_F(AdminServerTest, MalformedRequestIsBadRequest) {
  Client client;
  ASSERT_FALSE(client.connect(server_->local_address()));
  ASSERT_FALSE(client.write(std::string("GET /healthz NOTHTTP\r\n\r\n")));
  const auto [ec, res] = client.read();
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(res.result(), http::status::bad_request);
}

TEST_F(AdminServerTest, HandlerExceptionGivesInternalErrorAndServingContinues) {
  Client client;
  ASSERT_FALSE(client.connect(server_->local_address()));
  metrics_throw_ = true;
  EXPECT_EQ(client.get("/metrics").result(), http::status::internal_server_error);
  metrics_throw_ = false;
  EXPECT_EQ(client.get("/metrics").result(), http::status::ok);
  EXPECT_EQ(get("/healthz").result(), http::status::ok);
}

TEST_F(AdminServerTest, SecondServerOnTheSamePortThrowsWithTheAddress) {
  const std::string address = server_->local_address();
  const unsigned short port = parse_endpoint(address).port();
  try {
    AdminServer second("127.0.0.1", port, {});
    FAIL() << "expected the bind to fail";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("admin listen " + address), std::string::npos) << e.what();
  }
  EXPECT_EQ(get("/healthz").result(), http::status::ok);
}

TEST_F(AdminServerTest, StopIsIdempotentAndClosesTheServer) {
  Client idle;
  ASSERT_FALSE(idle.connect(server_->local_address()));
  ASSERT_EQ(idle.get("/healthz").result(), http::status::ok);

  const std::string address = server_->local_address();
  server_->stop();
  server_->stop();

  // The open keep-alive connection is closed, and nobody listens any more.
  const auto [ec, res] = idle.read();
  EXPECT_TRUE(is_closed_by_peer(ec)) << ec.message();
  Client late;
  EXPECT_EQ(late.connect(address), asio::error::connection_refused);

  server_->start();  // no restart after stop
  Client again;
  EXPECT_EQ(again.connect(address), asio::error::connection_refused);
}

TEST_F(AdminServerTest, ConnectionsBeyondTheCapAreClosed) {
  constexpr int kCap = 64;  // mirrors the server's limit
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < kCap; ++i) {
    clients.push_back(std::make_unique<Client>());
    ASSERT_FALSE(clients.back()->connect(server_->local_address()));
  }
  // The server accepts in order, so the first kCap are sessions before this one is seen.
  Client extra;
  ASSERT_FALSE(extra.connect(server_->local_address()));
  const auto [ec, res] = extra.read();
  EXPECT_TRUE(is_closed_by_peer(ec)) << ec.message();

  EXPECT_EQ(clients.front()->get("/healthz").result(), http::status::ok);
  EXPECT_EQ(clients.back()->get("/healthz").result(), http::status::ok);
}

TEST(AdminServer, EmptyHandlersMeanReadyAndEmptyMetrics) {
  AdminServer server("127.0.0.1", 0, {});
  server.start();
  Client client;
  ASSERT_FALSE(client.connect(server.local_address()));
  EXPECT_EQ(client.get("/readyz").result(), http::status::ok);
  const auto res = client.get("/metrics");
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_TRUE(res.body().empty());
}

TEST(AdminServer, DestroyWithoutStartDoesNotHang) {
  AdminServer server("127.0.0.1", 0, {});
  EXPECT_TRUE(server.local_address().starts_with("127.0.0.1:"));
}

TEST(AdminServer, HostNameIsResolved) {
  AdminServer server("localhost", 0, {});
  server.start();
  const std::string address = server.local_address();
  ASSERT_TRUE(address.starts_with("127.0.0.1:") || address.starts_with("[::1]:")) << address;
  Client client;
  ASSERT_FALSE(client.connect(address));
  EXPECT_EQ(client.get("/healthz").result(), http::status::ok);
}

TEST(AdminServer, Ipv6Loopback) {
  {
    asio::io_context probe_ioc;
    tcp::acceptor probe(probe_ioc);
    beast::error_code ec;
    probe.open(tcp::v6(), ec);
    if (!ec) probe.bind(tcp::endpoint(asio::ip::address_v6::loopback(), 0), ec);
    if (ec) GTEST_SKIP() << "::1 unavailable: " << ec.message();
  }
  AdminServer server("::1", 0, {});
  server.start();
  const std::string address = server.local_address();
  ASSERT_TRUE(address.starts_with("[::1]:")) << address;
  Client client;
  ASSERT_FALSE(client.connect(address));
  EXPECT_EQ(client.get("/healthz").body(), "ok\n");
}

}  // namespace

#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "elastic/url.hpp"

namespace iot::elastic {

struct HttpClientSettings {
  std::vector<NodeUrl> nodes;  // at least one
  // The whole Authorization header value ("ApiKey <base64>" or "Basic <base64>"). A secret: never
  // logged, never part of an error message.
  std::optional<std::string> authorization;
  std::string ca_file;    // PEM bundle for https; empty: the system trust store
  bool insecure = false;  // https without certificate or host name checks (development only)
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds request_timeout{10000};  // write + read of one request
  std::chrono::milliseconds quarantine{5000};        // a failed node is skipped this long
  std::size_t max_connections_per_node = 4;          // keep-alive pool size
  bool gzip = false;                                 // Content-Encoding: gzip for request bodies
};

struct HttpRequest {
  std::string method = "POST";  // GET, PUT, POST, HEAD
  std::string target;           // "/_bulk": the node's path prefix is put in front
  std::string content_type = "application/x-ndjson";
  std::string body;
};

struct HttpResponse {
  int status = 0;
  std::string body;      // decompressed if the node answered with Content-Encoding: gzip
  std::size_t node = 0;  // index of the node that answered
};

// Outcome of one request: a response (any HTTP status), or a transport failure (connection
// refused or reset, timeout, TLS failure) described without secrets.
struct HttpResult {
  std::optional<HttpResponse> response;
  std::error_code error;  // set when response is empty
  // One line for logs, "<step> <scheme://host:port>: <reason>", e.g.
  // "connect http://10.0.0.5:9200: Connection refused"; step "timeout" for timeouts.
  std::string detail;
};

// An asynchronous HTTP/1.1 client for Elasticsearch nodes on one worker's io_context (Boost.Beast,
// OpenSSL for https). Keep-alive connections are pooled per node and reused; a request picks its
// node round-robin among the healthy ones (a transport failure or a 502/503/504 quarantines a
// node). Every response carries the request's node, so callers can log and count per node.
// Requests are never retried here: retry policy belongs to the caller, who knows what is safe.
// Not thread-safe: use on its io_context's thread only.
class HttpClient {
 public:
  HttpClient(boost::asio::io_context& io, HttpClientSettings settings);
  ~HttpClient();  // cancels outstanding requests (their callbacks are not called)
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  void send(HttpRequest request, std::function<void(HttpResult)> done);
  // Closes idle and active connections; outstanding requests complete with an error.
  void shutdown();
  std::size_t connections_open() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace iot::elastic

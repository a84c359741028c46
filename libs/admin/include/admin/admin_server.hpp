#pragma once

#include <functional>
#include <memory>
#include <string>

namespace iot::admin {

// What the admin endpoints report; called on the admin thread, so each must be thread-safe.
struct AdminHandlers {
  std::function<bool()> ready;           // GET /readyz: 200 "ready\n" when true, else 503
  std::function<std::string()> metrics;  // GET /metrics: Prometheus text format 0.0.4
};

// The operators' HTTP port (Boost.Beast, HTTP/1.1 keep-alive, one thread of its own):
//   GET /healthz -> 200 "ok\n" while the process runs
//   GET /readyz  -> 200 / 503 from handlers.ready
//   GET /metrics -> 200 text/plain; version=0.0.4; charset=utf-8
//   HEAD on each of these -> same status and headers, no body
//   other paths -> 404; other methods on known paths -> 405 with Allow: GET, HEAD
// Requests are bounded (headers 8 KiB, no body accepted) and every connection has an idle timeout,
// so a slow or hostile client cannot hold the thread.
class AdminServer {
 public:
  // Binds and listens at once on host:port (port 0 picks a free port); throws std::runtime_error
  // with a one-line message ("admin listen 0.0.0.0:8080: Address already in use") on failure.
  AdminServer(const std::string& host, unsigned short port, AdminHandlers handlers);
  ~AdminServer();  // stops serving and joins the thread
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  void start();  // starts the serving thread
  void stop();   // idempotent

  // "127.0.0.1:41234" or "[::1]:41234": the address actually bound.
  std::string local_address() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace iot::admin

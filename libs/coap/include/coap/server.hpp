#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "coap/message.hpp"
#include "metrics/metrics.hpp"

namespace iot::coap {

// Process-wide libcoap set-up: coap_startup() and a bridge from libcoap's log to ours. Exactly
// one, created in main before any Server and destroyed after the last one.
class Library {
 public:
  // verbose: pass libcoap's debug output through (it logs every PDU, so only for debugging).
  explicit Library(bool verbose);
  ~Library();
  Library(const Library&) = delete;
  Library& operator=(const Library&) = delete;
};

// A request the handler answers after handle() returned, e.g. once Elasticsearch has stored its
// events (RFC 7252 §5.2.2 separate response). libcoap acknowledges a confirmable request with an
// empty ACK as soon as the handler returns without a code; respond() then sends the answer as a
// confirmable message carrying the request's token, which libcoap retransmits until the device
// acknowledges it. A non-confirmable request gets a non-confirmable answer. Retransmissions of
// the request meanwhile get the empty ACK again and never reach the handler.
// Move-only; used on the server's thread only. Destroyed unanswered, it answers 5.03 with
// Max-Age 1 so a device is never left without an answer; after its server is gone it does
// nothing.
class PendingExchange {
 public:
  PendingExchange() = default;
  PendingExchange(PendingExchange&& other) noexcept;
  PendingExchange& operator=(PendingExchange&& other) noexcept;
  ~PendingExchange();

  explicit operator bool() const { return state_ != nullptr; }  // still to be answered
  void respond(const Response& response);

  struct State;

 private:
  friend PendingExchange defer(const Request& request);
  explicit PendingExchange(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// Takes the exchange of `request` to answer later; call inside RequestHandler::handle, which then
// returns nullopt. At most once per request.
PendingExchange defer(const Request& request);

// Application side of a Server: called on the server's thread for every request that is not a
// retransmission of one already answered (or being answered).
class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  // The response, or nullopt after taking defer(request) to answer later.
  virtual std::optional<Response> handle(const Request& request) = 0;
};

struct ServerOptions {
  std::string host = "0.0.0.0";
  unsigned short port = 5683;  // 0: pick a free port (read it back with local_port())
  // Lets several servers (one per worker thread) share the port; the kernel spreads peers
  // across them by address hash.
  bool reuse_port = true;
  std::vector<std::string>
      paths;  // resources; requests for anything else reach the handler with path ""
  std::size_t exchange_cache_capacity = 100'000;
  // libcoap walks every session on each wake-up; bounding idle ones keeps that walk short.
  unsigned max_idle_sessions = 256;
  unsigned session_timeout_seconds = 60;
  int receive_buffer_bytes = 4 << 20;  // bursts overflow the default 212 KB and become timeouts
};

// Throws (one line, e.g. "coap listen 0.0.0.0:5683: Address already in use") when another socket
// holds host:port. Servers bind with SO_REUSEADDR|SO_REUSEPORT, which would let a second
// collector share the port silently and take part of the traffic: check before binding.
void ensure_udp_port_free(const std::string& host, unsigned short port);

// A UDP port free on host now. "Port 0" cannot be left to the servers' own bind: with
// SO_REUSEADDR set (libcoap always sets it) the kernel's automatic choice may hand out a port
// another process's socket already holds, and the two would then split the traffic. A probe
// socket without reuse options only ever gets a truly free port.
unsigned short pick_free_udp_port(const std::string& host);

// One CoAP-over-UDP endpoint with its own libcoap context. Not thread-safe: one per worker
// thread, used only on that thread (libcoap 4.3.1 has no locking).
class Server {
 public:
  // duplicates: counts retransmissions answered from the exchange cache without reaching the
  // handler; owned by the caller so it outlives the server for late metric scrapes.
  Server(const ServerOptions& options, RequestHandler& handler, metrics::Counter& duplicates);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Readable whenever process() has work (datagrams or libcoap timers); watch it with epoll or
  // an asio descriptor, never read it.
  int event_fd() const;
  // Handles what is ready now, a bounded number of datagrams per call; never blocks. Returns true
  // when work is still pending: call again soon rather than wait for event_fd, because an
  // edge-triggered watcher (Asio's) is not told again about what was already readable.
  bool process();

  // Whether libcoap still holds messages to send, e.g. separate responses queued behind a
  // device's NSTART limit or awaiting its ACK. A worker stopping waits for this to clear.
  bool has_pending_sends() const;

  unsigned short local_port() const;
  std::string local_address() const;  // "127.0.0.1:5683" / "[::]:5683"

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace iot::coap

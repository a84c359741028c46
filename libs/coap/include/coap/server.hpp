#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "coap/message.hpp"
#include "dtls/server_sessions.hpp"
#include "metrics/metrics.hpp"

namespace iot::coap {

// A request the handler answers after handle() returned, e.g. once Elasticsearch has stored its
// events. A confirmable request answered within ServerOptions::empty_ack_delay (or before the end
// of its receive batch, see RequestHandler::end_of_batch) gets the answer piggybacked on its ACK
// like an immediate one. Otherwise it gets an empty ACK, and respond() sends the answer as a
// confirmable separate response (RFC 7252 §5.2.2) carrying the request's token, retransmitted
// until the device acknowledges it. A non-confirmable request gets a non-confirmable answer.
// Retransmissions of the request meanwhile get the empty ACK and never reach the handler.
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
  // Called after the requests of one receive batch were handled and before their answers are
  // sent: work collected over the batch (one write for all its events) is done here, and
  // exchanges deferred in the batch that are answered now still go out piggybacked.
  virtual void end_of_batch() {}
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
  int receive_buffer_bytes = 4 << 20;  // bursts overflow the default 212 KB and become timeouts
  // Longer datagrams are cut here (Request::maybe_truncated). The default is an Ethernet frame's
  // UDP payload; UDP itself allows up to 65,507 bytes (IP fragments them), the most accepted.
  std::size_t max_datagram_bytes = 1472;
  // Retransmission of confirmable separate responses (RFC 7252 §4.8); tests shorten it.
  std::chrono::milliseconds ack_timeout{2000};
  // A deferred confirmable request's empty ACK waits this long (rounded up to 5 ms) in case the
  // answer is ready by then and can ride on the ACK: one datagram instead of three (empty ACK,
  // CON answer, the device's ACK). Well under the devices' ACK_TIMEOUT (2 s by default); a device
  // that retransmits meanwhile gets the empty ACK at once. 0: acknowledge at the end of the batch.
  std::chrono::milliseconds empty_ack_delay{500};
  // Separate responses sent outside process() (e.g. a bulk request's worth at once) are queued
  // and this is called, once per burst, to have Server::flush() run soon on the server's thread
  // (an event loop posts it). Unset: each is sent at once with its own system call.
  std::function<void()> request_flush;

  // Set: the endpoint speaks DTLS 1.2 with pre-shared keys (CoAP over DTLS, RFC 7252 §9) and every
  // request carries its device's authenticated identity (Request::identity).
  struct Dtls {
    std::shared_ptr<const dtls::KeyStore> keys;
    dtls::SessionLimits limits;
  };
  std::optional<Dtls> dtls;

  // Plain UDP only (DTLS peers are authenticated): a response is never larger than the request
  // it answers, so a spoofed source address cannot turn the server into an amplifier. Diagnostic
  // payloads are cut to fit. Requests for these resources are exempt (e.g. "health").
  std::vector<std::string> amplification_exempt_paths;
};

// Throws (one line, e.g. "coap listen 0.0.0.0:5683: Address already in use") when another socket
// holds host:port. Servers bind with SO_REUSEPORT, which would let a second collector share the
// port silently and take part of the traffic: check before binding.
void ensure_udp_port_free(const std::string& host, unsigned short port);

// A UDP port free on host now. "Port 0" cannot be left to the servers' own bind: with
// SO_REUSEPORT set each worker's socket would get a different port. A probe socket without reuse
// options only ever gets a truly free port.
unsigned short pick_free_udp_port(const std::string& host);

// One CoAP-over-UDP endpoint (RFC 7252 §4, with Block1 passed through to the handler). Written
// for throughput: datagrams are received and answered in batches (recvmmsg/sendmmsg), and there
// is no per-peer session state, so ten thousand devices cost no more than one. Deduplicates by
// (peer, message id, token) for EXCHANGE_LIFETIME. Not thread-safe: one per worker thread, used
// only on that thread.
class Server {
 public:
  // duplicates: counts retransmissions answered from the exchange cache without reaching the
  // handler; owned by the caller so it outlives the server for late metric scrapes.
  // dtls_metrics: required with ServerOptions::dtls, owned by the caller like `duplicates`.
  // receive_wait: when set (owned by the caller like `duplicates`), every datagram's time from
  // the kernel's receipt (SO_TIMESTAMPNS, wall clock) to the end of the batch that handled it,
  // when the batch's answers have left: how long it queued behind earlier work, plus processing.
  Server(const ServerOptions& options, RequestHandler& handler, metrics::Counter& duplicates,
         dtls::SessionMetrics* dtls_metrics = nullptr,
         metrics::LatencyHistogram* receive_wait = nullptr);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Readable whenever process() has work (datagrams or a retransmission due); watch it with
  // epoll or an asio descriptor, never read it.
  int event_fd() const;
  // Handles what is ready now, at most one batch of datagrams per call; never blocks. Returns
  // true when work is still pending: call again soon rather than wait for event_fd, because an
  // edge-triggered watcher (Asio's) is not told again about what was already readable.
  bool process();

  // Sends the separate responses queued since ServerOptions::request_flush was called.
  void flush();

  // Whether answers are queued or confirmable separate responses still await the device's ACK.
  // A worker stopping waits for this to clear.
  bool has_pending_sends() const;

  unsigned short local_port() const;
  std::string local_address() const;  // "127.0.0.1:5683" / "[::]:5683"

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace iot::coap

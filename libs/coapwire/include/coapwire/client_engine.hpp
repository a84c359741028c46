#pragma once

// ClientEngine: the client side of CoAP over UDP (RFC 7252) for simulating many devices.
//
// Threading: none inside. An engine is used by one thread only (every member function, counters()
// included); run one engine per thread and add up their counters on that thread. Nothing blocks
// except poll(), and nothing takes a lock.
//
// Devices (DeviceSpread::source_ports, the default): every device is its own non-blocking UDP
// socket, connected to the one remote endpoint and bound to an ephemeral local port, so the server
// sees each device as a distinct peer and the kernel drops datagrams from any other address. All
// sockets share one epoll set. With DeviceSpread::loopback_addresses every device has its own
// source address instead, on one shared socket (see there).
//
// Ordering: send() only queues; datagrams leave in poll(). A device's datagrams leave in the
// order they were queued (retransmissions and ACKs join the queue when they are due); devices are
// flushed in the order they first had something queued. A request's retransmission timer starts
// when its datagram actually leaves, not when it is queued. Completions run on the calling thread
// inside poll(), in the order their cause was processed: received datagrams first, then expired
// timers in deadline order. Each request completes exactly once.
//
// Counted (EngineCounters): every datagram sent and received, retransmissions, completions by
// kind, responses that match no request (unmatched) or repeat one already handled (duplicates),
// datagrams that are not CoAP (decode_errors), sends the kernel refused for lack of buffer space
// (would_block: kept and sent when the socket is writable again, never spun on), and errors the
// kernel reports about earlier datagrams (socket_errors, e.g. ICMP port unreachable), and
// requests send() refused because their device had every message id in flight (no_message_id).
//
// Matching (RFC 7252 §4, §5.3.2): ACK and RST by the device's message id; CON and NON responses
// by the device's token. A CON response is acknowledged (again, when repeated); one that matches
// nothing is answered with RST. Every device remembers its last 8 completed exchanges, which is
// how repeats are told from strangers. Errors: ECONNREFUSED on a send (an ICMP error about an
// earlier datagram, now cleared) is counted and the datagram sent again; any other send error
// but EAGAIN/ENOBUFS completes the request with Kind::send_error.
//
// Message ids (RFC 7252 §4.4): a device has 65,536 and gives each request the next one not in
// flight (queued or sent and not completed). A device with all of them in flight (an open loop
// outrunning the server, or answers that never come) cannot send another request until one
// completes: send() refuses it (returns false, counted in no_message_id) rather than reuse an id
// the server may still be answering. Ids are only guarded while in flight, not for the rest of
// EXCHANGE_LIFETIME after completion.
//
// DTLS (coaps, RFC 7252 §9 with a pre-shared key): with EngineOptions::dtls_devices set, every
// device is a DTLS 1.2 client (dtls::ClientChannel). Its handshake starts when it first has a
// request to send (lazily: a huge fleet does not handshake all at once), requests queue until it
// is established, and every CoAP datagram is sealed as it leaves (a request's retransmission
// timer still starts when the sealed datagram leaves) and opened as it arrives. Lost flights are
// retransmitted by DTLS's own timer; a handshake not established within dtls_handshake_timeout
// fails, and the device's queued requests complete with Kind::handshake_failed. A session the
// server closes (close_notify) or that fails is dropped: the device's next datagram starts a new
// handshake.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "coapwire/message.hpp"
#include "coapwire/transmission.hpp"
#include "dtls/client_channel.hpp"

namespace iot::coapwire {

inline constexpr std::size_t kMaxDevices = 50'000;
// Larger datagrams are cut by the kernel and counted as decode errors.
inline constexpr std::size_t kMaxResponseBytes = 2048;

// How the server tells the engine's devices apart.
enum class DeviceSpread : std::uint8_t {
  // Each device is its own socket with its own ephemeral source port: what a fleet behind NAT
  // looks like. Costs a system call per device and datagram when the devices take turns.
  source_ports,
  // Every device shares one socket and its port and has its own loopback source address, set
  // per datagram (IP_PKTINFO): device i sends from loopback_device_address(i). The server still
  // sees `devices` distinct peers, but the engine sends and receives for all of them in batches
  // (sendmmsg/recvmmsg), so 10,000 devices cost the load generator what one does. Datagrams from
  // anyone but the remote are dropped (counted as unmatched). Needs an IPv4 remote in
  // 127.0.0.0/8 (a server on this host) and no DTLS.
  loopback_addresses,
};

// 127.1.0.1 + device, host byte order: the source address of a device under
// DeviceSpread::loopback_addresses.
constexpr std::uint32_t loopback_device_address(std::size_t device) {
  return 0x7F010001u + static_cast<std::uint32_t>(device);
}

struct EngineOptions {
  std::string remote_host = "127.0.0.1";  // IPv4 or IPv6 literal, or a name (getaddrinfo)
  std::uint16_t remote_port = 5683;
  std::size_t devices = 1;  // 1..kMaxDevices
  DeviceSpread spread = DeviceSpread::source_ports;
  TransmissionParameters transmission;
  // SO_SNDBUF / SO_RCVBUF of every socket; 0 keeps the kernel default. Beyond
  // net.core.wmem_max / rmem_max only with CAP_NET_ADMIN (the *BUFFORCE options), else capped.
  int send_buffer_bytes = 0;
  int receive_buffer_bytes = 0;
  std::uint64_t random_seed = 0;  // message ids, tokens, timeouts; 0 draws one from the system
  std::size_t token_bytes = 4;    // 4..8 random bytes per request token

  // DTLS with pre-shared keys: empty for plain UDP; else one entry per device (device i uses
  // entry i), or a single entry every device shares. The keys are secrets: the engine never
  // puts them in an exception or a failure text.
  std::vector<dtls::ClientCredentials> dtls_devices;
  // From the first ClientHello: a handshake not established by then fails (a wrong key makes
  // the server drop our Finished without a word, so only a time limit ends it).
  std::chrono::milliseconds dtls_handshake_timeout{10'000};
};

// A DTLS handshake that ended (EngineOptions::on_handshake).
struct HandshakeEvent {
  std::size_t device = 0;
  bool established = false;                           // false: failed (see `failure`)
  std::chrono::steady_clock::time_point started_at;   // the first ClientHello
  std::chrono::steady_clock::time_point finished_at;  // established or given up
  std::string_view failure;                           // valid during the call
};

struct Request {
  MessageType type = MessageType::confirmable;  // confirmable or non_confirmable
  Code method = codes::kGet;                    // a request code (class 0, detail 1..31)
  std::string_view path;                        // "events" or "a/b": one Uri-Path per segment
  std::string_view query;                       // "a=1&b": one Uri-Query per argument
  std::optional<std::uint16_t> content_format;
  std::optional<std::uint16_t> accept;
  std::optional<BlockOption> block1;  // RFC 7959 uploads; the caller sends block after block
  std::optional<std::uint32_t> size1;
  std::span<const std::uint8_t> payload;  // copied by send()
};

struct Result {
  enum class Kind : std::uint8_t {
    response,    // a response arrived (any code)
    timeout,     // CON: no ACK after max_retransmit retransmissions; or no response within the
                 // exchange timeout after an empty ACK or for a NON request
    reset,       // the server answered our message id with RST
    send_error,  // the kernel refused the datagram for good (see `error`)
    handshake_failed,  // DTLS: the device's handshake failed or timed out (see `reason`)
  };
  Kind kind = Kind::response;
  Code code;  // the response code (response only)
  // ACK when piggybacked, CON/NON when separate, RST for Kind::reset; ACK otherwise.
  MessageType response_type = MessageType::acknowledgement;
  std::uint16_t message_id = 0;          // of the request
  std::string_view payload;              // of the response; valid only during the call
  std::optional<std::uint32_t> max_age;  // seconds, when the response carries Max-Age
  std::optional<std::uint32_t> content_format;
  unsigned retransmissions = 0;  // of the request
  bool separate = false;         // a CON request answered in a separate CON/NON response
  int error = 0;                 // errno of a send_error
  // handshake_failed: "dtls handshake failed: ..." (never a key). Valid during the call.
  std::string_view reason;
  // The response with all its options; nullptr unless kind == response. Valid during the call.
  const Message* response = nullptr;
  std::chrono::steady_clock::time_point first_sent_at;  // {} if the request never left
  // The clock as poll() last read it: when it woke up for the datagram or timer that completed
  // the request (one clock read per wake-up, not one per datagram).
  std::chrono::steady_clock::time_point completed_at;
};

// Called once per request, on the engine's thread, inside poll(). It may call send() (the usual
// way to keep a device busy) but not poll(). A callable of at most two pointers' size avoids an
// allocation per request.
using Completion = std::function<void(const Result&)>;

struct EngineCounters {
  std::uint64_t requests = 0;         // requests sent for the first time
  std::uint64_t retransmissions = 0;  // copies of confirmable requests sent again
  std::uint64_t datagrams_sent = 0;   // requests, retransmissions, ACKs and RSTs
  std::uint64_t acks_sent = 0;        // empty ACKs for confirmable separate responses
  std::uint64_t resets_sent = 0;      // RSTs for confirmable messages that match no request
  std::uint64_t datagrams_received = 0;
  std::uint64_t responses = 0;  // completions by kind
  std::uint64_t timeouts = 0;
  std::uint64_t resets = 0;
  std::uint64_t send_errors = 0;
  std::uint64_t unmatched = 0;      // response, ACK or RST for no request in flight: ignored
  std::uint64_t duplicates = 0;     // repeated ACK or response of a known exchange: ignored
  std::uint64_t decode_errors = 0;  // datagrams that are not valid CoAP, or cut at 2048 bytes
  std::uint64_t would_block = 0;    // EAGAIN/ENOBUFS on send: kept, sent later
  std::uint64_t socket_errors = 0;  // errors about earlier datagrams (ECONNREFUSED ...)
  std::uint64_t no_message_id = 0;  // requests refused by send(): every id of the device in flight
  // DTLS only.
  std::uint64_t handshake_failures = 0;       // requests completed with Kind::handshake_failed
  std::uint64_t dtls_handshakes_started = 0;  // ClientHellos of new handshakes
  std::uint64_t dtls_handshakes_established = 0;
  std::uint64_t dtls_handshakes_failed = 0;  // failed or timed out
  std::uint64_t dtls_sessions_closed = 0;    // close_notify from the server, or a failed session
  std::uint64_t dtls_close_notify_sent = 0;  // sessions ended by close_sessions()
  std::uint64_t dtls_handshake_nanoseconds = 0;  // summed over established handshakes
  // This thread's CPU time spent in handshakes (every ClientHello, flight and timer until
  // established or failed), all handshakes together: the client's cost of a handshake.
  std::uint64_t dtls_handshake_cpu_nanoseconds = 0;
};

// Called on the engine's thread inside poll() when a handshake ends; must not call the engine.
using HandshakeObserver = std::function<void(const HandshakeEvent&)>;

class ClientEngine {
 public:
  // Resolves the remote, raises RLIMIT_NOFILE's soft limit towards the hard limit when the
  // devices need it, and opens every socket. Throws std::invalid_argument for bad options and
  // std::runtime_error when the host does not resolve or the sockets cannot be had (the message
  // says how many descriptors or ports are needed).
  explicit ClientEngine(EngineOptions options, HandshakeObserver on_handshake = {});
  ~ClientEngine();  // closes every socket; requests in flight are dropped without completion
  ClientEngine(ClientEngine&&) noexcept;
  ClientEngine& operator=(ClientEngine&&) noexcept;
  ClientEngine(const ClientEngine&) = delete;
  ClientEngine& operator=(const ClientEngine&) = delete;

  // Queues a request from `device` (< device_count()) and returns true. Each request gets the
  // device's next free message id (from a random start) and a random token unique among the
  // device's requests in flight. Returns false, and does nothing but count it in
  // counters().no_message_id, when all 65,536 message ids of the device are in flight: the request
  // is not sent and `completion` is dropped without being called (a load generator counts it as
  // not sent and goes on; the device can send again once one of its requests completes). Throws
  // std::out_of_range for a bad device, std::invalid_argument for a bad request (not CON/NON, not
  // a method, an option the wire cannot carry).
  bool send(std::size_t device, const Request& request, Completion completion);

  // Sends what is queued, waits for datagrams until `deadline` or until at least one request
  // has completed, processes everything ready without waiting further, fires due timers and runs
  // the completions. Returns the number of requests completed. A deadline in the past makes one
  // pass that does not wait. Throws std::logic_error when called from a completion.
  std::size_t poll(std::chrono::steady_clock::time_point deadline);

  // DTLS: starts the handshake of every device without a session, as its first request would;
  // poll() carries them on, and counters() tells when they have ended (established + failed).
  // Returns how many started; 0 over plain UDP. A load generator measuring established sessions
  // calls it before its clock starts.
  std::size_t start_handshakes();

  // DTLS: ends every established session with close_notify, so the server frees it at once. A
  // load run calls it at its end: otherwise each of its devices holds a place in the server's
  // session table (where real devices idle the longest get evicted first) until the server's
  // idle timeout. Requests still in flight then complete only by timing out; a later request
  // handshakes again. Nothing over plain UDP.
  void close_sessions();

  std::size_t in_flight() const;  // requests sent or queued and not yet completed
  std::size_t device_count() const;
  // The device's source port (with DeviceSpread::loopback_addresses, every device's).
  std::uint16_t local_port(std::size_t device) const;
  EngineCounters counters() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace iot::coapwire

#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dtls/psk_keys.hpp"
#include "metrics/metrics.hpp"

namespace iot::dtls {

// The devices' keys, shared by every worker and replaced whole when the file is re-read.
// Thread-safe. Sessions established with a key that a later replace() drops or changes are closed
// at their next record; the others continue.
class KeyStore {
 public:
  explicit KeyStore(PskKeys keys);
  std::shared_ptr<const PskKeys> current() const;
  void replace(PskKeys keys);
  // Bumped by every replace(): a session re-checks its key only when this moved.
  std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const PskKeys> keys_;
  std::atomic<std::uint64_t> generation_{0};
};

// About 50 KiB of memory per session (OpenSSL's DTLS state, mostly its 17 KiB record buffer).
struct SessionLimits {
  // Established sessions per worker. When a handshake completes with the table full, the session
  // idle the longest is closed (close_notify; that device handshakes again when it next sends):
  // only a device that proved its key can displace another.
  std::size_t max_sessions = 2'000;
  // Unfinished handshakes per worker (their peers returned a cookie but proved no key yet). Beyond
  // it a ClientHello is dropped and its device retries (DTLS retransmits it after a second): a
  // crowd of devices starting at once is admitted in turn rather than pushing each other out.
  std::size_t max_handshakes = 256;
  std::chrono::seconds idle_timeout{300};  // no record from the device for this long: closed
  std::chrono::seconds handshake_timeout{10};
  std::size_t mtu = 1400;  // handshake flights and records are cut to datagrams of this size
};

// Counted per worker; read by the admin thread.
struct SessionMetrics {
  metrics::Counter hello_verify_requests;  // cookies sent to ClientHellos without a valid one
  metrics::Counter sessions_opened;        // ClientHellos with a valid cookie: handshakes begun
  metrics::Counter handshakes_completed;
  metrics::Counter handshakes_failed;    // unknown identity, wrong key, bad messages
  metrics::Counter sessions_closed;      // every end: idle, revoked, closed by the device, failed
  metrics::Counter sessions_evicted;     // idle the longest, closed for a newly authenticated one
  metrics::Counter handshakes_deferred;  // ClientHellos dropped: max_handshakes in progress
  metrics::Counter sessions_revoked;     // key removed or changed by a reload
  metrics::Counter records_dropped;      // not for any session, or not decryptable
};

// DTLS 1.2 with pre-shared keys (RFC 6347, RFC 4279; the PSK suites of RFC 7252 §9.1.3.1) on the
// server side of one UDP socket, over memory BIOs so the owner keeps doing the socket I/O in
// batches. A new peer must first return a stateless cookie (HelloVerifyRequest, smaller than its
// ClientHello) before any session state exists, so spoofed source addresses cost one HMAC and
// never a session. Not thread-safe: one per worker.
//
// Peers are named by opaque address bytes (the owner's PeerAddress); plaintext goes in and out
// through a Transport the owner implements for the duration of each call.
class ServerSessions {
 public:
  using Clock = std::chrono::steady_clock;

  class Transport {
   public:
    virtual ~Transport() = default;
    // A datagram (handshake flight, alert, HelloVerifyRequest) for `peer`.
    virtual void send(std::string_view peer, std::span<const std::uint8_t> datagram) = 0;
    // A decrypted datagram from `peer`, authenticated as `identity` (valid during the call).
    virtual void deliver(std::string_view peer, std::span<const std::uint8_t> plaintext,
                         std::string_view identity) = 0;
  };

  ServerSessions(std::shared_ptr<const KeyStore> keys, SessionLimits limits,
                 SessionMetrics& metrics);
  ~ServerSessions();
  ServerSessions(const ServerSessions&) = delete;
  ServerSessions& operator=(const ServerSessions&) = delete;

  void receive(std::string_view peer, std::span<const std::uint8_t> datagram, Clock::time_point now,
               Transport& transport);
  // Encrypts `plaintext` for the established session of `peer` into `out` (one datagram); false
  // when there is none (closed meanwhile): the datagram is then not sent.
  bool seal(std::string_view peer, std::span<const std::uint8_t> plaintext,
            std::vector<std::uint8_t>& out);
  // Closes sessions idle or handshaking too long (telling established ones with close_notify).
  void expire(Clock::time_point now, Transport& transport);
  // When expire() next has something to do; nullopt without sessions.
  std::optional<Clock::time_point> next_expiry() const;

  std::size_t size() const;
  std::size_t established() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace iot::dtls

#include "dtls/server_sessions.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <list>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <unordered_map>

#include "logging/log.hpp"
#include "openssl_handles.hpp"

namespace iot::dtls {
namespace {

using detail::SslPtr;

constexpr std::uint8_t kContentHandshake = 22;
constexpr std::uint8_t kHandshakeClientHello = 1;
constexpr std::size_t kCookieBytes = 32;           // HMAC-SHA-256 of the peer's address
constexpr std::size_t kMaxRecordPlaintext = 1024;  // the largest answer sent in one record

// A ClientHello in epoch 0: the start of a new handshake, also from a peer that has a session (a
// device that rebooted and kept its source port, RFC 6347 §4.2.8).
bool is_client_hello(std::span<const std::uint8_t> datagram) {
  return datagram.size() > detail::kRecordHeaderBytes && datagram[0] == kContentHandshake &&
         datagram[3] == 0 && datagram[4] == 0 &&
         datagram[detail::kRecordHeaderBytes] == kHandshakeClientHello;
}

}  // namespace

KeyStore::KeyStore(PskKeys keys) : keys_(std::make_shared<const PskKeys>(std::move(keys))) {}

std::shared_ptr<const PskKeys> KeyStore::current() const {
  const std::lock_guard lock(mutex_);
  return keys_;
}

void KeyStore::replace(PskKeys keys) {
  auto fresh = std::make_shared<const PskKeys>(std::move(keys));
  {
    const std::lock_guard lock(mutex_);
    keys_ = std::move(fresh);
  }
  generation_.fetch_add(1, std::memory_order_acq_rel);
}

struct Session {
  SslPtr ssl;
  BIO* in = nullptr;
  BIO* out = nullptr;
  std::string peer;
  bool established = false;
  std::string identity;           // once established
  std::vector<std::uint8_t> key;  // the key it was established with (for reload checks)
  std::uint64_t key_generation = 0;
  std::size_t shortest_record = 0;  // protected, with the session's cipher (once established)
  ServerSessions::Clock::time_point last_active;
  // In Impl::handshaking (by start) or Impl::established (least recently active first).
  std::list<Session*>::iterator position;
};

struct ServerSessions::Impl {
  Impl(std::shared_ptr<const KeyStore> keys, SessionLimits limits, SessionMetrics& metrics)
      : keys(std::move(keys)), limits(limits), metrics(metrics), client_address(BIO_ADDR_new()) {
    if (RAND_bytes(cookie_secret.data(), static_cast<int>(cookie_secret.size())) != 1) {
      throw std::runtime_error("dtls: no random bytes for the cookie secret");
    }
    context.reset(SSL_CTX_new(DTLS_server_method()));
    if (!context || !client_address) throw std::runtime_error("dtls: " + detail::take_error_text());
    SSL_CTX* ctx = context.get();
    SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_COOKIE_EXCHANGE);
    // Memory per session (~50 KiB, measured): the write buffer is sized by the largest record,
    // and answers are small; the 17 KiB read buffer stays (SSL_MODE_RELEASE_BUFFERS does nothing
    // for DTLS, and SSL_free_buffers on a DTLS session crashed in OpenSSL 3.0).
    SSL_CTX_set_max_send_fragment(ctx, kMaxRecordPlaintext);
    // No resumption is offered (no tickets, no cache): a PSK handshake costs no public-key
    // operation, and a cache would hold one more object per device.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (SSL_CTX_set_cipher_list(ctx, detail::kPskCipherList) != 1) {
      throw std::runtime_error("dtls: PSK cipher suites unavailable: " + detail::take_error_text());
    }
    SSL_CTX_set_app_data(ctx, this);
    SSL_CTX_set_psk_server_callback(ctx, &Impl::find_key);
    SSL_CTX_set_cookie_generate_cb(ctx, &Impl::generate_cookie);
    SSL_CTX_set_cookie_verify_cb(ctx, &Impl::verify_cookie);
    new_listener();
  }

  ~Impl() {
    for (auto& [peer, session] : sessions) session->ssl.reset();
  }

  // ---- OpenSSL callbacks (on this worker's thread, inside the calls below) ----

  static Impl& of(SSL* ssl) {
    return *static_cast<Impl*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  }

  static unsigned int find_key(SSL* ssl, const char* identity, unsigned char* psk,
                               unsigned int max_psk_len) {
    Impl& self = of(ssl);
    auto* session = static_cast<Session*>(SSL_get_app_data(ssl));
    if (session == nullptr || identity == nullptr) return 0;
    const std::uint64_t generation = self.keys->generation();
    const auto keys = self.keys->current();
    const auto key = keys->find(identity);
    // 0: "unknown identity", the handshake ends with an alert.
    if (!key || key->size() > max_psk_len) return 0;
    std::memcpy(psk, key->data(), key->size());
    session->identity = identity;
    session->key.assign(key->begin(), key->end());
    session->key_generation = generation;
    return static_cast<unsigned int>(key->size());
  }

  std::array<std::uint8_t, kCookieBytes> cookie_for(std::string_view peer) const {
    std::array<std::uint8_t, kCookieBytes> cookie{};
    unsigned int length = 0;
    HMAC(EVP_sha256(), cookie_secret.data(), static_cast<int>(cookie_secret.size()),
         reinterpret_cast<const unsigned char*>(peer.data()), peer.size(), cookie.data(), &length);
    return cookie;
  }

  static int generate_cookie(SSL* ssl, unsigned char* cookie, unsigned int* length) {
    const auto value = of(ssl).cookie_for(of(ssl).current_peer);
    std::memcpy(cookie, value.data(), value.size());
    *length = static_cast<unsigned int>(value.size());
    return 1;
  }

  static int verify_cookie(SSL* ssl, const unsigned char* cookie, unsigned int length) {
    const auto expected = of(ssl).cookie_for(of(ssl).current_peer);
    return length == expected.size() && CRYPTO_memcmp(cookie, expected.data(), length) == 0 ? 1 : 0;
  }

  // ---- sessions ----

  void new_listener() {
    listener.reset(SSL_new(context.get()));
    if (!listener) throw std::runtime_error("dtls: " + detail::take_error_text());
    const auto bios = detail::attach_memory_bios(listener.get());
    listener_in = bios.in;
    listener_out = bios.out;
    SSL_set_mtu(listener.get(), static_cast<long>(limits.mtu));
    SSL_set_accept_state(listener.get());
  }

  void send_output(const Session& session, BIO* out, Transport& transport) {
    detail::drain_records(out, scratch, limits.mtu, [&](std::span<const std::uint8_t> datagram) {
      transport.send(session.peer, datagram);
    });
  }

  // A ClientHello from `peer`: answered with a cookie unless it carries a valid one, in which case
  // the handshake becomes a session. Stateless until then.
  void listen(std::string_view peer, std::span<const std::uint8_t> datagram, Clock::time_point now,
              Transport& transport) {
    current_peer = peer;
    BIO_write(listener_in, datagram.data(), static_cast<int>(datagram.size()));
    const int listened = DTLSv1_listen(listener.get(), client_address.get());
    if (BIO_ctrl_pending(listener_out) > 0) {
      metrics.hello_verify_requests.add();
      detail::drain_records(listener_out, scratch, limits.mtu,
                            [&](std::span<const std::uint8_t> out) { transport.send(peer, out); });
    }
    if (listened <= 0) {
      (void)BIO_reset(listener_in);
      detail::take_error_text();
      if (listened < 0) new_listener();  // a fatal error leaves it unusable
      return;
    }
    if (handshaking.size() >= std::max<std::size_t>(limits.max_handshakes, 1)) {
      metrics.handshakes_deferred.add();
      new_listener();  // this one holds the dropped ClientHello
      return;
    }
    // A verified address: this peer's old session (if any) ends.
    close(std::string(peer), transport, false);

    metrics.sessions_opened.add();
    auto session = std::make_unique<Session>();
    session->ssl = std::move(listener);
    session->in = listener_in;
    session->out = listener_out;
    session->peer = std::string(peer);
    session->last_active = now;
    SSL_set_app_data(session->ssl.get(), session.get());
    handshaking.push_back(session.get());
    session->position = std::prev(handshaking.end());
    Session& added = *session;
    sessions.emplace(added.peer, std::move(session));
    new_listener();
    advance(added, now, transport);
  }

  // Runs the session on what its input holds: the handshake, then application records.
  void advance(Session& session, Clock::time_point now, Transport& transport) {
    current_peer = session.peer;
    if (!session.established) {
      const int done = SSL_do_handshake(session.ssl.get());
      if (done != 1) {
        const int error = SSL_get_error(session.ssl.get(), done);
        send_output(session, session.out, transport);
        if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) {
          metrics.handshakes_failed.add();
          logging::debug("dtls handshake failed", {{"device", printable(session.peer)},
                                                   {"identity", session.identity},
                                                   {"error", detail::take_error_text()}});
          close(session.peer, transport, false);
        }
        return;
      }
      session.established = true;
      session.shortest_record = detail::shortest_protected_record(session.ssl.get());
      metrics.handshakes_completed.add();
      if (established_order.size() >= std::max<std::size_t>(limits.max_sessions, 1)) {
        metrics.sessions_evicted.add();
        close(established_order.front()->peer, transport, true);
      }
      handshaking.erase(session.position);
      established_order.push_back(&session);
      session.position = std::prev(established_order.end());
    }
    touch(session, now);
    while (true) {
      const int n =
          SSL_read(session.ssl.get(), plaintext.data(), static_cast<int>(plaintext.size()));
      if (n > 0) {
        transport.deliver(
            session.peer,
            std::span<const std::uint8_t>(plaintext.data(), static_cast<std::size_t>(n)),
            session.identity);
        continue;
      }
      const int error = SSL_get_error(session.ssl.get(), n);
      send_output(session, session.out, transport);
      if (error == SSL_ERROR_WANT_READ) return;
      // close_notify from the device, or a fatal alert / protocol error.
      detail::take_error_text();
      close(session.peer, transport, false);
      return;
    }
  }

  void touch(Session& session, Clock::time_point now) {
    session.last_active = now;
    established_order.splice(established_order.end(), established_order, session.position);
  }

  // Whether the key the session was made with is still the identity's key.
  bool still_valid(Session& session) {
    const std::uint64_t generation = keys->generation();
    if (generation == session.key_generation) return true;
    const auto keys_now = keys->current();
    const auto key = keys_now->find(session.identity);
    if (!key || !std::equal(key->begin(), key->end(), session.key.begin(), session.key.end())) {
      return false;
    }
    session.key_generation = generation;
    return true;
  }

  void close(const std::string& peer, Transport& transport, bool notify) {
    const auto found = sessions.find(peer);
    if (found == sessions.end()) return;
    Session& session = *found->second;
    if (notify && session.established) {
      SSL_shutdown(session.ssl.get());  // queues close_notify
      send_output(session, session.out, transport);
    }
    detail::take_error_text();
    (session.established ? established_order : handshaking).erase(session.position);
    metrics.sessions_closed.add();
    sessions.erase(found);
  }

  static std::string printable(std::string_view peer_bytes) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string text;
    for (const char c : peer_bytes) {
      text.push_back(kHex[static_cast<std::uint8_t>(c) >> 4]);
      text.push_back(kHex[static_cast<std::uint8_t>(c) & 15]);
    }
    return text;
  }

  std::shared_ptr<const KeyStore> keys;
  SessionLimits limits;
  SessionMetrics& metrics;
  detail::SslCtxPtr context;
  SslPtr listener;  // answers cookies; becomes a session once a ClientHello returns one
  BIO* listener_in = nullptr;
  BIO* listener_out = nullptr;
  detail::BioAddrPtr client_address;
  std::array<std::uint8_t, 32> cookie_secret{};
  std::string_view current_peer;  // for the cookie callbacks

  std::unordered_map<std::string, std::unique_ptr<Session>> sessions;  // by peer
  std::list<Session*> handshaking;                                     // oldest first
  std::list<Session*> established_order;  // least recently active first
  std::vector<std::uint8_t> scratch;
  std::array<std::uint8_t, 65536> plaintext{};
};

ServerSessions::ServerSessions(std::shared_ptr<const KeyStore> keys, SessionLimits limits,
                               SessionMetrics& metrics)
    : impl_(std::make_unique<Impl>(std::move(keys), limits, metrics)) {}

ServerSessions::~ServerSessions() = default;

void ServerSessions::receive(std::string_view peer, std::span<const std::uint8_t> datagram,
                             Clock::time_point now, Transport& transport) {
  Impl& self = *impl_;
  if (datagram.size() < detail::kRecordHeaderBytes) {
    self.metrics.records_dropped.add();
    return;
  }
  const auto found = self.sessions.find(std::string(peer));
  if (found == self.sessions.end() || (found->second->established && is_client_hello(datagram))) {
    if (is_client_hello(datagram)) {
      self.listen(peer, datagram, now, transport);
    } else {
      self.metrics.records_dropped.add();  // e.g. records of a session this worker closed
    }
    return;
  }
  Session& session = *found->second;
  if (session.established && !self.still_valid(session)) {
    self.metrics.sessions_revoked.add();
    logging::info("dtls session closed: its key was removed or changed",
                  {{"identity", session.identity}});
    self.close(session.peer, transport, true);
    return;
  }
  if (session.established && detail::has_impossible_record(datagram, session.shortest_record)) {
    self.metrics.records_dropped.add();
    return;
  }
  BIO_write(session.in, datagram.data(), static_cast<int>(datagram.size()));
  self.advance(session, now, transport);
}

bool ServerSessions::seal(std::string_view peer, std::span<const std::uint8_t> plaintext,
                          std::vector<std::uint8_t>& out) {
  const auto found = impl_->sessions.find(std::string(peer));
  if (found == impl_->sessions.end() || !found->second->established) return false;
  // Beyond one record the device would read two datagrams; CoAP answers are far smaller.
  if (plaintext.size() > kMaxRecordPlaintext) return false;
  Session& session = *found->second;
  return detail::seal_record(session.ssl.get(), session.out, plaintext, out);
}

void ServerSessions::expire(Clock::time_point now, Transport& transport) {
  Impl& self = *impl_;
  while (!self.handshaking.empty() &&
         self.handshaking.front()->last_active + self.limits.handshake_timeout <= now) {
    self.metrics.handshakes_failed.add();
    self.close(self.handshaking.front()->peer, transport, false);
  }
  while (!self.established_order.empty() &&
         self.established_order.front()->last_active + self.limits.idle_timeout <= now) {
    self.close(self.established_order.front()->peer, transport, true);
  }
}

std::optional<ServerSessions::Clock::time_point> ServerSessions::next_expiry() const {
  std::optional<Clock::time_point> next;
  if (!impl_->handshaking.empty()) {
    next = impl_->handshaking.front()->last_active + impl_->limits.handshake_timeout;
  }
  if (!impl_->established_order.empty()) {
    const auto idle = impl_->established_order.front()->last_active + impl_->limits.idle_timeout;
    if (!next || idle < *next) next = idle;
  }
  return next;
}

std::size_t ServerSessions::size() const {
  return impl_->sessions.size();
}

std::size_t ServerSessions::established() const {
  return impl_->established_order.size();
}

}  // namespace iot::dtls

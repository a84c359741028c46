#include "dtls/client_channel.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <stdexcept>

#include "openssl_handles.hpp"

namespace iot::dtls {

struct ClientContext::Impl {
  detail::SslCtxPtr context;
};

namespace {

unsigned int give_credentials(SSL* ssl, const char* /*hint*/, char* identity,
                              unsigned int max_identity_len, unsigned char* psk,
                              unsigned int max_psk_len);

}  // namespace

ClientContext::ClientContext() : impl_(std::make_unique<Impl>()) {
  impl_->context.reset(SSL_CTX_new(DTLS_client_method()));
  SSL_CTX* ctx = impl_->context.get();
  if (ctx == nullptr) throw std::runtime_error("dtls: " + detail::take_error_text());
  SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_set_cipher_list(ctx, detail::kPskCipherList) != 1) {
    throw std::runtime_error("dtls: PSK cipher suites unavailable: " + detail::take_error_text());
  }
  SSL_CTX_set_psk_client_callback(ctx, &give_credentials);
}

ClientContext::~ClientContext() = default;

struct ClientChannel::Impl {
  std::shared_ptr<const ClientContext> context;
  ClientCredentials credentials;
  std::size_t mtu;
  detail::SslPtr ssl;
  BIO* in = nullptr;
  BIO* out = nullptr;
  State state = State::idle;
  std::size_t shortest_record = 0;  // protected, with the session's cipher (once established)
  std::string failure;
  std::vector<std::uint8_t> scratch;
  std::array<std::uint8_t, 4096> plaintext{};

  void flush(Io& io) {
    detail::drain_records(out, scratch, mtu,
                          [&](std::span<const std::uint8_t> datagram) { io.send(datagram); });
  }

  void fail(Io& io, std::string why) {
    flush(io);  // the alert, if any
    state = State::failed;
    failure = std::move(why);
  }

  void step(Io& io) {
    if (state == State::handshaking) {
      const int done = SSL_do_handshake(ssl.get());
      if (done != 1) {
        const int error = SSL_get_error(ssl.get(), done);
        if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
          flush(io);
        } else {
          const std::string text = detail::take_error_text();
          fail(io, text.empty() ? "handshake failed" : text);
        }
        return;
      }
      state = State::established;
      shortest_record = detail::shortest_protected_record(ssl.get());
    }
    while (state == State::established) {
      const int n = SSL_read(ssl.get(), plaintext.data(), static_cast<int>(plaintext.size()));
      if (n > 0) {
        io.deliver(std::span<const std::uint8_t>(plaintext.data(), static_cast<std::size_t>(n)));
        continue;
      }
      const int error = SSL_get_error(ssl.get(), n);
      if (error == SSL_ERROR_WANT_READ) break;
      if (error == SSL_ERROR_ZERO_RETURN) {
        state = State::closed;  // the server's close_notify (idle timeout, key revoked)
        failure = "closed by the server";
      } else {
        const std::string text = detail::take_error_text();
        fail(io, text.empty() ? "session failed" : text);
      }
    }
    flush(io);
  }
};

namespace {

unsigned int give_credentials(SSL* ssl, const char* /*hint*/, char* identity,
                              unsigned int max_identity_len, unsigned char* psk,
                              unsigned int max_psk_len) {
  const auto* channel = static_cast<const ClientChannel::Impl*>(SSL_get_app_data(ssl));
  if (channel == nullptr) return 0;
  const auto& credentials = channel->credentials;
  if (credentials.identity.size() + 1 > max_identity_len || credentials.key.size() > max_psk_len) {
    return 0;
  }
  std::memcpy(identity, credentials.identity.c_str(), credentials.identity.size() + 1);
  std::memcpy(psk, credentials.key.data(), credentials.key.size());
  return static_cast<unsigned int>(credentials.key.size());
}

}  // namespace

ClientChannel::ClientChannel(std::shared_ptr<const ClientContext> context,
                             ClientCredentials credentials, std::size_t mtu)
    : impl_(std::make_unique<Impl>()) {
  impl_->context = std::move(context);
  impl_->credentials = std::move(credentials);
  impl_->mtu = mtu;
}

ClientChannel::~ClientChannel() = default;
ClientChannel::ClientChannel(ClientChannel&&) noexcept = default;
ClientChannel& ClientChannel::operator=(ClientChannel&&) noexcept = default;

void ClientChannel::start(Io& io) {
  Impl& self = *impl_;
  self.ssl.reset(SSL_new(self.context->impl().context.get()));
  if (!self.ssl) throw std::runtime_error("dtls: " + detail::take_error_text());
  const auto bios = detail::attach_memory_bios(self.ssl.get());
  self.in = bios.in;
  self.out = bios.out;
  SSL_set_mtu(self.ssl.get(), static_cast<long>(self.mtu));
  SSL_set_app_data(self.ssl.get(), &self);
  SSL_set_connect_state(self.ssl.get());
  self.state = State::handshaking;
  self.failure.clear();
  self.step(io);
}

void ClientChannel::receive(std::span<const std::uint8_t> datagram, Io& io) {
  Impl& self = *impl_;
  if (self.state != State::handshaking && self.state != State::established) return;
  // A forged record too short for the cipher would end the session on some OpenSSL builds.
  if (self.state == State::established &&
      detail::has_impossible_record(datagram, self.shortest_record)) {
    return;
  }
  BIO_write(self.in, datagram.data(), static_cast<int>(datagram.size()));
  self.step(io);
}

std::optional<ClientChannel::Clock::time_point> ClientChannel::retransmission_due() const {
  if (impl_->state != State::handshaking) return std::nullopt;
  timeval left{};
  if (DTLSv1_get_timeout(impl_->ssl.get(), &left) != 1) return std::nullopt;
  return Clock::now() + std::chrono::seconds(left.tv_sec) + std::chrono::microseconds(left.tv_usec);
}

void ClientChannel::on_timer(Io& io) {
  Impl& self = *impl_;
  if (self.state != State::handshaking) return;
  if (DTLSv1_handle_timeout(self.ssl.get()) < 0) {
    const std::string text = detail::take_error_text();
    self.fail(io, text.empty() ? "handshake timed out" : text);
    return;
  }
  self.flush(io);
}

void ClientChannel::close(Io& io) {
  Impl& self = *impl_;
  if (self.state != State::established) return;
  // The first call only sends our close_notify; the server's answer is not waited for.
  SSL_shutdown(self.ssl.get());
  detail::take_error_text();
  self.flush(io);
  self.state = State::closed;
  self.failure = "closed by the client";
}

bool ClientChannel::seal(std::span<const std::uint8_t> plaintext, std::vector<std::uint8_t>& out) {
  Impl& self = *impl_;
  if (self.state != State::established) return false;
  return detail::seal_record(self.ssl.get(), self.out, plaintext, out);
}

ClientChannel::State ClientChannel::state() const {
  return impl_->state;
}

const std::string& ClientChannel::failure() const {
  return impl_->failure;
}

}  // namespace iot::dtls

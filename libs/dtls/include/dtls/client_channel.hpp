#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace iot::dtls {

struct ClientCredentials {
  std::string identity;
  std::vector<std::uint8_t> key;  // a SECRET
};

// What every client channel of one program shares (the OpenSSL context). Thread-safe to share
// once made; channels themselves are single-threaded.
class ClientContext {
 public:
  ClientContext();
  ~ClientContext();
  ClientContext(const ClientContext&) = delete;
  ClientContext& operator=(const ClientContext&) = delete;

  struct Impl;
  Impl& impl() const { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

// The client side of one DTLS 1.2 PSK association (a device), over memory BIOs: the owner moves
// datagrams between it and its UDP socket. Handshake: start(), then receive() every datagram from
// the server and call on_timer() when retransmission_due() has passed (DTLS retransmits lost
// flights itself, RFC 6347 §4.2.4).
class ClientChannel {
 public:
  using Clock = std::chrono::steady_clock;
  enum class State { idle, handshaking, established, failed, closed };

  class Io {
   public:
    virtual ~Io() = default;
    virtual void send(std::span<const std::uint8_t> datagram) = 0;  // to the server
    virtual void deliver(std::span<const std::uint8_t> plaintext) = 0;
  };

  ClientChannel(std::shared_ptr<const ClientContext> context, ClientCredentials credentials,
                std::size_t mtu = 1400);
  ~ClientChannel();
  ClientChannel(ClientChannel&&) noexcept;
  ClientChannel& operator=(ClientChannel&&) noexcept;

  void start(Io& io);  // sends the ClientHello (again, after failed or closed: a new handshake)
  void receive(std::span<const std::uint8_t> datagram, Io& io);
  std::optional<Clock::time_point> retransmission_due() const;  // while handshaking
  void on_timer(Io& io);
  // Ends an established session with close_notify (RFC 5246 §7.2.1), so the server frees it at
  // once instead of holding it until its idle timeout; closed() afterwards. Nothing otherwise.
  void close(Io& io);
  // Encrypts one datagram's plaintext into `out`; false unless established.
  bool seal(std::span<const std::uint8_t> plaintext, std::vector<std::uint8_t>& out);

  State state() const;
  const std::string& failure() const;  // why state() is failed or closed ("" otherwise)

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace iot::dtls

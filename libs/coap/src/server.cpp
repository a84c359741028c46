#include "coap/server.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <deque>
#include <random>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "coap/exchange_cache.hpp"
#include "coapwire/file_descriptor.hpp"
#include "coapwire/message.hpp"
#include "exchange_key.hpp"
#include "logging/log.hpp"
#include "message_translation.hpp"
#include "outgoing_confirmables.hpp"

namespace iot::coap {
namespace {

using coapwire::FileDescriptor;
using coapwire::MessageType;
using detail::SocketAddress;

// Datagrams taken per receive call and answers sent per send call. Also the bound on one
// process() call, so a flood on one worker cannot starve its timers and the other work on its
// event loop.
constexpr std::size_t kBatch = 64;

PeerAddress peer_of(const SocketAddress& address) {
  PeerAddress peer;
  if (address.storage.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(address.storage);
    peer.bytes[0] = AF_INET;
    std::memcpy(&peer.bytes[1], &in.sin_port, 2);
    std::memcpy(&peer.bytes[3], &in.sin_addr, 4);
    peer.length = 7;
  } else if (address.storage.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(address.storage);
    peer.bytes[0] = AF_INET6;
    std::memcpy(&peer.bytes[1], &in6.sin6_port, 2);
    std::memcpy(&peer.bytes[3], &in6.sin6_addr, 16);
    peer.length = 19;
  }
  return peer;
}

// The inverse of peer_of: where to send a datagram for a peer known by its address bytes.
SocketAddress address_of(std::string_view peer) {
  SocketAddress address;
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(peer.data());
  if (peer.size() == 7 && bytes[0] == AF_INET) {
    auto& in = reinterpret_cast<sockaddr_in&>(address.storage);
    in.sin_family = AF_INET;
    std::memcpy(&in.sin_port, &bytes[1], 2);
    std::memcpy(&in.sin_addr, &bytes[3], 4);
    address.length = sizeof in;
  } else if (peer.size() == 19 && bytes[0] == AF_INET6) {
    auto& in6 = reinterpret_cast<sockaddr_in6&>(address.storage);
    in6.sin6_family = AF_INET6;
    std::memcpy(&in6.sin6_port, &bytes[1], 2);
    std::memcpy(&in6.sin6_addr, &bytes[3], 16);
    address.length = sizeof in6;
  }
  return address;
}

// DTLS adds a record header, an explicit nonce, a MAC or tag and padding (CBC): room for them in
// each receive slot, so a request that fits in max_datagram_bytes still fits once encrypted.
constexpr std::size_t kDtlsRecordOverhead = 128;

// No answer to an unauthenticated request may be larger than the request (amplification): a copy
// of `response` cut to fit, given that it encodes to `encoded` bytes. The diagnostic payload goes
// first; if that is not enough, the options a device can do without.
Response cut_to_fit(const Response& response, std::size_t encoded, std::size_t limit) {
  Response cut = response;
  const std::size_t excess = encoded - limit;
  if (cut.payload.size() > excess) {
    cut.payload.resize(cut.payload.size() - excess);
    return cut;
  }
  cut.payload.clear();
  if (response.payload.size() + 1 >= excess) return cut;  // the payload and its 0xFF marker
  cut.max_age.reset();
  cut.size1.reset();
  cut.content_format.reset();
  return cut;
}

Response unavailable() {
  auto response = Response::text(Code::service_unavailable, "not answered; retry");
  response.max_age = 1;
  return response;
}

SocketAddress resolve(const std::string& host, unsigned short port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  const int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &found);
  if (rc != 0 || found == nullptr) {
    throw std::runtime_error("cannot resolve '" + host + "': " + gai_strerror(rc));
  }
  SocketAddress address;
  address.length = found->ai_addrlen;
  std::memcpy(&address.storage, found->ai_addr, found->ai_addrlen);
  freeaddrinfo(found);
  return address;
}

std::string display_address(const std::string& host, unsigned short port) {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
         std::to_string(port);
}

std::runtime_error listen_error(const std::string& where, int error) {
  return std::runtime_error("coap listen " + where + ": " + std::strerror(error));
}

}  // namespace

void ensure_udp_port_free(const std::string& host, unsigned short port) {
  if (port == 0) return;
  const SocketAddress address = resolve(host, port);
  const FileDescriptor probe(::socket(address.storage.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (probe.get() < 0) return;  // the real bind will report the problem
  if (::bind(probe.get(), address.get(), address.length) != 0 && errno == EADDRINUSE) {
    throw listen_error(display_address(host, port), EADDRINUSE);
  }
}

unsigned short pick_free_udp_port(const std::string& host) {
  const SocketAddress address = resolve(host, 0);
  const std::string where = display_address(host, 0);
  const FileDescriptor probe(::socket(address.storage.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (probe.get() < 0) throw listen_error(where, errno);
  SocketAddress bound;
  bound.length = sizeof bound.storage;
  if (::bind(probe.get(), address.get(), address.length) != 0 ||
      ::getsockname(probe.get(), reinterpret_cast<sockaddr*>(&bound.storage), &bound.length) != 0) {
    throw listen_error(where, errno);
  }
  const PeerAddress peer = peer_of(bound);
  return static_cast<unsigned short>((unsigned{peer.bytes[1]} << 8) | peer.bytes[2]);
}

struct ExchangeOrigin {
  Server::Impl* server;
  const SocketAddress* address;
  const coapwire::Token* token;
  mutable bool deferred = false;
};

struct PendingExchange::State {
  Server::Impl* server;  // nullptr once answered or once the server is gone
  SocketAddress address;
  PeerAddress peer;
  std::uint16_t message_id;
  coapwire::Token token;
  bool confirmable;
  std::optional<BlockOption> block1;  // the last block of an upload: echoed in the answer
  std::size_t answer_limit;           // bytes; see ServerOptions::amplification_exempt_paths
  std::uint64_t serial;               // tells a reused address apart in the delayed-ACK queue
  bool in_open_batch;                 // deferred in the batch being processed
  // A confirmable request's empty ACK went out: the answer must then be a separate CON. Until
  // then the answer is piggybacked on the ACK.
  bool acknowledged = false;
  unsigned copies = 1;  // of the request within its batch: each gets the acknowledgement
};

struct Server::Impl : dtls::ServerSessions::Transport {
  using OutgoingConfirmables = detail::OutgoingConfirmables;
  static constexpr std::size_t kUnlimited = SIZE_MAX;

  Impl(const ServerOptions& options, RequestHandler& handler, metrics::Counter& duplicates,
       dtls::SessionMetrics* dtls_metrics, metrics::LatencyHistogram* receive_wait)
      : handler(handler),
        exchanges(options.exchange_cache_capacity),
        duplicates(duplicates),
        receive_wait(receive_wait),
        outgoing(coapwire::TransmissionParameters{.ack_timeout = options.ack_timeout}),
        paths(options.paths),
        request_flush(options.request_flush),
        empty_ack_delay(options.empty_ack_delay),
        amplification_exempt_paths(options.amplification_exempt_paths),
        next_message_id(static_cast<std::uint16_t>(std::random_device{}())) {
    std::size_t slot = std::clamp<std::size_t>(options.max_datagram_bytes, 4, 65'507);
    if (options.dtls) {
      if (dtls_metrics == nullptr || !options.dtls->keys) {
        throw std::invalid_argument("coap::Server: DTLS needs keys and session metrics");
      }
      sessions.emplace(options.dtls->keys, options.dtls->limits, *dtls_metrics);
      slot = std::min<std::size_t>(slot + kDtlsRecordOverhead, 65'507);
    }
    receive_buffers.resize(kBatch * slot);
    for (std::size_t i = 0; i < kBatch; ++i) {
      receive_vectors[i] = {receive_buffers.data() + i * slot, slot};
      send_buffers[i].reserve(256);
    }
  }

  // ---- receiving ----

  // Takes one batch of datagrams and answers it; true when the batch was full (more may wait).
  bool receive_batch() {
    for (std::size_t i = 0; i < kBatch; ++i) {
      receive_messages[i].msg_hdr = {};
      receive_messages[i].msg_hdr.msg_name = &receive_peers[i].storage;
      receive_messages[i].msg_hdr.msg_namelen = sizeof receive_peers[i].storage;
      receive_messages[i].msg_hdr.msg_iov = &receive_vectors[i];
      receive_messages[i].msg_hdr.msg_iovlen = 1;
      if (receive_wait != nullptr) {
        receive_messages[i].msg_hdr.msg_control = receive_control[i].bytes.data();
        receive_messages[i].msg_hdr.msg_controllen = receive_control[i].bytes.size();
      }
    }
    const int received =
        ::recvmmsg(socket.get(), receive_messages.data(), kBatch, MSG_DONTWAIT, nullptr);
    if (received <= 0) return false;
    batch_open = true;
    const auto now = ExchangeCache::Clock::now();
    received_at = now;
    for (int i = 0; i < received; ++i) {
      receive_peers[i].length = receive_messages[i].msg_hdr.msg_namelen;
      const std::span<const std::uint8_t> datagram(
          static_cast<const std::uint8_t*>(receive_vectors[i].iov_base),
          receive_messages[i].msg_len);
      if (sessions) {
        // A record cut short fails its MAC and is dropped like any forgery.
        sessions->receive(peer_of(receive_peers[i]).view(), datagram, now, *this);
      } else {
        on_datagram(datagram, (receive_messages[i].msg_hdr.msg_flags & MSG_TRUNC) != 0,
                    receive_peers[i], now);
      }
    }
    handler.end_of_batch();
    batch_open = false;
    // Exchanges deferred in this batch and still unanswered: their empty ACKs wait a little in
    // case the answer comes first and can ride on the ACK (RFC 7252 §5.2.2).
    const auto ack_by = tick_after(now + empty_ack_delay);
    for (auto* state : deferred_in_batch) {
      state->in_open_batch = false;
      if (!state->confirmable) continue;
      if (empty_ack_delay.count() == 0) {
        acknowledge(*state);
      } else {
        delayed_acks.push_back(DelayedAck{ack_by, state, state->serial});
        arm_timer(ack_by);
      }
    }
    deferred_in_batch.clear();
    if (sessions) {
      if (const auto due = sessions->next_expiry()) arm_timer(*due);
    }
    flush();
    if (receive_wait != nullptr) observe_receive_waits(received);
    return static_cast<std::size_t>(received) == kBatch;
  }

  // Each datagram of the batch just answered: from the kernel's receive timestamp to now.
  void observe_receive_waits(int received) {
    timespec now{};
    ::clock_gettime(CLOCK_REALTIME, &now);
    const auto nanoseconds = [](const timespec& t) {
      return std::int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec;
    };
    for (int i = 0; i < received; ++i) {
      msghdr& header = receive_messages[i].msg_hdr;
      for (cmsghdr* control = CMSG_FIRSTHDR(&header); control != nullptr;
           control = CMSG_NXTHDR(&header, control)) {
        if (control->cmsg_level != SOL_SOCKET || control->cmsg_type != SCM_TIMESTAMPNS) continue;
        timespec arrived{};
        std::memcpy(&arrived, CMSG_DATA(control), sizeof arrived);
        // The wall clock may have been stepped in between: never a negative wait.
        const std::int64_t waited = nanoseconds(now) - nanoseconds(arrived);
        receive_wait->observe_ns(static_cast<std::uint64_t>(std::max<std::int64_t>(waited, 0)));
        break;
      }
    }
  }

  // ---- DTLS (dtls::ServerSessions::Transport) ----

  // A handshake message, HelloVerifyRequest or alert: sent as it is.
  void send(std::string_view peer, std::span<const std::uint8_t> datagram) override {
    next_send_slot(address_of(peer)).assign(datagram.begin(), datagram.end());
    send_raw[send_count - 1] = true;  // (the slot may follow a flush: it is the last one)
  }

  // A decrypted CoAP datagram from an authenticated device.
  void deliver(std::string_view peer, std::span<const std::uint8_t> plaintext,
               std::string_view identity) override {
    const SocketAddress from = address_of(peer);
    current_identity = identity;
    on_datagram(plaintext, false, from, received_at);
    current_identity = {};
  }

  void on_datagram(std::span<const std::uint8_t> datagram, bool truncated,
                   const SocketAddress& from, ExchangeCache::Clock::time_point now) {
    const auto status = coapwire::decode_into(datagram, incoming);
    if (status != coapwire::DecodeStatus::ok) {
      // A confirmable message we cannot parse is rejected with a Reset (RFC 7252 §4.2) when its
      // header at least is readable; anything else is dropped silently.
      if (datagram.size() >= 4 && (datagram[0] >> 6) == 1 && ((datagram[0] >> 4) & 3) == 0) {
        queue_empty(MessageType::reset,
                    static_cast<std::uint16_t>((datagram[2] << 8) | datagram[3]), from);
      }
      return;
    }
    switch (incoming.type) {
      case MessageType::acknowledgement:
      case MessageType::reset:
        // The device's answer to one of our separate responses (or a stray one: ignored).
        outgoing.settle(peer_of(from), incoming.message_id);
        return;
      case MessageType::confirmable:
      case MessageType::non_confirmable:
        break;
    }
    if (!incoming.code.is_request()) {
      // A ping (Empty CON) or a response sent to a server: Reset for CON, nothing for NON.
      if (incoming.type == MessageType::confirmable) {
        queue_empty(MessageType::reset, incoming.message_id, from);
      }
      return;
    }
    // Over plain UDP nothing proves the source address: answers stay within the request's size.
    answer_limit = sessions ? kUnlimited : datagram.size();
    on_request(truncated, from, now);
  }

  void on_request(bool truncated, const SocketAddress& from, ExchangeCache::Clock::time_point now) {
    const bool confirmable = incoming.type == MessageType::confirmable;
    const PeerAddress peer = peer_of(from);
    const auto token = incoming.token.view();
    if (const auto known = exchanges.find(peer, incoming.message_id, token, now)) {
      duplicates.add();
      if (known->response != nullptr) {
        queue_answer(confirmable, incoming.message_id, incoming.token, *known->response, from);
      } else if (auto* state = pending_exchange(peer, incoming.message_id)) {
        if (state->in_open_batch) {
          // Each copy gets the same acknowledgement (RFC 7252 §4.5), which the batch's end
          // decides: the piggybacked answer or the empty ACK.
          ++state->copies;
        } else if (state->confirmable) {
          // The device retransmits: stop holding the empty ACK back.
          state->copies = 1;
          acknowledge(*state);
        }
      } else if (confirmable) {
        queue_empty(MessageType::acknowledgement, incoming.message_id, from);
      }
      return;
    }

    const ExchangeOrigin origin{this, &from, &incoming.token};
    std::optional<Response> response = route(truncated, peer, origin);
    if (!response && origin.deferred) return;  // defer() made it known as pending
    if (!response) response = Response::text(Code::internal_server_error, "no answer");
    // Retransmissions are answered from the cache with exactly what was sent (cut or not).
    const Response& sent = queue_answer(confirmable, incoming.message_id, incoming.token, *response,
                                        from, answer_limit);
    exchanges.remember(peer, incoming.message_id, token, sent, now);
  }

  PendingExchange::State* pending_exchange(const PeerAddress& peer,
                                           std::uint16_t message_id) const {
    const auto found = pending.find(detail::exchange_key(peer, message_id));
    return found != pending.end() ? found->second : nullptr;
  }

  // The empty ACK of a deferred confirmable request, once per copy received.
  void acknowledge(PendingExchange::State& state) {
    for (unsigned copy = 0; copy < state.copies; ++copy) {
      queue_empty(MessageType::acknowledgement, state.message_id, state.address);
    }
    state.acknowledged = true;
  }

  // The answer to the request in `incoming`: from the protocol checks or from the handler.
  std::optional<Response> route(bool truncated, const PeerAddress& peer,
                                const ExchangeOrigin& origin) {
    Request request;
    if (auto answer = detail::read_request(incoming, paths, path_scratch, request)) return answer;
    if (std::find(amplification_exempt_paths.begin(), amplification_exempt_paths.end(),
                  request.path) != amplification_exempt_paths.end()) {
      answer_limit = kUnlimited;
    }
    request.peer = peer;
    request.identity = current_identity;
    request.maybe_truncated = truncated;
    request.origin = &origin;
    return handler.handle(request);
  }

  // ---- sending ----

  std::vector<std::uint8_t>& next_send_slot(const SocketAddress& to) {
    if (send_count == kBatch) flush();
    send_peers[send_count] = to;
    return send_buffers[send_count++];
  }

  void queue_empty(MessageType type, std::uint16_t message_id, const SocketAddress& to) {
    const auto bytes = coapwire::encode_empty(type, message_id);
    next_send_slot(to).assign(bytes.begin(), bytes.end());
  }

  // A piggybacked answer to a confirmable request (ACK with its message id), or a NON answer.
  // Returns what was sent: `response`, or a copy cut to `limit` bytes (see cut_to_fit).
  const Response& queue_answer(bool confirmable, std::uint16_t message_id,
                               const coapwire::Token& token, const Response& response,
                               const SocketAddress& to, std::size_t limit = kUnlimited) {
    const MessageType type =
        confirmable ? MessageType::acknowledgement : MessageType::non_confirmable;
    const std::uint16_t id = confirmable ? message_id : next_message_id++;
    return encode_within(type, id, token, response, limit, next_send_slot(to));
  }

  // Encodes `response` into `out`, or, when that exceeds `limit` bytes, a copy cut to fit
  // (cut_to_fit). Returns what was encoded: the exchange cache must remember exactly that.
  const Response& encode_within(MessageType type, std::uint16_t id, const coapwire::Token& token,
                                const Response& response, std::size_t limit,
                                std::vector<std::uint8_t>& out) {
    detail::encode_response(type, id, token, response, scratch, out);
    if (out.size() <= limit) return response;
    cut_scratch = cut_to_fit(response, out.size(), limit);
    detail::encode_response(type, id, token, cut_scratch, scratch, out);
    return cut_scratch;
  }

  // Over DTLS every CoAP datagram in the batch is encrypted for its peer's session; one whose
  // session is gone is dropped (the device retransmits after a new handshake).
  void seal_batch() {
    std::size_t kept = 0;
    for (std::size_t i = 0; i < send_count; ++i) {
      if (!send_raw[i]) {
        if (!sessions->seal(peer_of(send_peers[i]).view(), send_buffers[i], sealed_scratch)) {
          continue;
        }
        std::swap(send_buffers[i], sealed_scratch);
      }
      if (kept != i) {
        std::swap(send_buffers[kept], send_buffers[i]);
        send_peers[kept] = send_peers[i];
      }
      ++kept;
    }
    send_raw.fill(false);
    send_count = kept;
  }

  void flush() {
    if (sessions) seal_batch();
    std::size_t sent = 0;
    while (sent < send_count) {
      for (std::size_t i = sent; i < send_count; ++i) {
        send_vectors[i] = {send_buffers[i].data(), send_buffers[i].size()};
        send_messages[i].msg_hdr = {};
        send_messages[i].msg_hdr.msg_name = &send_peers[i].storage;
        send_messages[i].msg_hdr.msg_namelen = send_peers[i].length;
        send_messages[i].msg_hdr.msg_iov = &send_vectors[i];
        send_messages[i].msg_hdr.msg_iovlen = 1;
      }
      const int n = ::sendmmsg(socket.get(), send_messages.data() + sent,
                               static_cast<unsigned>(send_count - sent), MSG_DONTWAIT);
      // A datagram the kernel refuses (full send buffer, unreachable peer) is skipped: the
      // device retransmits and gets the answer from the exchange cache.
      sent += n > 0 ? static_cast<std::size_t>(n) : 1;
    }
    send_count = 0;
  }

  void send_one(const SocketAddress& to, const std::vector<std::uint8_t>& datagram) {
    const std::vector<std::uint8_t>* wire = &datagram;
    if (sessions) {
      if (!sessions->seal(peer_of(to).view(), datagram, sealed_scratch)) return;
      wire = &sealed_scratch;
    }
    ::sendto(socket.get(), wire->data(), wire->size(), MSG_DONTWAIT, to.get(), to.length);
  }

  // A separate response: into the send batch when the owner flushes for us, else at once.
  void send_separate(const SocketAddress& to, const std::vector<std::uint8_t>& datagram) {
    if (!request_flush) {
      send_one(to, datagram);
      return;
    }
    next_send_slot(to) = datagram;
    if (!flush_requested) {
      flush_requested = true;
      request_flush();
    }
  }

  // Answers a deferred exchange: piggybacked on the ACK while the request is not acknowledged yet
  // (or as a NON answer), as a confirmable separate response otherwise.
  void answer_later(PendingExchange::State& state, const Response& response) {
    const Response* answer = &response;
    Response with_block;
    if (state.block1 && !response.block1) {
      // RFC 7959 §2.3: the final answer to a Block1 upload carries the last block's option.
      with_block = response;
      with_block.block1 = BlockOption{state.block1->number, false, state.block1->size_exponent};
      answer = &with_block;
    }
    const std::size_t limit = state.answer_limit;
    if (state.in_open_batch) {
      for (unsigned copy = 0; copy < state.copies; ++copy) {
        answer = &queue_answer(state.confirmable, state.message_id, state.token, *answer,
                               state.address, limit);
      }
      std::erase(deferred_in_batch, &state);
    } else if (state.confirmable && !state.acknowledged) {
      std::vector<std::uint8_t>& datagram = separate_scratch;
      for (unsigned copy = 0; copy < state.copies; ++copy) {
        answer = &encode_within(MessageType::acknowledgement, state.message_id, state.token,
                                *answer, limit, datagram);
        send_separate(state.address, datagram);
      }
    } else if (state.confirmable) {
      const std::uint16_t message_id = next_message_id++;
      std::vector<std::uint8_t> datagram;
      answer = &encode_within(MessageType::confirmable, message_id, state.token, *answer, limit,
                              datagram);
      send_separate(state.address, datagram);
      arm_timer(outgoing.add(state.peer, message_id, state.address, std::move(datagram),
                             OutgoingConfirmables::Clock::now()));
    } else {
      std::vector<std::uint8_t>& datagram = separate_scratch;
      answer = &encode_within(MessageType::non_confirmable, next_message_id++, state.token, *answer,
                              limit, datagram);
      send_separate(state.address, datagram);
    }
    // What went out, cut or not: a retransmission of the request gets exactly that again.
    exchanges.remember(state.peer, state.message_id, state.token.view(), *answer,
                       ExchangeCache::Clock::now());
    forget(state);
  }

  void remember_owed(PendingExchange::State& state) {
    state.serial = next_serial++;
    owed.insert(&state);
    pending.insert_or_assign(detail::exchange_key(state.peer, state.message_id), &state);
  }

  void forget(PendingExchange::State& state) {
    owed.erase(&state);
    const auto found = pending.find(detail::exchange_key(state.peer, state.message_id));
    if (found != pending.end() && found->second == &state) pending.erase(found);
    state.server = nullptr;
  }

  // ---- timer: delayed empty ACKs and retransmissions ----

  // Delayed-ACK deadlines are rounded up to this tick, so the timer fires at most once per tick
  // however many batches wait.
  static constexpr std::chrono::milliseconds kAckTick{5};

  static OutgoingConfirmables::Clock::time_point tick_after(
      OutgoingConfirmables::Clock::time_point t) {
    const auto ticks = (t.time_since_epoch() + kAckTick - std::chrono::nanoseconds(1)) / kAckTick;
    return OutgoingConfirmables::Clock::time_point(
        std::chrono::duration_cast<OutgoingConfirmables::Clock::duration>(ticks * kAckTick));
  }

  void arm_timer(OutgoingConfirmables::Clock::time_point deadline) {
    if (armed && *armed <= deadline) return;
    armed = deadline;
    const auto since_epoch = deadline.time_since_epoch();
    itimerspec spec{};
    spec.it_value.tv_sec = std::chrono::duration_cast<std::chrono::seconds>(since_epoch).count();
    spec.it_value.tv_nsec = (since_epoch % std::chrono::seconds(1)).count();
    if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) spec.it_value.tv_nsec = 1;
    ::timerfd_settime(timer.get(), TFD_TIMER_ABSTIME, &spec, nullptr);
  }

  void run_timers() {
    const auto now = OutgoingConfirmables::Clock::now();
    if (!armed || now < *armed) return;
    std::uint64_t expirations = 0;
    [[maybe_unused]] const auto n = ::read(timer.get(), &expirations, sizeof expirations);
    armed.reset();
    while (!delayed_acks.empty() && delayed_acks.front().deadline <= now) {
      const DelayedAck due = delayed_acks.front();
      delayed_acks.pop_front();
      // Answered meanwhile (piggybacked), or the address now holds another exchange: nothing.
      if (owed.contains(due.state) && due.state->serial == due.serial && !due.state->acknowledged) {
        acknowledge(*due.state);
      }
    }
    flush();
    const std::size_t given_up = outgoing.expire(
        now, [this](const SocketAddress& to, const std::vector<std::uint8_t>& datagram) {
          send_one(to, datagram);
        });
    if (given_up > 0) {
      logging::debug("coap separate responses unacknowledged", {{"given_up", given_up}});
    }
    if (const auto next = outgoing.next_deadline()) arm_timer(*next);
    if (!delayed_acks.empty()) arm_timer(delayed_acks.front().deadline);
    if (sessions) {
      sessions->expire(now, *this);  // close_notify alerts join the send batch
      flush();
      if (const auto due = sessions->next_expiry()) arm_timer(*due);
    }
  }

  RequestHandler& handler;
  ExchangeCache exchanges;
  metrics::Counter& duplicates;
  metrics::LatencyHistogram* receive_wait;  // null: no timestamps asked for
  OutgoingConfirmables outgoing;
  std::vector<std::string> paths;
  std::function<void()> request_flush;
  bool flush_requested = false;
  std::chrono::milliseconds empty_ack_delay;
  std::vector<std::string> amplification_exempt_paths;
  std::uint16_t next_message_id;
  std::optional<dtls::ServerSessions> sessions;  // set for a DTLS endpoint
  std::string_view current_identity;             // of the datagram being handled (DTLS), else empty
  std::size_t answer_limit = kUnlimited;         // of the request being handled
  ExchangeCache::Clock::time_point received_at;  // of the batch being handled

  FileDescriptor socket;
  FileDescriptor timer;
  FileDescriptor epoll;  // the socket and the timer: what event_fd() hands out
  std::optional<OutgoingConfirmables::Clock::time_point> armed;
  unsigned short port = 0;
  std::string address;

  std::unordered_set<PendingExchange::State*> owed;  // every answer still owed
  // The same, by peer and message id, for retransmissions of deferred requests. (Should a
  // restarted device reuse a message id with a new token meanwhile, the newer exchange wins.)
  std::unordered_map<std::string, PendingExchange::State*> pending;
  std::uint64_t next_serial = 0;
  struct DelayedAck {
    OutgoingConfirmables::Clock::time_point deadline;
    PendingExchange::State* state;  // may be gone: checked through `pending` and the serial
    std::uint64_t serial;
  };
  std::deque<DelayedAck> delayed_acks;  // in deadline order (one delay for all)
  // Deferred during the open batch and not answered yet.
  std::vector<PendingExchange::State*> deferred_in_batch;
  bool batch_open = false;

  coapwire::Message incoming;
  coapwire::Message scratch;
  std::vector<std::uint8_t> separate_scratch;
  std::vector<std::uint8_t> sealed_scratch;
  Response cut_scratch;
  std::string path_scratch;

  std::vector<std::uint8_t> receive_buffers;  // kBatch slots of max_datagram_bytes
  std::array<SocketAddress, kBatch> receive_peers{};
  std::array<iovec, kBatch> receive_vectors{};
  std::array<mmsghdr, kBatch> receive_messages{};
  struct alignas(cmsghdr) TimestampControl {  // room for SCM_TIMESTAMPNS
    std::array<std::uint8_t, CMSG_SPACE(sizeof(timespec))> bytes{};
  };
  std::array<TimestampControl, kBatch> receive_control{};  // with receive_wait only
  std::array<std::vector<std::uint8_t>, kBatch> send_buffers{};
  std::array<SocketAddress, kBatch> send_peers{};
  std::array<bool, kBatch> send_raw{};  // DTLS handshake datagrams: not to be sealed
  std::array<iovec, kBatch> send_vectors{};
  std::array<mmsghdr, kBatch> send_messages{};
  std::size_t send_count = 0;
};

namespace {

// The UDP socket, non-blocking, bound to `listen`.
int open_socket(const SocketAddress& listen, const ServerOptions& options,
                const std::string& where) {
  const int fd = ::socket(listen.storage.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw listen_error(where, errno);
  const int on = 1;
  if (options.reuse_port && ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0) {
    const int error = errno;
    ::close(fd);
    throw listen_error(where, error);
  }
  if (options.receive_buffer_bytes > 0) {
    // Capped by net.core.rmem_max; a smaller buffer is not an error, only less burst room.
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &options.receive_buffer_bytes,
                 sizeof options.receive_buffer_bytes);
  }
  if (::bind(fd, listen.get(), listen.length) != 0) {
    const int error = errno;
    ::close(fd);
    throw listen_error(where, error);
  }
  return fd;
}

}  // namespace

Server::Server(const ServerOptions& options, RequestHandler& handler, metrics::Counter& duplicates,
               dtls::SessionMetrics* dtls_metrics, metrics::LatencyHistogram* receive_wait)
    : impl_(std::make_unique<Impl>(options, handler, duplicates, dtls_metrics, receive_wait)) {
  const std::string where = display_address(options.host, options.port);
  const SocketAddress listen = resolve(options.host, options.port);
  impl_->socket = FileDescriptor(open_socket(listen, options, where));
  if (receive_wait != nullptr) {
    // Without it the datagrams carry no timestamp and nothing is observed: not worth failing for.
    const int on = 1;
    ::setsockopt(impl_->socket.get(), SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
  }

  const int timer = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  impl_->timer = FileDescriptor(timer);
  const int epoll = ::epoll_create1(EPOLL_CLOEXEC);
  impl_->epoll = FileDescriptor(epoll);
  if (timer < 0 || epoll < 0) throw listen_error(where, errno);
  for (const int fd : {impl_->socket.get(), timer}) {
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.fd = fd;
    if (::epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) != 0) throw listen_error(where, errno);
  }

  SocketAddress bound;
  bound.length = sizeof bound.storage;
  if (::getsockname(impl_->socket.get(), reinterpret_cast<sockaddr*>(&bound.storage),
                    &bound.length) != 0) {
    throw listen_error(where, errno);
  }
  const PeerAddress local = peer_of(bound);
  impl_->port = static_cast<unsigned short>((unsigned{local.bytes[1]} << 8) | local.bytes[2]);
  impl_->address = local.to_string();
}

Server::~Server() {
  if (!impl_) return;
  // Every owed answer goes out while the socket is still open.
  const std::vector<PendingExchange::State*> owed(impl_->owed.begin(), impl_->owed.end());
  for (auto* state : owed) impl_->answer_later(*state, unavailable());
  impl_->flush();
}

PendingExchange::PendingExchange(std::unique_ptr<State> state) : state_(std::move(state)) {}

PendingExchange::PendingExchange(PendingExchange&& other) noexcept = default;

PendingExchange& PendingExchange::operator=(PendingExchange&& other) noexcept {
  if (this != &other) {
    if (state_ && state_->server != nullptr) state_->server->answer_later(*state_, unavailable());
    state_ = std::move(other.state_);
  }
  return *this;
}

PendingExchange::~PendingExchange() {
  if (state_ && state_->server != nullptr) state_->server->answer_later(*state_, unavailable());
}

void PendingExchange::respond(const Response& response) {
  if (!state_) return;
  const auto state = std::move(state_);
  if (state->server != nullptr) state->server->answer_later(*state, response);
}

PendingExchange defer(const Request& request) {
  if (request.origin == nullptr || request.origin->deferred) {
    throw std::logic_error("coap::defer: only once, inside RequestHandler::handle");
  }
  const ExchangeOrigin& origin = *request.origin;
  origin.deferred = true;
  Server::Impl& server = *origin.server;
  auto state = std::make_unique<PendingExchange::State>(PendingExchange::State{
      &server, *origin.address, request.peer, request.message_id, *origin.token,
      request.confirmable, request.block1, server.answer_limit, 0, server.batch_open});
  server.remember_owed(*state);
  // Known as pending before the handler can answer it (even at once), so the answer completes it.
  server.exchanges.remember_pending(request.peer, request.message_id, origin.token->view(),
                                    ExchangeCache::Clock::now());
  if (server.batch_open) server.deferred_in_batch.push_back(state.get());
  return PendingExchange(std::move(state));
}

int Server::event_fd() const {
  return impl_->epoll.get();
}

bool Server::process() {
  impl_->run_timers();
  return impl_->receive_batch();
}

void Server::flush() {
  impl_->flush_requested = false;
  impl_->flush();
}

bool Server::has_pending_sends() const {
  return !impl_->outgoing.empty() || impl_->send_count > 0;
}

unsigned short Server::local_port() const {
  return impl_->port;
}
std::string Server::local_address() const {
  return impl_->address;
}

}  // namespace iot::coap

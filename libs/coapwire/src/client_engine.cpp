#include "coapwire/client_engine.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "coapwire/file_descriptor.hpp"
#include "deadline_heap.hpp"
#include "device_sockets.hpp"
#include "remote_endpoint.hpp"
#include "slot_index.hpp"

namespace iot::coapwire {
namespace {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

constexpr std::size_t kReceiveBatch = 16;  // datagrams per recvmmsg
constexpr std::size_t kSendBatch = 32;     // datagrams per sendmmsg
constexpr std::size_t kEpollEvents = 256;  // ready sockets handled per wake-up
// ENOBUFS (a full device queue) gives no readiness event to wait for: retry after this pause.
constexpr std::chrono::milliseconds kNoBufferRetry{1};
// A pending socket error is reported once per send; if errors keep arriving, give the datagram
// up as lost (its timer still runs, so a CON is retransmitted) rather than loop.
constexpr int kMaxRefusalsInARow = 4;
// Completed exchanges remembered per device, to tell a repeated ACK or response (the server
// retransmitted, or answered each of our retransmissions) from one that matches nothing.
constexpr std::size_t kRecentPerDevice = 8;
constexpr std::size_t kMessageIds = 65'536;
// Rebuild the timer heap when stale entries outnumber live ones this many times over.
constexpr std::size_t kHeapStaleFactor = 4;
constexpr std::size_t kHeapCompactMinimum = 1024;

enum class ExchangeState : std::uint8_t {
  queued,             // not sent yet
  awaiting_ack,       // CON sent; retransmitted until ACKed
  awaiting_response,  // CON with an empty ACK, or NON sent: waits up to the exchange timeout
};

struct Exchange {
  std::uint64_t serial = 0;  // 0: the slot is free
  std::uint32_t device = 0;
  std::uint16_t message_id = 0;
  MessageType type = MessageType::confirmable;
  ExchangeState state = ExchangeState::queued;
  bool timer_armed = false;
  std::uint32_t timer_arm = 0;  // matches the live heap entry; bumped to cancel it
  Token token;
  RetransmissionTimer retransmission{TransmissionParameters{}, 0.0};
  TimePoint first_sent_at{};
  std::vector<std::uint8_t> datagram;  // kept for retransmissions; capacity reused by the slot
  Completion completion;
};

struct RecentExchange {
  bool used = false;
  std::uint16_t message_id = 0;
  Token token;
};

struct Outgoing {
  enum class Kind : std::uint8_t { request, empty } kind = Kind::request;
  MessageType empty_type = MessageType::acknowledgement;
  std::array<std::uint8_t, 4> empty_bytes{};
  std::uint32_t slot = 0;
  std::uint64_t serial = 0;
};

enum class SendState : std::uint8_t {
  idle,
  pending,            // in pending_devices_
  blocked_writable,   // EAGAIN: waits for EPOLLOUT
  blocked_no_buffer,  // ENOBUFS: in no_buffer_devices_, retried after kNoBufferRetry
};

struct Device {
  FileDescriptor socket;
  // DTLS only: made at the device's first handshake, dropped when one fails (the next starts anew).
  std::unique_ptr<dtls::ClientChannel> channel;
  TimePoint handshake_started_at{};
  TimePoint handshake_deadline{};
  std::uint32_t handshake_arm = 0;  // matches the live entry of handshake_timers_
  std::uint16_t next_message_id = 0;
  std::uint32_t in_flight = 0;  // requests holding one of the device's message ids
  SendState send_state = SendState::idle;
  std::uint8_t recent_next = 0;
  std::vector<Outgoing> outgoing;
  std::uint32_t flushed = 0;  // shared socket: datagrams at the front of `outgoing` already gone
  std::array<RecentExchange, kRecentPerDevice> recent{};
};

std::uint64_t message_id_key(std::uint32_t device, std::uint16_t message_id) {
  return (std::uint64_t{device} << 16) | message_id;
}

// Keys need not be unique per token: send() draws tokens until the key is free, and lookups
// compare the whole token.
std::uint64_t token_key(std::uint32_t device, const Token& token) {
  std::uint32_t hash = 2166136261u;  // FNV-1a
  for (std::size_t i = 0; i < token.length; ++i) hash = (hash ^ token.bytes[i]) * 16777619u;
  return (std::uint64_t{device} << 32) | hash;
}

bool is_would_block(int error) {
  return error == EAGAIN || error == EWOULDBLOCK;
}

std::uint64_t thread_cpu_nanoseconds() {
  timespec now{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<std::uint64_t>(now.tv_sec) * 1'000'000'000u +
         static_cast<std::uint64_t>(now.tv_nsec);
}

}  // namespace

class ClientEngine::Impl {
 public:
  Impl(EngineOptions options, HandshakeObserver on_handshake);

  bool send(std::size_t device, const Request& request, Completion completion);
  std::size_t poll(TimePoint deadline);
  int wait_for_events(Clock::duration wait);

  std::size_t in_flight() const { return in_flight_; }
  std::size_t device_count() const { return devices_.size(); }
  std::uint16_t local_port(std::size_t device) const {
    const Device& state = devices_.at(device);
    return detail::local_port_of(shared() ? shared_socket_.get() : state.socket.get());
  }
  EngineCounters counters() const { return counters_; }
  std::size_t start_handshakes();
  void close_sessions();

 private:
  std::uint16_t allocate_message_id(std::uint32_t device);
  Token allocate_token(std::uint32_t device);
  std::uint32_t allocate_slot();
  void release_slot(std::uint32_t slot);

  void arm_timer(std::uint32_t slot, TimePoint deadline);
  void disarm_timer(std::uint32_t slot);
  bool timer_is_live(const detail::DeadlineHeap::Entry& entry) const;
  void fire_due_timers();

  void queue(std::uint32_t device, const Outgoing& outgoing);
  void queue_request(std::uint32_t slot);
  void queue_empty(std::uint32_t device, MessageType type, std::uint16_t message_id);
  bool is_stale(const Outgoing& outgoing) const;
  void flush();
  void flush_device(std::uint32_t device);
  void on_sent(const Outgoing& outgoing, bool really_sent);
  void block_device(std::uint32_t device, int error);
  void on_writable(std::uint32_t device);

  void on_readable(std::uint32_t device);
  std::optional<std::span<const std::uint8_t>> take_received(int i);
  iovec bytes_of(const Outgoing& outgoing);

  // DeviceSpread::loopback_addresses: one socket for every device.
  bool shared() const { return options_.spread == DeviceSpread::loopback_addresses; }
  void open_shared_socket(const detail::SocketBuffers& buffers);
  void flush_shared();
  void block_shared(int error);
  void on_shared_writable();
  void on_shared_readable();
  std::optional<std::uint32_t> shared_receiver(mmsghdr& header) const;
  void on_datagram(std::uint32_t device, std::span<const std::uint8_t> datagram);
  void on_ack_or_reset(std::uint32_t device, const Message& message);
  void on_server_message(std::uint32_t device, const Message& message);
  std::optional<std::uint32_t> find_by_token(std::uint32_t device, const Token& token) const;
  const RecentExchange* recent_by_token(std::uint32_t device, const Token& token) const;
  const RecentExchange* recent_by_message_id(std::uint32_t device, std::uint16_t id) const;

  // DTLS.
  class ChannelIo;
  bool dtls() const { return dtls_context_ != nullptr; }
  bool established(const Device& device) const {
    return device.channel && device.channel->state() == dtls::ClientChannel::State::established;
  }
  void start_handshake(std::uint32_t device);
  void on_dtls_datagram(std::uint32_t device, std::span<const std::uint8_t> datagram);
  void after_channel_step(std::uint32_t device, dtls::ClientChannel::State before);
  void arm_handshake_timer(std::uint32_t device);
  void fire_handshake_timers();
  void fail_handshake(std::uint32_t device, std::string reason);
  void send_handshake_datagram(std::uint32_t device, std::span<const std::uint8_t> datagram);

  void complete_response(std::uint32_t slot, const Message& response, bool separate);
  void complete_without_response(std::uint32_t slot, Result::Kind kind, int error = 0);
  void finish(std::uint32_t slot);

  EngineOptions options_;
  HandshakeObserver on_handshake_;
  std::chrono::milliseconds exchange_timeout_{};
  std::shared_ptr<const dtls::ClientContext> dtls_context_;   // null: plain UDP
  detail::DeadlineHeap handshake_timers_;                     // slot = device
  std::array<std::vector<std::uint8_t>, kSendBatch> sealed_;  // this batch's DTLS records
  std::string handshake_failure_;                             // Result::reason points here
  detail::RemoteEndpoint remote_;
  FileDescriptor epoll_;
  std::vector<Device> devices_;
  FileDescriptor shared_socket_;  // DeviceSpread::loopback_addresses only
  SendState shared_state_ = SendState::idle;

  // Exchanges live in slots that are reused; a deque keeps them in place as it grows, and each
  // slot keeps its datagram buffer's capacity.
  std::deque<Exchange> exchanges_;
  std::vector<std::uint32_t> free_slots_;
  std::uint64_t next_serial_ = 1;
  std::size_t in_flight_ = 0;
  detail::SlotIndex by_message_id_;
  detail::SlotIndex by_token_;

  detail::DeadlineHeap timers_;
  std::size_t armed_timers_ = 0;

  std::vector<std::uint32_t> pending_devices_;
  std::vector<std::uint32_t> no_buffer_devices_;
  TimePoint no_buffer_retry_at_{};
  std::vector<std::pair<std::uint32_t, int>> failed_sends_;  // slot, errno

  std::mt19937_64 random_;
  Message request_scratch_;  // what send() encodes from
  Message response_;         // what the last datagram decoded to; Result points into it
  Result result_;
  EngineCounters counters_;

  std::array<epoll_event, kEpollEvents> events_{};
  std::vector<std::uint8_t> receive_buffer_;
  std::array<iovec, kReceiveBatch> receive_iov_{};
  std::array<mmsghdr, kReceiveBatch> receive_headers_{};
  std::array<iovec, kSendBatch> send_iov_{};
  std::array<mmsghdr, kSendBatch> send_headers_{};
  // Shared socket: the sender of each datagram received, and IP_PKTINFO in both directions.
  struct alignas(cmsghdr) PacketInfoControl {
    std::array<std::uint8_t, CMSG_SPACE(sizeof(in_pktinfo))> bytes{};
  };
  std::array<sockaddr_storage, kReceiveBatch> receive_names_{};
  std::array<PacketInfoControl, kReceiveBatch> receive_control_{};
  std::array<PacketInfoControl, kSendBatch> send_control_{};

  TimePoint now_{};
  std::size_t completed_ = 0;
  bool polling_ = false;
  bool precise_wait_ = true;  // epoll_pwait2 available (cleared on ENOSYS)
};

ClientEngine::Impl::Impl(EngineOptions options, HandshakeObserver on_handshake)
    : options_(std::move(options)), on_handshake_(std::move(on_handshake)) {
  if (options_.devices < 1 || options_.devices > kMaxDevices) {
    throw std::invalid_argument("coapwire: devices must be 1.." + std::to_string(kMaxDevices) +
                                ", got " + std::to_string(options_.devices));
  }
  if (options_.token_bytes < 4 || options_.token_bytes > kMaxTokenBytes) {
    throw std::invalid_argument("coapwire: token_bytes must be 4..8");
  }
  if (options_.send_buffer_bytes < 0 || options_.receive_buffer_bytes < 0) {
    throw std::invalid_argument("coapwire: socket buffer sizes must not be negative");
  }
  options_.transmission.validate();
  if (!options_.dtls_devices.empty()) {
    if (options_.dtls_devices.size() != 1 && options_.dtls_devices.size() != options_.devices) {
      throw std::invalid_argument("coapwire: dtls_devices must hold 1 or `devices` entries, got " +
                                  std::to_string(options_.dtls_devices.size()));
    }
    if (options_.dtls_handshake_timeout <= std::chrono::milliseconds::zero()) {
      throw std::invalid_argument("coapwire: dtls_handshake_timeout must be positive");
    }
    dtls_context_ = std::make_shared<const dtls::ClientContext>();
  }
  exchange_timeout_ = options_.transmission.effective_exchange_timeout();

  remote_ = detail::resolve_remote(options_.remote_host, options_.remote_port);
  if (shared()) {
    const auto& remote = reinterpret_cast<const sockaddr_in&>(remote_.address);
    if (remote_.family != AF_INET || (ntohl(remote.sin_addr.s_addr) >> 24) != 127) {
      throw std::invalid_argument(
          "coapwire: devices told apart by loopback source address need a server on "
          "127.0.0.0/8, not " +
          remote_.text);
    }
    if (dtls()) {
      throw std::invalid_argument(
          "coapwire: devices told apart by loopback source address cannot use DTLS");
    }
  }
  detail::reserve_descriptors(shared() ? 1 : options_.devices);
  epoll_ = FileDescriptor(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_) throw std::system_error(errno, std::generic_category(), "coapwire: epoll_create1");

  std::uint64_t seed = options_.random_seed;
  if (seed == 0) {
    std::random_device entropy;
    seed = (std::uint64_t{entropy()} << 32) | entropy();
  }
  random_.seed(seed);

  const detail::SocketBuffers buffers{options_.send_buffer_bytes, options_.receive_buffer_bytes};
  devices_.resize(options_.devices);
  for (std::size_t i = 0; i < devices_.size(); ++i) {
    Device& device = devices_[i];
    device.next_message_id = static_cast<std::uint16_t>(random_());
    if (shared()) continue;
    device.socket = detail::open_device_socket(remote_, buffers, i, devices_.size());
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = i;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, device.socket.get(), &event) != 0) {
      throw std::system_error(errno, std::generic_category(), "coapwire: epoll_ctl(ADD)");
    }
  }

  receive_buffer_.resize(kReceiveBatch * kMaxResponseBytes);
  for (std::size_t i = 0; i < kReceiveBatch; ++i) {
    receive_iov_[i] = iovec{receive_buffer_.data() + i * kMaxResponseBytes, kMaxResponseBytes};
    receive_headers_[i].msg_hdr.msg_iov = &receive_iov_[i];
    receive_headers_[i].msg_hdr.msg_iovlen = 1;
  }
  for (std::size_t i = 0; i < kSendBatch; ++i) {
    send_headers_[i].msg_hdr.msg_iov = &send_iov_[i];
    send_headers_[i].msg_hdr.msg_iovlen = 1;
  }
  if (shared()) open_shared_socket(buffers);
}

void ClientEngine::Impl::open_shared_socket(const detail::SocketBuffers& buffers) {
  shared_socket_ = detail::open_shared_loopback_socket(buffers);
  epoll_event event{};
  event.events = EPOLLIN;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, shared_socket_.get(), &event) != 0) {
    throw std::system_error(errno, std::generic_category(), "coapwire: epoll_ctl(ADD)");
  }
  // Every datagram goes to the remote from its device's address (set as it leaves): the control
  // message is laid out once here.
  for (std::size_t i = 0; i < kSendBatch; ++i) {
    msghdr& header = send_headers_[i].msg_hdr;
    header.msg_name = &remote_.address;
    header.msg_namelen = remote_.length;
    header.msg_control = send_control_[i].bytes.data();
    header.msg_controllen = send_control_[i].bytes.size();
    cmsghdr* control = CMSG_FIRSTHDR(&header);
    control->cmsg_level = IPPROTO_IP;
    control->cmsg_type = IP_PKTINFO;
    control->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
  }
  for (std::size_t i = 0; i < kReceiveBatch; ++i) {
    receive_headers_[i].msg_hdr.msg_name = &receive_names_[i];
    receive_headers_[i].msg_hdr.msg_control = receive_control_[i].bytes.data();
  }
}

// ---- requests ------------------------------------------------------------------------------

bool ClientEngine::Impl::send(std::size_t device_index, const Request& request,
                              Completion completion) {
  if (device_index >= devices_.size()) {
    throw std::out_of_range("coapwire: device " + std::to_string(device_index) + " of " +
                            std::to_string(devices_.size()));
  }
  if (request.type != MessageType::confirmable && request.type != MessageType::non_confirmable) {
    throw std::invalid_argument("coapwire: a request is confirmable or non-confirmable");
  }
  if (!request.method.is_request()) {
    throw std::invalid_argument("coapwire: " + request.method.to_string() + " is no method");
  }
  const auto device = static_cast<std::uint32_t>(device_index);
  if (devices_[device].in_flight >= kMessageIds) {
    // Reusing an id still in flight would let the server take the request for a duplicate, or
    // its answer complete the wrong request. Checked first: refusing costs nothing per request,
    // so an open loop far ahead of the server keeps its schedule.
    ++counters_.no_message_id;
    return false;
  }

  Message& message = request_scratch_;
  message.clear();
  message.type = request.type;
  message.code = request.method;
  message.add_uri_path(request.path);
  message.add_uri_query(request.query);
  if (request.content_format) message.set_content_format(*request.content_format);
  if (request.accept) message.set_accept(*request.accept);
  if (request.block1) message.set_block1(*request.block1);
  if (request.size1) message.set_size1(*request.size1);
  message.payload.assign(request.payload.begin(), request.payload.end());
  message.message_id = allocate_message_id(device);
  message.token = allocate_token(device);

  const std::uint32_t slot = allocate_slot();
  Exchange& exchange = exchanges_[slot];
  try {
    encode(message, exchange.datagram);
  } catch (...) {
    release_slot(slot);
    throw;
  }
  exchange.device = device;
  exchange.message_id = message.message_id;
  exchange.token = message.token;
  exchange.type = request.type;
  exchange.state = ExchangeState::queued;
  exchange.retransmission =
      RetransmissionTimer(options_.transmission, std::generate_canonical<double, 53>(random_));
  exchange.first_sent_at = TimePoint{};
  exchange.completion = std::move(completion);
  by_message_id_.insert(message_id_key(device, exchange.message_id), slot);
  by_token_.insert(token_key(device, exchange.token), slot);
  ++in_flight_;
  ++devices_[device].in_flight;
  queue_request(slot);
  return true;
}

std::uint16_t ClientEngine::Impl::allocate_message_id(std::uint32_t device) {
  Device& state = devices_[device];
  for (std::size_t attempt = 0; attempt < kMessageIds; ++attempt) {
    const std::uint16_t id = state.next_message_id++;
    if (!by_message_id_.find(message_id_key(device, id))) return id;
  }
  // send() checks the device's count first: a free id exists.
  throw std::logic_error("coapwire: device " + std::to_string(device) +
                         " has every message id in flight");
}

Token ClientEngine::Impl::allocate_token(std::uint32_t device) {
  // With 4+ random bytes and a device's few requests in flight a redraw is rare; the bound only
  // guards against a device with tens of thousands in flight.
  for (int attempt = 0; attempt < 64; ++attempt) {
    const std::uint64_t bits = random_();
    Token token;
    token.length = static_cast<std::uint8_t>(options_.token_bytes);
    std::memcpy(token.bytes.data(), &bits, token.length);
    if (!by_token_.find(token_key(device, token))) return token;
  }
  throw std::length_error("coapwire: no free token for device " + std::to_string(device));
}

std::uint32_t ClientEngine::Impl::allocate_slot() {
  std::uint32_t slot = 0;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slot = static_cast<std::uint32_t>(exchanges_.size());
    exchanges_.emplace_back();
  }
  exchanges_[slot].serial = next_serial_++;
  return slot;
}

void ClientEngine::Impl::release_slot(std::uint32_t slot) {
  disarm_timer(slot);
  Exchange& exchange = exchanges_[slot];
  exchange.serial = 0;
  exchange.completion = nullptr;
  free_slots_.push_back(slot);
}

// ---- timers --------------------------------------------------------------------------------

void ClientEngine::Impl::arm_timer(std::uint32_t slot, TimePoint deadline) {
  Exchange& exchange = exchanges_[slot];
  ++exchange.timer_arm;
  if (!exchange.timer_armed) {
    exchange.timer_armed = true;
    ++armed_timers_;
  }
  timers_.push(deadline, slot, exchange.timer_arm);
  if (timers_.size() > kHeapCompactMinimum && timers_.size() > kHeapStaleFactor * armed_timers_) {
    timers_.compact([this](const auto& entry) { return timer_is_live(entry); });
  }
}

void ClientEngine::Impl::disarm_timer(std::uint32_t slot) {
  Exchange& exchange = exchanges_[slot];
  if (!exchange.timer_armed) return;
  exchange.timer_armed = false;
  ++exchange.timer_arm;
  --armed_timers_;
}

bool ClientEngine::Impl::timer_is_live(const detail::DeadlineHeap::Entry& entry) const {
  const Exchange& exchange = exchanges_[entry.slot];
  return exchange.serial != 0 && exchange.timer_armed && exchange.timer_arm == entry.arm;
}

void ClientEngine::Impl::fire_due_timers() {
  while (!timers_.empty()) {
    const detail::DeadlineHeap::Entry entry = timers_.top();
    if (!timer_is_live(entry)) {
      timers_.pop();
      continue;
    }
    if (entry.deadline > now_) break;
    timers_.pop();
    disarm_timer(entry.slot);
    Exchange& exchange = exchanges_[entry.slot];
    if (exchange.state == ExchangeState::awaiting_ack && exchange.retransmission.expire()) {
      queue_request(entry.slot);  // the next timeout starts when the copy leaves
    } else {
      complete_without_response(entry.slot, Result::Kind::timeout);
    }
  }
}

// ---- sending -------------------------------------------------------------------------------

void ClientEngine::Impl::queue(std::uint32_t device, const Outgoing& outgoing) {
  Device& state = devices_[device];
  state.outgoing.push_back(outgoing);
  if (state.send_state == SendState::idle) {
    state.send_state = SendState::pending;
    pending_devices_.push_back(device);
  }
}

void ClientEngine::Impl::queue_request(std::uint32_t slot) {
  const Exchange& exchange = exchanges_[slot];
  Outgoing outgoing;
  outgoing.kind = Outgoing::Kind::request;
  outgoing.slot = slot;
  outgoing.serial = exchange.serial;
  queue(exchange.device, outgoing);
}

void ClientEngine::Impl::queue_empty(std::uint32_t device, MessageType type,
                                     std::uint16_t message_id) {
  Outgoing outgoing;
  outgoing.kind = Outgoing::Kind::empty;
  outgoing.empty_type = type;
  outgoing.empty_bytes = encode_empty(type, message_id);
  queue(device, outgoing);
}

bool ClientEngine::Impl::is_stale(const Outgoing& outgoing) const {
  if (outgoing.kind == Outgoing::Kind::empty) return false;
  const Exchange& exchange = exchanges_[outgoing.slot];
  // Completed, or an empty ACK arrived while a retransmission was still queued.
  return exchange.serial != outgoing.serial || exchange.state == ExchangeState::awaiting_response;
}

void ClientEngine::Impl::flush() {
  if (pending_devices_.empty() && failed_sends_.empty()) return;
  // Send times start retransmission timers and latencies: read the clock after this wake-up's
  // processing, not before it.
  now_ = Clock::now();
  if (shared()) {
    flush_shared();
  } else {
    for (std::size_t i = 0; i < pending_devices_.size(); ++i) flush_device(pending_devices_[i]);
    pending_devices_.clear();
  }
  if (failed_sends_.empty()) return;
  // Completions may send(): run them only once the device queues are consistent again, and from
  // a list of our own, so a completion that throws cannot leave one to be completed twice.
  std::vector<std::pair<std::uint32_t, int>> failed;
  failed.swap(failed_sends_);
  for (const auto& [slot, error] : failed) {
    complete_without_response(slot, Result::Kind::send_error, error);
  }
}

// The wire bytes of a queued datagram: an empty message's own, or its exchange's request.
iovec ClientEngine::Impl::bytes_of(const Outgoing& outgoing) {
  if (outgoing.kind == Outgoing::Kind::empty) {
    return iovec{const_cast<std::uint8_t*>(outgoing.empty_bytes.data()),
                 outgoing.empty_bytes.size()};
  }
  std::vector<std::uint8_t>& datagram = exchanges_[outgoing.slot].datagram;
  return iovec{datagram.data(), datagram.size()};
}

void ClientEngine::Impl::flush_device(std::uint32_t device) {
  Device& state = devices_[device];
  std::erase_if(state.outgoing, [this](const Outgoing& outgoing) { return is_stale(outgoing); });
  std::vector<Outgoing>& queue = state.outgoing;
  if (dtls() && !established(state)) {
    // Nothing to acknowledge on a session that is gone; requests wait for the handshake.
    std::erase_if(queue, [](const Outgoing& o) { return o.kind == Outgoing::Kind::empty; });
    state.send_state = SendState::idle;
    const bool handshaking =
        state.channel && state.channel->state() == dtls::ClientChannel::State::handshaking;
    if (!queue.empty() && !handshaking) start_handshake(device);
    return;
  }
  std::size_t head = 0;
  int refusals = 0;
  bool blocked = false;
  while (head < queue.size() && !blocked) {
    std::size_t count = std::min(kSendBatch, queue.size() - head);
    for (std::size_t i = 0; i < count; ++i) {
      send_iov_[i] = bytes_of(queue[head + i]);
      if (state.channel) {
        // Sealed now, as it leaves: a record refused by the kernel is sealed again later under
        // a new sequence number, which DTLS allows.
        const std::span<const std::uint8_t> plain(
            static_cast<const std::uint8_t*>(send_iov_[i].iov_base), send_iov_[i].iov_len);
        if (!state.channel->seal(plain, sealed_[i])) {
          count = i;
          break;
        }
        send_iov_[i] = iovec{sealed_[i].data(), sealed_[i].size()};
      }
    }
    if (count == 0) {
      // The session could not seal (it failed under us): give this datagram up like a refused
      // send; a request's completion says so.
      const Outgoing& failed = queue[head];
      if (failed.kind == Outgoing::Kind::request) failed_sends_.emplace_back(failed.slot, EPROTO);
      ++head;
      continue;
    }
    int sent = -1;
    if (count == 1) {
      // The common case with a socket per device: send() skips sendmmsg's extra work.
      if (::send(state.socket.get(), send_iov_[0].iov_base, send_iov_[0].iov_len, 0) >= 0) {
        sent = 1;
      }
    } else {
      sent = ::sendmmsg(state.socket.get(), send_headers_.data(), static_cast<unsigned>(count), 0);
    }
    if (sent > 0) {
      for (int i = 0; i < sent; ++i) on_sent(queue[head + i], true);
      head += static_cast<std::size_t>(sent);
      refusals = 0;
      continue;
    }
    const int error = errno;
    if (error == EINTR) continue;
    if (is_would_block(error) || error == ENOBUFS) {
      ++counters_.would_block;
      block_device(device, error);
      blocked = true;
    } else if (error == ECONNREFUSED) {
      // ICMP port unreachable for an earlier datagram; reporting it cleared it: send again.
      ++counters_.socket_errors;
      if (++refusals > kMaxRefusalsInARow) {
        on_sent(queue[head], false);
        ++head;
        refusals = 0;
      }
    } else {
      const Outgoing& failed = queue[head];
      if (failed.kind == Outgoing::Kind::request) failed_sends_.emplace_back(failed.slot, error);
      ++head;
    }
  }
  queue.erase(queue.begin(), queue.begin() + static_cast<std::ptrdiff_t>(head));
  if (!blocked) state.send_state = SendState::idle;
}

void ClientEngine::Impl::on_sent(const Outgoing& outgoing, bool really_sent) {
  if (really_sent) ++counters_.datagrams_sent;
  if (outgoing.kind == Outgoing::Kind::empty) {
    if (!really_sent) return;
    if (outgoing.empty_type == MessageType::reset) {
      ++counters_.resets_sent;
    } else {
      ++counters_.acks_sent;
    }
    return;
  }
  Exchange& exchange = exchanges_[outgoing.slot];
  if (exchange.state == ExchangeState::queued) {
    if (really_sent) ++counters_.requests;
    exchange.first_sent_at = now_;
    if (exchange.type == MessageType::confirmable) {
      exchange.state = ExchangeState::awaiting_ack;
      arm_timer(outgoing.slot, now_ + exchange.retransmission.timeout());
    } else {
      exchange.state = ExchangeState::awaiting_response;
      arm_timer(outgoing.slot, now_ + exchange_timeout_);
    }
    return;
  }
  if (really_sent) ++counters_.retransmissions;
  arm_timer(outgoing.slot, now_ + exchange.retransmission.timeout());
}

void ClientEngine::Impl::block_device(std::uint32_t device, int error) {
  Device& state = devices_[device];
  if (error == ENOBUFS) {
    state.send_state = SendState::blocked_no_buffer;
    if (no_buffer_devices_.empty()) no_buffer_retry_at_ = now_ + kNoBufferRetry;
    no_buffer_devices_.push_back(device);
    return;
  }
  state.send_state = SendState::blocked_writable;
  epoll_event event{};
  event.events = EPOLLIN | EPOLLOUT;
  event.data.u64 = device;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, state.socket.get(), &event);
}

void ClientEngine::Impl::on_writable(std::uint32_t device) {
  Device& state = devices_[device];
  if (state.send_state != SendState::blocked_writable) return;
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = device;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, state.socket.get(), &event);
  state.send_state = SendState::pending;
  pending_devices_.push_back(device);
}

// The shared socket sends for every pending device at once: batches of kSendBatch datagrams
// taken device after device, in queue order, each stamped with its device's source address.
void ClientEngine::Impl::flush_shared() {
  for (const std::uint32_t device : pending_devices_) {
    std::erase_if(devices_[device].outgoing,
                  [this](const Outgoing& outgoing) { return is_stale(outgoing); });
  }
  struct Taken {
    std::size_t pending = 0;  // the device's position in pending_devices_
    std::uint32_t device = 0;
    std::uint32_t index = 0;  // in the device's queue
  };
  std::array<Taken, kSendBatch> batch{};
  std::size_t pending = 0;  // where gathering goes on
  std::uint32_t index = 0;
  int refusals = 0;
  while (shared_state_ == SendState::idle) {
    std::size_t count = 0;
    while (count < kSendBatch && pending < pending_devices_.size()) {
      const std::uint32_t device = pending_devices_[pending];
      const std::vector<Outgoing>& queue = devices_[device].outgoing;
      if (index >= queue.size()) {
        ++pending;
        index = 0;
        continue;
      }
      send_iov_[count] = bytes_of(queue[index]);
      in_pktinfo source{};
      source.ipi_spec_dst.s_addr = htonl(loopback_device_address(device));
      std::memcpy(CMSG_DATA(CMSG_FIRSTHDR(&send_headers_[count].msg_hdr)), &source, sizeof source);
      batch[count++] = Taken{pending, device, index++};
    }
    if (count == 0) break;
    const int sent =
        ::sendmmsg(shared_socket_.get(), send_headers_.data(), static_cast<unsigned>(count), 0);
    std::size_t resume = 0;  // the first datagram of the batch still to send
    if (sent > 0) {
      for (int i = 0; i < sent; ++i) {
        Device& state = devices_[batch[i].device];
        on_sent(state.outgoing[batch[i].index], true);
        state.flushed = batch[i].index + 1;
      }
      resume = static_cast<std::size_t>(sent);
      refusals = 0;
    } else {
      const int error = errno;
      Device& state = devices_[batch[0].device];
      const Outgoing& first = state.outgoing[batch[0].index];
      if (error == EINTR) {
      } else if (is_would_block(error) || error == ENOBUFS) {
        ++counters_.would_block;
        block_shared(error);
      } else if (error == ECONNREFUSED) {
        ++counters_.socket_errors;
        if (++refusals > kMaxRefusalsInARow) {
          on_sent(first, false);
          state.flushed = batch[0].index + 1;
          resume = 1;
          refusals = 0;
        }
      } else {
        if (first.kind == Outgoing::Kind::request) failed_sends_.emplace_back(first.slot, error);
        state.flushed = batch[0].index + 1;
        resume = 1;
      }
    }
    if (resume < count) {
      pending = batch[resume].pending;
      index = batch[resume].index;
    }
  }
  // Datagrams that left are dropped from the queues; devices with some still queued (the socket is
  // blocked) stay pending, in order.
  std::size_t kept = 0;
  for (const std::uint32_t device : pending_devices_) {
    Device& state = devices_[device];
    state.outgoing.erase(state.outgoing.begin(), state.outgoing.begin() + state.flushed);
    state.flushed = 0;
    if (state.outgoing.empty()) {
      state.send_state = SendState::idle;
    } else {
      pending_devices_[kept++] = device;
    }
  }
  pending_devices_.resize(kept);
}

void ClientEngine::Impl::block_shared(int error) {
  if (error == ENOBUFS) {
    shared_state_ = SendState::blocked_no_buffer;
    no_buffer_retry_at_ = now_ + kNoBufferRetry;
    return;
  }
  shared_state_ = SendState::blocked_writable;
  epoll_event event{};
  event.events = EPOLLIN | EPOLLOUT;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, shared_socket_.get(), &event);
}

void ClientEngine::Impl::on_shared_writable() {
  if (shared_state_ != SendState::blocked_writable) return;
  epoll_event event{};
  event.events = EPOLLIN;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, shared_socket_.get(), &event);
  shared_state_ = SendState::idle;
}

// ---- receiving -----------------------------------------------------------------------------

// ---- DTLS ----------------------------------------------------------------------------------

class ClientEngine::Impl::ChannelIo final : public dtls::ClientChannel::Io {
 public:
  ChannelIo(Impl& engine, std::uint32_t device) : engine_(engine), device_(device) {}
  void send(std::span<const std::uint8_t> datagram) override {
    engine_.send_handshake_datagram(device_, datagram);
  }
  void deliver(std::span<const std::uint8_t> plaintext) override {
    engine_.on_datagram(device_, plaintext);
  }

 private:
  Impl& engine_;
  std::uint32_t device_;
};

void ClientEngine::Impl::start_handshake(std::uint32_t device) {
  Device& state = devices_[device];
  if (!state.channel) {
    const auto& credentials = options_.dtls_devices.size() == 1 ? options_.dtls_devices[0]
                                                                : options_.dtls_devices[device];
    state.channel = std::make_unique<dtls::ClientChannel>(dtls_context_, credentials);
  }
  ++counters_.dtls_handshakes_started;
  state.handshake_started_at = now_;
  state.handshake_deadline = now_ + options_.dtls_handshake_timeout;
  ChannelIo io(*this, device);
  const std::uint64_t cpu = thread_cpu_nanoseconds();
  state.channel->start(io);
  counters_.dtls_handshake_cpu_nanoseconds += thread_cpu_nanoseconds() - cpu;
  after_channel_step(device, dtls::ClientChannel::State::handshaking);
}

void ClientEngine::Impl::send_handshake_datagram(std::uint32_t device,
                                                 std::span<const std::uint8_t> datagram) {
  // Handshake flights and alerts leave at once, outside the request queue: one lost to a full
  // buffer or an ICMP error is sent again by the DTLS timer.
  const ssize_t sent = ::send(devices_[device].socket.get(), datagram.data(), datagram.size(), 0);
  if (sent >= 0) {
    ++counters_.datagrams_sent;
  } else if (is_would_block(errno) || errno == ENOBUFS) {
    ++counters_.would_block;
  } else {
    ++counters_.socket_errors;
  }
}

std::size_t ClientEngine::Impl::start_handshakes() {
  if (!dtls()) return 0;
  now_ = Clock::now();  // outside poll(): the handshakes' start and deadline are from now
  std::size_t started = 0;
  for (std::uint32_t device = 0; device < devices_.size(); ++device) {
    if (devices_[device].channel) continue;  // established or handshaking already
    start_handshake(device);
    ++started;
  }
  return started;
}

void ClientEngine::Impl::close_sessions() {
  for (std::uint32_t device = 0; device < devices_.size(); ++device) {
    Device& state = devices_[device];
    if (!established(state)) continue;
    ChannelIo io(*this, device);
    state.channel->close(io);
    state.channel.reset();
    ++counters_.dtls_close_notify_sent;
  }
}

void ClientEngine::Impl::on_dtls_datagram(std::uint32_t device,
                                          std::span<const std::uint8_t> datagram) {
  Device& state = devices_[device];
  if (!state.channel) {
    ++counters_.unmatched;  // no session: from an earlier run on this port
    return;
  }
  const auto before = state.channel->state();
  ChannelIo io(*this, device);
  if (before == dtls::ClientChannel::State::handshaking) {
    const std::uint64_t cpu = thread_cpu_nanoseconds();
    state.channel->receive(datagram, io);
    counters_.dtls_handshake_cpu_nanoseconds += thread_cpu_nanoseconds() - cpu;
  } else {
    state.channel->receive(datagram, io);  // deliver() runs on_datagram for each CoAP message
  }
  after_channel_step(device, before);
}

void ClientEngine::Impl::after_channel_step(std::uint32_t device,
                                            dtls::ClientChannel::State before) {
  using State = dtls::ClientChannel::State;
  Device& state = devices_[device];
  if (!state.channel) return;
  const State now = state.channel->state();
  if (before == State::handshaking) {
    if (now == State::handshaking) {
      arm_handshake_timer(device);
    } else if (now == State::established) {
      ++state.handshake_arm;  // cancels the timer
      ++counters_.dtls_handshakes_established;
      counters_.dtls_handshake_nanoseconds += static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(now_ - state.handshake_started_at)
              .count());
      if (on_handshake_) {
        on_handshake_(HandshakeEvent{device, true, state.handshake_started_at, now_, {}});
      }
      if (!state.outgoing.empty() && state.send_state == SendState::idle) {
        state.send_state = SendState::pending;
        pending_devices_.push_back(device);
      }
    } else {
      fail_handshake(device, state.channel->failure());
    }
    return;
  }
  if (before == State::established && now != State::established) {
    // close_notify, or a broken session: the next datagram starts a new handshake. Requests in
    // flight keep their timers; their retransmissions go out over the new session.
    ++counters_.dtls_sessions_closed;
    state.channel.reset();
    if (!state.outgoing.empty() && state.send_state == SendState::idle) {
      state.send_state = SendState::pending;
      pending_devices_.push_back(device);
    }
  }
}

void ClientEngine::Impl::arm_handshake_timer(std::uint32_t device) {
  Device& state = devices_[device];
  TimePoint deadline = state.handshake_deadline;
  if (const auto due = state.channel->retransmission_due()) deadline = std::min(deadline, *due);
  ++state.handshake_arm;
  handshake_timers_.push(deadline, device, state.handshake_arm);
  if (handshake_timers_.size() > kHeapCompactMinimum &&
      handshake_timers_.size() > kHeapStaleFactor * devices_.size()) {
    handshake_timers_.compact([this](const detail::DeadlineHeap::Entry& entry) {
      return devices_[entry.slot].handshake_arm == entry.arm;
    });
  }
}

void ClientEngine::Impl::fire_handshake_timers() {
  while (!handshake_timers_.empty()) {
    const detail::DeadlineHeap::Entry entry = handshake_timers_.top();
    Device& state = devices_[entry.slot];
    const bool live = state.handshake_arm == entry.arm && state.channel &&
                      state.channel->state() == dtls::ClientChannel::State::handshaking;
    if (!live) {
      handshake_timers_.pop();
      continue;
    }
    if (entry.deadline > now_) break;
    handshake_timers_.pop();
    ++state.handshake_arm;
    if (now_ >= state.handshake_deadline) {
      const auto ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(options_.dtls_handshake_timeout)
              .count();
      fail_handshake(entry.slot, "no answer within " + std::to_string(ms) +
                                     " ms (server down, or a wrong identity or key)");
      continue;
    }
    ChannelIo io(*this, entry.slot);
    const std::uint64_t cpu = thread_cpu_nanoseconds();
    state.channel->on_timer(io);
    counters_.dtls_handshake_cpu_nanoseconds += thread_cpu_nanoseconds() - cpu;
    after_channel_step(entry.slot, dtls::ClientChannel::State::handshaking);
  }
}

void ClientEngine::Impl::fail_handshake(std::uint32_t device, std::string reason) {
  Device& state = devices_[device];
  ++counters_.dtls_handshakes_failed;
  ++state.handshake_arm;
  state.channel.reset();  // the next request starts a new handshake
  handshake_failure_ = "dtls handshake failed: " + (reason.empty() ? "unknown" : reason);
  if (on_handshake_) {
    on_handshake_(
        HandshakeEvent{device, false, state.handshake_started_at, now_, handshake_failure_});
  }
  // Every request waiting to be sent completes now; take the queue first, so a completion that
  // sends again finds a consistent device (and starts a new handshake in the next flush).
  std::vector<Outgoing> waiting;
  waiting.swap(state.outgoing);
  for (const Outgoing& outgoing : waiting) {
    if (outgoing.kind != Outgoing::Kind::request || is_stale(outgoing)) continue;
    complete_without_response(outgoing.slot, Result::Kind::handshake_failed);
  }
}

void ClientEngine::Impl::on_readable(std::uint32_t device) {
  const int fd = devices_[device].socket.get();
  // A pending socket error is reported (and cleared) before queued datagrams: read once more.
  for (int attempt = 0; attempt < 2; ++attempt) {
    const int received =
        ::recvmmsg(fd, receive_headers_.data(), kReceiveBatch, MSG_DONTWAIT, nullptr);
    if (received < 0) {
      if (is_would_block(errno)) return;
      if (errno != EINTR) ++counters_.socket_errors;
      continue;
    }
    for (int i = 0; i < received; ++i) {
      const auto datagram = take_received(i);
      if (!datagram) continue;
      if (dtls()) {
        on_dtls_datagram(device, *datagram);
      } else {
        on_datagram(device, *datagram);
      }
    }
    return;
  }
}

// Datagram `i` of the last recvmmsg, counted; nothing when the kernel cut it (a decode error).
std::optional<std::span<const std::uint8_t>> ClientEngine::Impl::take_received(int i) {
  ++counters_.datagrams_received;
  const mmsghdr& header = receive_headers_[i];
  if ((header.msg_hdr.msg_flags & MSG_TRUNC) != 0) {
    ++counters_.decode_errors;
    return std::nullopt;
  }
  return std::span<const std::uint8_t>(static_cast<const std::uint8_t*>(receive_iov_[i].iov_base),
                                       header.msg_len);
}

// Reads until the socket is empty (at most kSharedReadRounds batches per wake-up, so a flood
// cannot starve the timers): every device's answers arrive here.
void ClientEngine::Impl::on_shared_readable() {
  constexpr int kSharedReadRounds = 8;
  for (int round = 0; round < kSharedReadRounds; ++round) {
    for (std::size_t i = 0; i < kReceiveBatch; ++i) {
      receive_headers_[i].msg_hdr.msg_namelen = sizeof receive_names_[i];
      receive_headers_[i].msg_hdr.msg_controllen = receive_control_[i].bytes.size();
    }
    const int received = ::recvmmsg(shared_socket_.get(), receive_headers_.data(), kReceiveBatch,
                                    MSG_DONTWAIT, nullptr);
    if (received < 0) {
      if (is_would_block(errno)) return;
      if (errno != EINTR) ++counters_.socket_errors;
      continue;
    }
    for (int i = 0; i < received; ++i) {
      const auto datagram = take_received(i);
      if (!datagram) continue;
      const auto device = shared_receiver(receive_headers_[i]);
      if (!device) {
        ++counters_.unmatched;
        continue;
      }
      on_datagram(*device, *datagram);
    }
    if (static_cast<std::size_t>(received) < kReceiveBatch) return;
  }
}

// The device a datagram on the shared socket is for: it must come from the remote, and the
// address it was sent to (IP_PKTINFO) names the device.
std::optional<std::uint32_t> ClientEngine::Impl::shared_receiver(mmsghdr& header) const {
  const auto& from = *static_cast<const sockaddr_in*>(header.msg_hdr.msg_name);
  const auto& remote = reinterpret_cast<const sockaddr_in&>(remote_.address);
  if (header.msg_hdr.msg_namelen < sizeof(sockaddr_in) || from.sin_family != AF_INET ||
      from.sin_port != remote.sin_port || from.sin_addr.s_addr != remote.sin_addr.s_addr) {
    return std::nullopt;
  }
  for (cmsghdr* control = CMSG_FIRSTHDR(&header.msg_hdr); control != nullptr;
       control = CMSG_NXTHDR(&header.msg_hdr, control)) {
    if (control->cmsg_level != IPPROTO_IP || control->cmsg_type != IP_PKTINFO) continue;
    in_pktinfo info{};
    std::memcpy(&info, CMSG_DATA(control), sizeof info);
    const std::uint32_t device = ntohl(info.ipi_addr.s_addr) - loopback_device_address(0);
    if (device < devices_.size()) return device;
    return std::nullopt;
  }
  return std::nullopt;
}

void ClientEngine::Impl::on_datagram(std::uint32_t device, std::span<const std::uint8_t> datagram) {
  if (decode_into(datagram, response_) != DecodeStatus::ok) {
    ++counters_.decode_errors;
    return;
  }
  if (response_.type == MessageType::acknowledgement || response_.type == MessageType::reset) {
    on_ack_or_reset(device, response_);
  } else {
    on_server_message(device, response_);
  }
}

void ClientEngine::Impl::on_ack_or_reset(std::uint32_t device, const Message& message) {
  // RFC 7252 §4.2/§4.3: an RST is always Empty, an ACK is Empty or carries a response.
  const bool well_formed = message.type == MessageType::reset
                               ? message.code.is_empty()
                               : message.code.is_empty() || message.code.is_response();
  if (!well_formed) {
    ++counters_.decode_errors;
    return;
  }
  const auto slot = by_message_id_.find(message_id_key(device, message.message_id));
  if (!slot) {
    if (recent_by_message_id(device, message.message_id) != nullptr) {
      ++counters_.duplicates;
    } else {
      ++counters_.unmatched;
    }
    return;
  }
  Exchange& exchange = exchanges_[*slot];
  if (exchange.state == ExchangeState::queued) {
    ++counters_.unmatched;  // about a request not sent yet: from an earlier run on this port
    return;
  }
  if (message.type == MessageType::reset) {
    complete_without_response(*slot, Result::Kind::reset);
    return;
  }
  if (exchange.type != MessageType::confirmable) {
    ++counters_.unmatched;  // a NON request is never acknowledged
    return;
  }
  if (message.code.is_empty()) {
    if (exchange.state != ExchangeState::awaiting_ack) {
      ++counters_.duplicates;
      return;
    }
    // §5.2.2: the server took the request and answers later; stop retransmitting.
    exchange.state = ExchangeState::awaiting_response;
    arm_timer(*slot, now_ + exchange_timeout_);
    return;
  }
  if (!(message.token == exchange.token)) {
    ++counters_.unmatched;
    return;
  }
  complete_response(*slot, message, false);
}

void ClientEngine::Impl::on_server_message(std::uint32_t device, const Message& message) {
  const bool confirmable = message.type == MessageType::confirmable;
  if (!message.code.is_response()) {
    // A ping (Empty CON) is answered with RST (§4.3); a request is refused the same way: a
    // simulated device serves nothing.
    if (confirmable) queue_empty(device, MessageType::reset, message.message_id);
    if (!message.code.is_empty()) ++counters_.unmatched;
    return;
  }
  const auto slot = find_by_token(device, message.token);
  if (!slot || exchanges_[*slot].state == ExchangeState::queued) {
    if (recent_by_token(device, message.token) != nullptr) {
      // The server repeated its answer (our ACK was lost, or it answered a retransmission).
      if (confirmable) queue_empty(device, MessageType::acknowledgement, message.message_id);
      ++counters_.duplicates;
      return;
    }
    // §4.2: a CON that cannot be processed is rejected with RST.
    if (confirmable) queue_empty(device, MessageType::reset, message.message_id);
    ++counters_.unmatched;
    return;
  }
  if (confirmable) queue_empty(device, MessageType::acknowledgement, message.message_id);
  complete_response(*slot, message, exchanges_[*slot].type == MessageType::confirmable);
}

std::optional<std::uint32_t> ClientEngine::Impl::find_by_token(std::uint32_t device,
                                                               const Token& token) const {
  const auto slot = by_token_.find(token_key(device, token));
  if (!slot) return std::nullopt;
  const Exchange& exchange = exchanges_[*slot];
  if (exchange.device != device || !(exchange.token == token)) return std::nullopt;
  return slot;
}

const RecentExchange* ClientEngine::Impl::recent_by_token(std::uint32_t device,
                                                          const Token& token) const {
  for (const RecentExchange& recent : devices_[device].recent) {
    if (recent.used && recent.token == token) return &recent;
  }
  return nullptr;
}

const RecentExchange* ClientEngine::Impl::recent_by_message_id(std::uint32_t device,
                                                               std::uint16_t id) const {
  for (const RecentExchange& recent : devices_[device].recent) {
    if (recent.used && recent.message_id == id) return &recent;
  }
  return nullptr;
}

// ---- completion ----------------------------------------------------------------------------

void ClientEngine::Impl::complete_response(std::uint32_t slot, const Message& response,
                                           bool separate) {
  const Exchange& exchange = exchanges_[slot];
  result_ = Result{};
  result_.kind = Result::Kind::response;
  result_.code = response.code;
  result_.response_type = response.type;
  result_.message_id = exchange.message_id;
  result_.payload = response.payload_text();
  result_.max_age = response.max_age();
  result_.content_format = response.content_format();
  result_.retransmissions = exchange.retransmission.retransmissions();
  result_.separate = separate;
  result_.response = &response;
  result_.first_sent_at = exchange.first_sent_at;
  result_.completed_at = now_;
  ++counters_.responses;
  finish(slot);
}

void ClientEngine::Impl::complete_without_response(std::uint32_t slot, Result::Kind kind,
                                                   int error) {
  const Exchange& exchange = exchanges_[slot];
  result_ = Result{};
  result_.kind = kind;
  result_.response_type =
      kind == Result::Kind::reset ? MessageType::reset : MessageType::acknowledgement;
  result_.message_id = exchange.message_id;
  result_.retransmissions = exchange.retransmission.retransmissions();
  result_.error = error;
  if (kind == Result::Kind::handshake_failed) result_.reason = handshake_failure_;
  result_.first_sent_at = exchange.first_sent_at;
  result_.completed_at = now_;
  switch (kind) {
    case Result::Kind::timeout:
      ++counters_.timeouts;
      break;
    case Result::Kind::reset:
      ++counters_.resets;
      break;
    case Result::Kind::send_error:
      ++counters_.send_errors;
      break;
    case Result::Kind::handshake_failed:
      ++counters_.handshake_failures;
      break;
    case Result::Kind::response:
      break;
  }
  finish(slot);
}

void ClientEngine::Impl::finish(std::uint32_t slot) {
  Exchange& exchange = exchanges_[slot];
  Completion completion = std::move(exchange.completion);
  const std::uint32_t device = exchange.device;
  Device& state = devices_[device];
  state.recent[state.recent_next] = RecentExchange{true, exchange.message_id, exchange.token};
  state.recent_next = static_cast<std::uint8_t>((state.recent_next + 1) % kRecentPerDevice);
  by_message_id_.erase(message_id_key(device, exchange.message_id));
  by_token_.erase(token_key(device, exchange.token));
  release_slot(slot);
  --in_flight_;
  --state.in_flight;
  ++completed_;
  // Last: the completion may send(), which reuses this slot and grows the tables.
  if (completion) completion(result_);
}

// ---- the loop ------------------------------------------------------------------------------

// epoll_wait's millisecond timeout would let an open-loop sender at 50,000 requests/s oversleep
// by up to 50 requests and then send them as a burst, which shows up as latency of the server
// under test. epoll_pwait2 (Linux 5.11) takes a timespec; older kernels fall back to
// milliseconds, rounded up (waking before a deadline would only make us wait again).
int ClientEngine::Impl::wait_for_events(Clock::duration wait) {
  const int capacity = static_cast<int>(events_.size());
  if (precise_wait_) {
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(wait).count();
    const timespec timeout{static_cast<time_t>(ns / 1'000'000'000),
                           static_cast<long>(ns % 1'000'000'000)};
    const int ready = ::epoll_pwait2(epoll_.get(), events_.data(), capacity, &timeout, nullptr);
    if (ready >= 0 || errno != ENOSYS) return ready;
    precise_wait_ = false;
  }
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(wait).count();
  return ::epoll_wait(epoll_.get(), events_.data(), capacity,
                      static_cast<int>(std::min<std::int64_t>(ms, INT_MAX)));
}

std::size_t ClientEngine::Impl::poll(TimePoint deadline) {
  if (polling_) throw std::logic_error("coapwire: ClientEngine::poll() called from a completion");
  polling_ = true;
  struct Reset {
    bool& flag;
    ~Reset() { flag = false; }
  } reset{polling_};

  completed_ = 0;
  now_ = Clock::now();
  fire_due_timers();
  fire_handshake_timers();
  flush();
  for (;;) {
    TimePoint wake = deadline;
    if (completed_ > 0) wake = now_;
    if (!timers_.empty()) wake = std::min(wake, timers_.top().deadline);
    if (!handshake_timers_.empty()) wake = std::min(wake, handshake_timers_.top().deadline);
    if (!no_buffer_devices_.empty() || shared_state_ == SendState::blocked_no_buffer) {
      wake = std::min(wake, no_buffer_retry_at_);
    }
    const int ready = wait_for_events(wake > now_ ? wake - now_ : Clock::duration::zero());
    if (ready < 0 && errno != EINTR) {
      throw std::system_error(errno, std::generic_category(), "coapwire: epoll_wait");
    }
    now_ = Clock::now();
    for (int i = 0; i < ready; ++i) {
      const bool writable = (events_[i].events & EPOLLOUT) != 0;
      const bool readable = (events_[i].events & (EPOLLIN | EPOLLERR)) != 0;
      if (shared()) {
        if (writable) on_shared_writable();
        if (readable) on_shared_readable();
        continue;
      }
      const auto device = static_cast<std::uint32_t>(events_[i].data.u64);
      if (writable) on_writable(device);
      if (readable) on_readable(device);
    }
    if (shared_state_ == SendState::blocked_no_buffer && now_ >= no_buffer_retry_at_) {
      shared_state_ = SendState::idle;
    }
    if (!no_buffer_devices_.empty() && now_ >= no_buffer_retry_at_) {
      for (const std::uint32_t device : no_buffer_devices_) {
        devices_[device].send_state = SendState::pending;
        pending_devices_.push_back(device);
      }
      no_buffer_devices_.clear();
    }
    fire_due_timers();
    fire_handshake_timers();
    flush();
    if (completed_ > 0 || now_ >= deadline) return completed_;
  }
}

// ---- ClientEngine --------------------------------------------------------------------------

ClientEngine::ClientEngine(EngineOptions options, HandshakeObserver on_handshake)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(on_handshake))) {}
ClientEngine::~ClientEngine() = default;
ClientEngine::ClientEngine(ClientEngine&&) noexcept = default;
ClientEngine& ClientEngine::operator=(ClientEngine&&) noexcept = default;

bool ClientEngine::send(std::size_t device, const Request& request, Completion completion) {
  return impl_->send(device, request, std::move(completion));
}
std::size_t ClientEngine::poll(std::chrono::steady_clock::time_point deadline) {
  return impl_->poll(deadline);
}
std::size_t ClientEngine::in_flight() const {
  return impl_->in_flight();
}
std::size_t ClientEngine::device_count() const {
  return impl_->device_count();
}
std::uint16_t ClientEngine::local_port(std::size_t device) const {
  return impl_->local_port(device);
}
std::size_t ClientEngine::start_handshakes() {
  return impl_->start_handshakes();
}
void ClientEngine::close_sessions() {
  impl_->close_sessions();
}
EngineCounters ClientEngine::counters() const {
  return impl_->counters();
}

}  // namespace iot::coapwire

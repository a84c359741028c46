// ClientEngine against a scripted UDP responder on loopback. The test drives both from one
// thread: engine.poll() with a short deadline, then responder.pump(); every wait is a loop on a
// condition with an overall limit, never a sleep.
#include "coapwire/client_engine.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace iot::coapwire {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Bytes = std::vector<std::uint8_t>;

// One datagram the responder received.
struct Incoming {
  Bytes raw;
  std::optional<Message> message;
  sockaddr_storage from{};
  socklen_t from_length = 0;
  Clock::time_point at;

  std::uint16_t from_port() const {
    return ntohs(reinterpret_cast<const sockaddr_in&>(from).sin_port);
  }
  bool is_request() const { return message && message->code.is_request(); }
  bool is_empty(MessageType type) const {
    return message && message->code.is_empty() && message->type == type;
  }
};

class Socket {
 public:
  explicit Socket(int family)
      : fd_(::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) {}
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Binds a loopback socket of `family` to an ephemeral port; returns the port or 0.
std::uint16_t bind_loopback(int fd, int family) {
  sockaddr_storage address{};
  socklen_t length = 0;
  if (family == AF_INET6) {
    auto& v6 = reinterpret_cast<sockaddr_in6&>(address);
    v6.sin6_family = AF_INET6;
    v6.sin6_addr = in6addr_loopback;
    length = sizeof v6;
  } else {
    auto& v4 = reinterpret_cast<sockaddr_in&>(address);
    v4.sin_family = AF_INET;
    v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    length = sizeof v4;
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0) return 0;
  length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  return family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6&>(address).sin6_port)
                            : ntohs(reinterpret_cast<sockaddr_in&>(address).sin_port);
}

// A CoAP "server" whose every reaction is written by the test: the script sees each datagram and
// answers through reply(), possibly later, possibly from a second socket (another address).
class ScriptedResponder {
 public:
  using Script = std::function<void(ScriptedResponder&, const Incoming&)>;

  explicit ScriptedResponder(Script script, int family = AF_INET)
      : script_(std::move(script)), socket_(family), other_socket_(family) {
    port_ = bind_loopback(socket_.get(), family);
    bind_loopback(other_socket_.get(), family);
    // Room for a thousand devices' requests arriving while the test thread is in engine.poll().
    const int bytes = 8 << 20;
    if (::setsockopt(socket_.get(), SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) != 0) {
      ::setsockopt(socket_.get(), SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
    }
  }

  std::uint16_t port() const { return port_; }

  // Reads everything queued, runs the script on each datagram, sends replies that are due.
  void pump() {
    std::array<std::uint8_t, 4096> buffer{};
    for (;;) {
      Incoming incoming;
      incoming.from_length = sizeof incoming.from;
      const ssize_t length =
          ::recvfrom(socket_.get(), buffer.data(), buffer.size(), 0,
                     reinterpret_cast<sockaddr*>(&incoming.from), &incoming.from_length);
      if (length < 0) break;
      incoming.at = Clock::now();
      incoming.raw.assign(buffer.begin(), buffer.begin() + length);
      incoming.message = decode(incoming.raw);
      log_.push_back(incoming);
      script_(*this, log_.back());
    }
    const auto now = Clock::now();
    for (auto it = delayed_.begin(); it != delayed_.end();) {
      if (it->due > now) {
        ++it;
        continue;
      }
      transmit(it->to, it->bytes, it->from_other_socket);
      it = delayed_.erase(it);
    }
  }

  void reply(const Incoming& to, const Message& message, std::chrono::milliseconds delay = 0ms) {
    reply_raw(to, encode(message), delay);
  }
  void reply_raw(const Incoming& to, const Bytes& bytes, std::chrono::milliseconds delay = 0ms,
                 bool from_other_socket = false) {
    if (delay == 0ms) {
      transmit(to, bytes, from_other_socket);
    } else {
      delayed_.push_back(Delayed{Clock::now() + delay, to, bytes, from_other_socket});
    }
  }

  const std::vector<Incoming>& log() const { return log_; }
  std::vector<Incoming> requests() const {
    std::vector<Incoming> out;
    std::copy_if(log_.begin(), log_.end(), std::back_inserter(out),
                 [](const Incoming& i) { return i.is_request(); });
    return out;
  }
  std::size_t count_empty(MessageType type, std::uint16_t message_id) const {
    return static_cast<std::size_t>(std::count_if(log_.begin(), log_.end(), [&](const auto& i) {
      return i.is_empty(type) && i.message->message_id == message_id;
    }));
  }

 private:
  struct Delayed {
    Clock::time_point due;
    Incoming to;
    Bytes bytes;
    bool from_other_socket;
  };
  void transmit(const Incoming& to, const Bytes& bytes, bool from_other_socket) {
    const int fd = from_other_socket ? other_socket_.get() : socket_.get();
    ::sendto(fd, bytes.data(), bytes.size(), 0, reinterpret_cast<const sockaddr*>(&to.from),
             to.from_length);
  }

  Script script_;
  Socket socket_;
  Socket other_socket_;
  std::uint16_t port_ = 0;
  std::vector<Incoming> log_;
  std::vector<Delayed> delayed_;
};

Message piggybacked(const Message& request, Code code, std::string_view payload = {}) {
  Message response;
  response.type = MessageType::acknowledgement;
  response.code = code;
  response.message_id = request.message_id;
  response.token = request.token;
  response.payload.assign(payload.begin(), payload.end());
  return response;
}

Message separate(const Message& request, MessageType type, std::uint16_t message_id, Code code,
                 std::string_view payload = {}) {
  Message response = piggybacked(request, code, payload);
  response.type = type;
  response.message_id = message_id;
  return response;
}

Message empty(MessageType type, std::uint16_t message_id) {
  Message message;
  message.type = type;
  message.message_id = message_id;
  return message;
}

// A completion, copied: Result's payload and response are only valid during the call.
struct Completed {
  Result result;
  std::string payload;
};

struct Completions {
  std::vector<Completed> all;
  Completion collect() {
    return [this](const Result& result) {
      all.push_back(Completed{result, std::string(result.payload)});
      all.back().result.payload = {};
      all.back().result.response = nullptr;
    };
  }
};

// Short enough for quick tests, long enough that a sanitizer build sharing two cores with other
// tests does not retransmit before the responder answered (tests that count retransmissions say
// so). Tests that wait for timeouts pass smaller values.
TransmissionParameters fast(std::chrono::milliseconds ack_timeout = 150ms) {
  TransmissionParameters parameters;
  parameters.ack_timeout = ack_timeout;
  parameters.ack_random_factor = 1.5;
  parameters.max_retransmit = 4;
  parameters.exchange_timeout = 2s;
  return parameters;
}

EngineOptions options_for(std::uint16_t port, std::size_t devices = 1,
                          TransmissionParameters transmission = fast()) {
  EngineOptions options;
  options.remote_host = "127.0.0.1";
  options.remote_port = port;
  options.devices = devices;
  options.transmission = transmission;
  options.random_seed = 12345;
  return options;
}

template <typename Done>
bool run_until(ClientEngine& engine, ScriptedResponder& responder, Done done,
               std::chrono::milliseconds limit = 10s) {
  const auto end = Clock::now() + limit;
  while (!done()) {
    const auto now = Clock::now();
    if (now >= end) return false;
    engine.poll(std::min(end, now + 1ms));
    responder.pump();
  }
  return true;
}

// Runs for a while after everything is done, to see what else arrives.
void run_for(ClientEngine& engine, ScriptedResponder& responder, std::chrono::milliseconds span) {
  run_until(
      engine, responder, [] { return false; }, span);
}

Request get(std::string_view path, MessageType type = MessageType::confirmable) {
  Request request;
  request.type = type;
  request.method = codes::kGet;
  request.path = path;
  return request;
}

TEST(coapwire_ClientEngine, PiggybackedResponseCompletesTheRequest) {
  ScriptedResponder responder([](ScriptedResponder& server, const Incoming& in) {
    if (!in.is_request()) return;
    Message response = piggybacked(*in.message, codes::kContent, "21.5");
    response.add_uint_option(options::kMaxAge, 30);
    response.set_content_format(kContentFormatTextPlain);
    server.reply(in, response);
  });
  ClientEngine engine(options_for(responder.port()));
  Completions done;
  Request request = get("sensors/temp");
  request.method = codes::kPost;
  request.content_format = kContentFormatJson;
  const std::string body = R"({"v":1})";
  request.payload = bytes_of(body);
  engine.send(0, request, done.collect());
  EXPECT_EQ(engine.in_flight(), 1u);
  ASSERT_TRUE(run_until(engine, responder, [&] { return !done.all.empty(); }));

  const auto requests = responder.requests();
  ASSERT_EQ(requests.size(), 1u);
  const Message& sent = *requests[0].message;
  EXPECT_EQ(sent.type, MessageType::confirmable);
  EXPECT_EQ(sent.code, codes::kPost);
  EXPECT_EQ(sent.uri_path(), "sensors/temp");
  EXPECT_EQ(sent.content_format(), kContentFormatJson);
  EXPECT_EQ(sent.payload_text(), body);
  EXPECT_EQ(sent.token.length, 4);
  EXPECT_EQ(requests[0].from_port(), engine.local_port(0));

  const Result& result = done.all[0].result;
  EXPECT_EQ(result.kind, Result::Kind::response);
  EXPECT_EQ(result.code, codes::kContent);
  EXPECT_EQ(result.response_type, MessageType::acknowledgement);
  EXPECT_EQ(result.message_id, sent.message_id);
  EXPECT_EQ(done.all[0].payload, "21.5");
  EXPECT_EQ(result.max_age, 30u);
  EXPECT_EQ(result.content_format, kContentFormatTextPlain);
  EXPECT_EQ(result.retransmissions, 0u);
  EXPECT_FALSE(result.separate);
  EXPECT_GE(result.completed_at, result.first_sent_at);
  EXPECT_NE(result.first_sent_at, Clock::time_point{});
  EXPECT_EQ(engine.in_flight(), 0u);
  const EngineCounters counters = engine.counters();
  EXPECT_EQ(counters.requests, 1u);
  EXPECT_EQ(counters.responses, 1u);
  EXPECT_EQ(counters.datagrams_sent, 1u);
  EXPECT_EQ(counters.datagrams_received, 1u);
}

TEST(coapwire_ClientEngine, ConfirmableIsRetransmittedAtRfcIntervalsUntilAcknowledged) {
  constexpr auto kAckTimeout = 40ms;
  constexpr std::size_t kDropped = 3;
  ScriptedResponder responder([&](ScriptedResponder& server, const Incoming& in) {
    if (in.is_request() && server.requests().size() > kDropped) {
      server.reply(in, piggybacked(*in.message, codes::kCreated));
    }
  });
  ClientEngine engine(options_for(responder.port(), 1, fast(kAckTimeout)));
  Completions done;
  engine.send(0, get("events"), done.collect());
  ASSERT_TRUE(run_until(engine, responder, [&] { return !done.all.empty(); }));

  const auto copies = responder.requests();
  ASSERT_EQ(copies.size(), kDropped + 1);
  for (const Incoming& copy : copies) {
    EXPECT_EQ(copy.message->message_id, copies[0].message->message_id);
    EXPECT_EQ(copy.message->token, copies[0].message->token);
    EXPECT_EQ(copy.raw, copies[0].raw);
  }
  // Gap i is the initial timeout doubled i times: in [T, 1.5 T] * 2^i. Lower bounds are firm
  // (timers never fire early; a little slack for the receive timestamps); upper bounds get
  // generous slack for a loaded machine.
  for (std::size_t i = 0; i + 1 < copies.size(); ++i) {
    const auto gap = copies[i + 1].at - copies[i].at;
    const auto low = kAckTimeout * (1 << i);
    EXPECT_GE(gap, low - 3ms) << "gap " << i;
    EXPECT_LE(gap, low * 3 / 2 + 150ms) << "gap " << i;
  }
  const Result& result = done.all[0].result;
  EXPECT_EQ(result.kind, Result::Kind::response);
  EXPECT_EQ(result.code, codes::kCreated);
  EXPECT_EQ(result.retransmissions, kDropped);
  EXPECT_EQ(engine.counters().retransmissions, kDropped);
  EXPECT_EQ(engine.counters().requests, 1u);
}

TEST(coapwire_ClientEngine, ConfirmableTimesOutAfterMaxRetransmit) {
  constexpr auto kAckTimeout = 20ms;
  ScriptedResponder responder([](ScriptedResponder&, const Incoming&) {});
  ClientEngine engine(options_for(responder.port(), 1, fast(kAckTimeout)));
  Completions done;
  engine.send(0, get("events"), done.collect());
  ASSERT_TRUE(run_until(engine, responder, [&] { return !done.all.empty(); }));
  const Result& result = done.all[0].result;
  EXPECT_EQ(result.kind, Result::Kind::timeout);
  EXPECT_EQ(result.retransmissions, 4u);
  EXPECT_EQ(responder.requests().size(), 5u);
  // Gives up when the timeout after the last retransmission expires: at least T * (2^5 - 1).
  EXPECT_GE(result.completed_at - result.first_sent_at, kAckTimeout * 31);
  EXPECT_EQ(engine.counters().timeouts, 1u);
  run_for(engine, responder, 100ms);
  EXPECT_EQ(responder.requests().size(), 5u) << "nothing after giving up";
}

TEST(coapwire_ClientEngine, EmptyAckThenSeparateConfirmableResponse) {
  constexpr auto kAckTimeout = 100ms;
  constexpr std::uint16_t kServerId = 0x7000;
  ScriptedResponder responder([&](ScriptedResponder& server, const Incoming& in) {
    if (!in.is_request()) return;
    server.reply(in, empty(MessageType::acknowledgement, in.message->message_id));
    // Later than several retransmission timeouts: the empty ACK must have stopped them.
    server.reply(
        in, separate(*in.message, MessageType::confirmable, kServerId, codes::kCreated, "stored"),
        kAckTimeout * 4);
  });
  ClientEngine engine(options_for(responder.port(), 1, fast(kAckTimeout)));
  Completions done;
  engine.send(0, get("events"), done.collect());
  ASSERT_TRUE(run_until(engine, responder, [&] {
    return !done.all.empty() && responder.count_empty(MessageType::acknowledgement, kServerId) > 0;
  }));
  const Result& result = done.all[0].result;
  EXPECT_EQ(result.kind, Result::Kind::response);
  EXPECT_EQ(result.code, codes::kCreated);
  EXPECT_EQ(result.response_type, MessageType::confirmable);
  EXPECT_TRUE(result.separate);
  EXPECT_EQ(result.retransmissions, 0u);
  EXPECT_EQ(done.all[0].payload, "stored");
  EXPECT_GE(result.completed_at - result.first_sent_at, kAckTimeout * 4);
  EXPECT_EQ(responder.requests().size(), 1u) << "no retransmission after the empty ACK";
  EXPECT_EQ(responder.count_empty(MessageType::acknowledgement, kServerId), 1u);
  EXPECT_EQ(engine.counters().acks_sent, 1u);
}

TEST(coapwire_ClientEngine, EmptyAckThenSeparateNonConfirmableResponse) {
  ScriptedResponder responder([](ScriptedResponder& server, const Incoming& in) {
    if (!in.is_request()) return;
    server.reply(in, empty(MessageType::acknowledgement, in.message->message_id));
    server.reply(in, separate(*in.message, MessageType::non_confirmable, 0x7001, codes::kCreated),
                 50ms);
  });
  ClientEngine engine(options_for(responder.port()));
  Completions done;
  engine.send(0, get("events"), done.collect());
  ASSERT_TRUE(run_until(engine, responder, [&] { return !done.all.empty(); }));
  EXPECT_EQ(done.all[0].result.response_type, MessageType::non_confirmable);
  EXPECT_TRUE(done.all[0].result.separate);
  run_for(engine, responder, 30ms);
  EXPECT_EQ(engine.counters().acks_sent, 0u) << "a NON response is not acknowledged";
}

TEST(coapwire_ClientEngine, SeparateResponseBeforeItsEmptyAckStillCompletes) {
  // The empty ACK was lost: the CON response alone tells the request arrived (§5.2.2).
  ScriptedResponder responder([](ScriptedResponder& server, const Incoming& in) {
    if (in.is_request() && server.requests().size() == 1) {
      server.reply(in, separate(*in.message, MessageType::confirmable, 0x7002, codes::kChanged));
    }
  });
  ClientEngine engine(options_for(responder.port()));
  Completions done;
  engine.send(0, get("events"), done.collect());
  ASSERT_TRUE(run_until(engine, responder, [&] { return !done.all.empty(); }));
  EXPECT_EQ(done.all[0].result.code, codes::kChanged);
  EXPECT_TRUE(done.all[0].result.separate);
  run_for(engine, responder, 150ms);
  EXPECT_EQ(responder.requests().size(), 1u) << "retransmission stopped";
}

TEST(coapwire_ClientEngine, DuplicateSeparateResponseIsAcknowledgedAgainButCompletesOnce) {
  constexpr std::uint16_t kServerId = 0x7100;
  ScriptedResponder responder([](ScriptedResponder& server, const Incoming& in) {
    if (!in.is_request()) return;
    server.reply(in, empty(MessageType::acknowledgement, in.message->message_id));
    const Message response =
        separate(*in.message, MessageType::confirmable, kServerId, codes::kCreated);
    server.reply(in, response, 20ms);
    server.reply(in, response, 60ms);  // the server did not get our ACK in time
  });
  ClientEngine engine(options_for(responder.port()));
  Completions done;
  engine.send(0, get("events"), done.collect());
  ASSERT_TRUE(run_until(engine, responder, [&] {
    return responder.count_empty(MessageType::acknowledgement, kServerId) == 2;
  }));
  run_for(engine, responder, 20ms);
  EXPECT_EQ(done.all.size(), 1u);
  EXPECT_EQ(engine.counters().duplicates, 1u);
  EXPECT_EQ(engine.counters().acks_sent, 2u);
  EXPECT_EQ(engine.counters().unmatched, 0u);
}

TEST(coapwire_ClientEngine, PiggybackedAnswersToEachRetransmissionCompleteOnce) {
  // libcoap answers every copy of a CON (it does not deduplicate): the second ACK is a duplicate.
  ScriptedResponder responder([](ScriptedResponder& server, const Incoming& in) {
    if (!in.is_request()) return;
    server.reply(in, piggybacked(*in.message, codes::kCreated));
    server.reply(in, piggybacked(*in.message, codes::kCreated));
  });
  ClientEngine engine(options_for(responder.port()));
  Completions done;
  engine.send(0, get("events"), done.collect());
  ASSERT_TRUE(run_until(engine, responder, [&] { return engine.counters().duplicates == 1; }));
  EXPECT_EQ(done.all.size(), 1u);
}

TEST(coapwire_ClientEngine, SeparateResponseTimesOutAfterTheExchangeTimeout) {
  ScriptedResponder responder([](ScriptedResponder& server, const Incoming& in) {
    if (in.is_request()) {
      server.reply(in, empty(MessageType::acknowledgement, in.message->message_id));
    }
  });
  TransmissionParameters transmission = fast();
  transmission.exchange_timeout = 150ms;
  ClientEngine engine(options_for(responder.port(), 1, transmission));
  Completions done;
  engine.send(0, get("events"), done.collect());
  ASSERT_TRUE(run_until(engine, responder, [&] { return !done.all.empty(); }));
  const Result& result = done.all[0].result;
  EXPECT_EQ(result.kind, Result::Kind::timeout);
  EXPECT_EQ(result.retransmissions, 0u);
  EXPECT_GE(result.completed_at - result.first_sent_at, 150ms);
  EXPECT_EQ(responder.requests().size(), 1u);
}

TEST(coapwire_ClientEngine, ResetCompletesWithKindReset) {
  ScriptedResponder responder([](ScriptedResponder& server, const Incoming& in) {
    if (in.is_request()) server.reply(in, empty(MessageType::reset, in.message->message_id));
  });
  ClientEngine engine(options_for(responder.port()));
  Completions done;
  engine.send(0, get("events"), done.collect());
  ASSERT_TRUE(run_until(engine, responder, [&] { return !done.all.empty(); }));
  EXPECT_EQ(done.all[0].result.kind, Result::Kind::reset);
  EXPECT_EQ(done.all[0].result.response_type, MessageType::reset);
  EXPECT_EQ(engine.counters().resets, 1u);
}

TEST(coapwire_ClientEngine, AnswersForUnknownTokensAndIdsAreCountedAndIgnored) {
  constexpr std::uint16_t kStrangerId = 0x4242;
  ScriptedResponder responder([](ScriptedResponder& server, const Incoming& in) {
    if (!in.is_request()) return;
    const Message& request = *in.message;
    if (server.requests().size() == 1) {
      Message wrong_id = piggybacked(request, codes::kContent);
      wrong_id.message_id = static_cast<std::uint16_t>(request.message_id + 100);
      server.reply(in, wrong_id);
      Message wrong_token = piggybacked(request, codes::kContent);
      wrong_token.token.bytes[0] ^= 0xff;
      server.reply(in, wrong_token);
      Message stranger = separate(request, MessageType::confirmable, kStrangerId, codes::kContent);
      stranger.token.bytes[1] ^= 0xff;
      server.reply(in, stranger);
      Message stranger_non = stranger;
      stranger_non.type = MessageType::non_confirmable;
      server.reply(in, stranger_non);
      return;  // the request itself goes unanswered: it must be retransmitted
    }
    server.reply(in, piggybacked(request, codes::kContent, "right"));
  });
  ClientEngine engine(options_for(responder.port()));
  Completions done;
  engine.send(0, get("events"), done.collect());
  ASSERT_TRUE(run_until(engine, responder, [&] {
    return !done.all.empty() && responder.count_empty(MessageType::reset, kStrangerId) == 1;
  }));
  EXPECT_EQ(done.all[0].payload, "right");
  EXPECT_EQ(done.all[0].result.retransmissions, 1u);
  EXPECT_EQ(engine.counters().unmatched, 4u);
  EXPECT_EQ(engine.counters().resets_sent, 1u) << "an unknown CON is rejected with RST";
}

TEST(coapwire_ClientEngine, GarbageIsCountedAsDecodeErrors) {
  ScriptedResponder responder([](ScriptedResponder& server, const Incoming& in) {
    if (!in.is_request()) return;
    server.reply_raw(in, Bytes{0xff, 0x00});
    server.reply_raw(in, Bytes{0x80, 0x45, 0x00, 0x01});                    // version 2
    server.reply_raw(in, Bytes{0x69, 0x45, 0x00, 0x01, 1, 2, 3, 4, 5, 6});  // TKL 9
    server.reply_raw(in, Bytes(3000, 0x60));                                // cut at 2048
    Bytes marker_only = encode(piggybacked(*in.message, codes::kContent));
    marker_only.push_back(0xff);
    server.reply_raw(in, marker_only);
    server.reply(in, piggybacked(*in.message, codes::kContent, "fine"));
  });
  ClientEngine engine(options_for(responder.port()));
  Completions done;
  engine.send(0, get("events"), done.collect());
  ASSERT_TRUE(run_until(engine, responder, [&] { return !done.all.empty(); }));
  EXPECT_EQ(done.all[0].payload, "fine");
  EXPECT_EQ(engine.counters().decode_errors, 5u);
  EXPECT_EQ(engine.counters().datagrams_received, 6u);
}

TEST(coapwire_ClientEngine, NonRequestCompletesOnNonResponse) {
  ScriptedResponder responder([](ScriptedResponder& server, const Incoming& in) {
    if (!in.is_request()) return;
    server.reply(in, separate(*in.message, MessageType::non_confirmable, 0x1111, codes::kCreated));
  });
  ClientEngine engine(options_for(responder.port()));
  Completions done;
  engine.send(0, get("events", MessageType::non_confirmable), done.collect());
  ASSERT_TRUE(run_until(engine, responder, [&] { return !done.all.empty(); }));
  EXPECT_EQ(responder.requests()[0].message->type, MessageType::non_confirmable);
  EXPECT_EQ(done.all[0].result.code, codes::kCreated);
  EXPECT_EQ(done.all[0].result.response_type, MessageType::non_confirmable);
  EXPECT_FALSE(done.all[0].result.separate);
}

TEST(coapwire_ClientEngine, NonRequestCompletesOnConfirmableResponseAndAcknowledgesIt) {
  ScriptedResponder responder([](ScriptedResponder& server, const Incoming& in) {
    if (!in.is_request()) return;
    server.reply(in, separate(*in.message, MessageType::confirmable, 0x2222, codes::kCreated));
  });
  ClientEngine engine(options_for(responder.port()));
  Completions done;
  engine.send(0, get("events", MessageType::non_confirmable), done.collect());
  ASSERT_TRUE(run_until(engine, responder, [&] {
    return !done.all.empty() && responder.count_empty(MessageType::acknowledgement, 0x2222) == 1;
  }));
  EXPECT_EQ(done.all[0].result.response_type, MessageType::confirmable);
}

TEST(coapwire_ClientEngine, UnansweredNonRequestTimesOutWithoutRetransmission) {
  ScriptedResponder responder([](ScriptedResponder&, const Incoming&) {});
  TransmissionParameters transmission = fast(20ms);
  transmission.exchange_timeout = 120ms;
  ClientEngine engine(options_for(responder.port(), 1, transmission));
  Completions done;
  engine.send(0, get("events", MessageType::non_confirmable), done.collect());
  ASSERT_TRUE(run_until(engine, responder, [&] { return !done.all.empty(); }));
  EXPECT_EQ(done.all[0].result.kind, Result::Kind::timeout);
  EXPECT_GE(done.all[0].result.completed_at - done.all[0].result.first_sent_at, 120ms);
  EXPECT_EQ(responder.requests().size(), 1u);
  EXPECT_EQ(engine.counters().retransmissions, 0u);
}

TEST(coapwire_ClientEngine, ResponseFromAnotherAddressIsIgnored) {
  ScriptedResponder responder([](ScriptedResponder& server, const Incoming& in) {
    if (!in.is_request()) return;
    const bool first = server.requests().size() == 1;
    server.reply_raw(in, encode(piggybacked(*in.message, codes::kContent)), 0ms, first);
  });
  ClientEngine engine(options_for(responder.port()));
  Completions done;
  engine.send(0, get("events"), done.collect());
  ASSERT_TRUE(run_until(engine, responder, [&] { return !done.all.empty(); }));
  EXPECT_EQ(done.all[0].result.retransmissions, 1u) << "the first answer never reached us";
  EXPECT_EQ(engine.counters().datagrams_received, 1u);
}

TEST(coapwire_ClientEngine, ManyRequestsInFlightOnOneDeviceAreMatchedByToken) {
  // Answers arrive in reverse order: only the token ties each to its request.
  std::vector<Incoming> held;
  std::set<std::uint16_t> held_ids;
  ScriptedResponder responder([&](ScriptedResponder& server, const Incoming& in) {
    if (!in.is_request()) return;
    server.reply(in, empty(MessageType::acknowledgement, in.message->message_id));
    if (!held_ids.insert(in.message->message_id).second) return;  // a retransmission
    held.push_back(in);
    if (held.size() == 500) {
      for (auto it = held.rbegin(); it != held.rend(); ++it) {
        server.reply(*it,
                     separate(*it->message, MessageType::non_confirmable, it->message->message_id,
                              codes::kContent, it->message->payload_text()));
      }
    }
  });
  TransmissionParameters transmission = fast(200ms);
  transmission.exchange_timeout = 5s;
  EngineOptions options = options_for(responder.port(), 1, transmission);
  options.receive_buffer_bytes = 4 << 20;  // the 500 answers arrive in one burst
  ClientEngine engine(options);
  std::vector<std::string> bodies(500);
  std::size_t matched = 0;
  std::set<std::uint16_t> ids;
  for (std::size_t i = 0; i < bodies.size(); ++i) {
    bodies[i] = "request " + std::to_string(i);
    Request request = get("echo");
    request.payload = bytes_of(bodies[i]);
    engine.send(0, request, [&, i](const Result& result) {
      if (result.kind == Result::Kind::response && result.payload == bodies[i]) ++matched;
      ids.insert(result.message_id);
    });
  }
  ASSERT_TRUE(run_until(engine, responder, [&] { return engine.in_flight() == 0; }));
  EXPECT_EQ(matched, bodies.size());
  EXPECT_EQ(ids.size(), bodies.size()) << "one message id per request";
}

TEST(coapwire_ClientEngine, ThousandDevicesEachCompleteSeveralRequests) {
  constexpr std::size_t kDevices = 1000;
  constexpr int kRequestsPerDevice = 3;
  ScriptedResponder responder([](ScriptedResponder& server, const Incoming& in) {
    if (!in.is_request()) return;
    if (in.message->type == MessageType::confirmable) {
      server.reply(in, piggybacked(*in.message, codes::kCreated));
    } else {
      server.reply(in, separate(*in.message, MessageType::non_confirmable, in.message->message_id,
                                codes::kCreated));
    }
  });
  ClientEngine engine(options_for(responder.port(), kDevices, fast(200ms)));
  ASSERT_EQ(engine.device_count(), kDevices);
  std::size_t created = 0;
  std::size_t other = 0;
  std::function<void(std::size_t, int)> next = [&](std::size_t device, int remaining) {
    Request request =
        get("events", device % 2 == 0 ? MessageType::confirmable : MessageType::non_confirmable);
    request.method = codes::kPost;
    engine.send(device, request, [&, device, remaining](const Result& result) {
      (result.kind == Result::Kind::response && result.code == codes::kCreated ? created : other)++;
      if (remaining > 1) next(device, remaining - 1);  // keeps the device busy, as iotc will
    });
  };
  for (std::size_t device = 0; device < kDevices; ++device) next(device, kRequestsPerDevice);
  ASSERT_TRUE(run_until(
      engine, responder, [&] { return engine.in_flight() == 0; }, 60s))
      << created << " completed";
  EXPECT_EQ(created, kDevices * kRequestsPerDevice);
  EXPECT_EQ(other, 0u);
  std::set<std::uint16_t> ports;
  for (const Incoming& in : responder.requests()) ports.insert(in.from_port());
  EXPECT_EQ(ports.size(), kDevices) << "every device is its own source port";
}

TEST(coapwire_ClientEngine, HundredThousandOutstandingTimersExpireInTime) {
  // A socket that never reads: every request goes unanswered.
  Socket sink(AF_INET);
  const std::uint16_t port = bind_loopback(sink.get(), AF_INET);
  TransmissionParameters transmission = fast(50ms);
  transmission.exchange_timeout = 400ms;
  ClientEngine engine(options_for(port, 100, transmission));
  constexpr std::size_t kPerDevice = 1000;
  std::size_t timeouts = 0;
  const auto start = Clock::now();
  for (std::size_t i = 0; i < kPerDevice; ++i) {
    for (std::size_t device = 0; device < engine.device_count(); ++device) {
      engine.send(device, get("events", MessageType::non_confirmable),
                  [&timeouts](const Result& result) {
                    if (result.kind == Result::Kind::timeout) ++timeouts;
                  });
    }
  }
  ASSERT_EQ(engine.in_flight(), 100'000u);
  const auto end = start + 60s;
  while (engine.in_flight() > 0 && Clock::now() < end) engine.poll(end);
  EXPECT_EQ(timeouts, 100'000u);
  EXPECT_EQ(engine.counters().requests, 100'000u);
  // Generous: the point is that nothing scans all exchanges per poll (that would take minutes).
  EXPECT_LT(Clock::now() - start, 30s);
}

TEST(coapwire_ClientEngine, DeviceWithEveryMessageIdInFlightRefusesTheNextRequest) {
  // An open loop far ahead of its server: 65,536 requests of one device unanswered. The next one
  // cannot have an id that is not in flight; it is refused and counted, nothing throws, other
  // devices are not affected, and each answer frees an id for the next request.
  constexpr std::size_t kIds = 65'536;
  constexpr std::size_t kAnswered = 3;
  std::set<std::uint16_t> answered_ids;
  std::uint16_t device_0_port = 0;
  ScriptedResponder responder([&](ScriptedResponder& server, const Incoming& in) {
    if (!in.is_request() || in.from_port() != device_0_port) return;
    if (answered_ids.size() >= kAnswered) return;
    if (!answered_ids.insert(in.message->message_id).second) return;
    server.reply(in, piggybacked(*in.message, codes::kCreated));
  });
  TransmissionParameters transmission = fast(30s);  // no retransmission, no timeout in the test
  transmission.exchange_timeout = 60s;
  ClientEngine engine(options_for(responder.port(), 2, transmission));
  device_0_port = engine.local_port(0);
  Completions done;
  for (std::size_t i = 0; i < kIds; ++i) {
    ASSERT_TRUE(engine.send(0, get("events"), done.collect())) << "request " << i;
  }
  ASSERT_EQ(engine.in_flight(), kIds);

  bool refused_called = false;
  bool queued = true;
  EXPECT_NO_THROW(queued =
                      engine.send(0, get("events"), [&](const Result&) { refused_called = true; }));
  EXPECT_FALSE(queued);
  EXPECT_EQ(engine.in_flight(), kIds) << "a refused request is not in flight";
  EXPECT_EQ(engine.counters().no_message_id, 1u);
  EXPECT_TRUE(engine.send(1, get("events"), done.collect())) << "device 1 has its own ids";

  // The first requests that reach the responder are answered; the rest stay in flight.
  ASSERT_TRUE(run_until(engine, responder, [&] { return done.all.size() >= kAnswered; }));
  EXPECT_FALSE(refused_called) << "a refused request never completes";
  ASSERT_EQ(done.all.size(), kAnswered);
  std::set<std::uint16_t> completed_ids;
  for (const Completed& completed : done.all) {
    EXPECT_EQ(completed.result.kind, Result::Kind::response);
    completed_ids.insert(completed.result.message_id);
  }
  EXPECT_EQ(completed_ids, answered_ids);
  EXPECT_EQ(engine.in_flight(), kIds + 1 - kAnswered);

  // Each answer freed exactly one id: that many requests go out again, on exactly those ids.
  const std::size_t requests_before = responder.requests().size();
  for (std::size_t i = 0; i < kAnswered; ++i) {
    EXPECT_TRUE(engine.send(0, get("events"), done.collect())) << "after answer " << i;
  }
  EXPECT_FALSE(engine.send(0, get("events"), done.collect())) << "full again";
  EXPECT_EQ(engine.counters().no_message_id, 2u);
  ASSERT_TRUE(run_until(engine, responder, [&] {
    return responder.requests().size() >= requests_before + kAnswered;
  }));
  std::set<std::uint16_t> reused_ids;
  const auto requests = responder.requests();
  for (std::size_t i = requests_before; i < requests.size(); ++i) {
    if (requests[i].from_port() == engine.local_port(0)) {
      reused_ids.insert(requests[i].message->message_id);
    }
  }
  EXPECT_EQ(reused_ids, answered_ids);
  EXPECT_EQ(engine.counters().retransmissions, 0u);
}

TEST(coapwire_ClientEngine, ClosedServerPortIsCountedAndRetriedNotFatal) {
  std::uint16_t port = 0;
  {
    Socket probe(AF_INET);
    port = bind_loopback(probe.get(), AF_INET);
  }
  TransmissionParameters transmission = fast(20ms);
  transmission.max_retransmit = 2;
  ClientEngine engine(options_for(port, 1, transmission));
  Completions done;
  engine.send(0, get("events"), done.collect());
  const auto end = Clock::now() + 5s;
  while (done.all.empty() && Clock::now() < end) engine.poll(end);
  ASSERT_EQ(done.all.size(), 1u);
  EXPECT_EQ(done.all[0].result.kind, Result::Kind::timeout);
  EXPECT_GE(engine.counters().socket_errors, 1u) << "ICMP port unreachable";
  EXPECT_EQ(engine.counters().send_errors, 0u);
}

TEST(coapwire_ClientEngine, OversizedDatagramCompletesWithSendError) {
  ScriptedResponder responder([](ScriptedResponder&, const Incoming&) {});
  ClientEngine engine(options_for(responder.port()));
  Completions done;
  const Bytes huge(70'000, 'x');
  Request request = get("events");
  request.payload = huge;
  engine.send(0, request, done.collect());
  engine.send(0, get("events"), done.collect());  // the queue goes on after a failure
  ASSERT_TRUE(run_until(engine, responder, [&] { return !done.all.empty(); }));
  EXPECT_EQ(done.all[0].result.kind, Result::Kind::send_error);
  EXPECT_EQ(done.all[0].result.error, EMSGSIZE);
  EXPECT_EQ(done.all[0].result.first_sent_at, Clock::time_point{});
  ASSERT_TRUE(run_until(engine, responder, [&] { return !responder.requests().empty(); }));
  EXPECT_EQ(engine.counters().send_errors, 1u);
}

TEST(coapwire_ClientEngine, TalksToAnIpv6Server) {
  Socket probe(AF_INET6);
  if (bind_loopback(probe.get(), AF_INET6) == 0) GTEST_SKIP() << "no IPv6 loopback here";
  ScriptedResponder responder(
      [](ScriptedResponder& server, const Incoming& in) {
        if (in.is_request()) server.reply(in, piggybacked(*in.message, codes::kContent));
      },
      AF_INET6);
  EngineOptions options = options_for(responder.port());
  options.remote_host = "[::1]";
  ClientEngine engine(options);
  Completions done;
  engine.send(0, get("events"), done.collect());
  ASSERT_TRUE(run_until(engine, responder, [&] { return !done.all.empty(); }));
  EXPECT_EQ(done.all[0].result.code, codes::kContent);
}

TEST(coapwire_ClientEngine, CompletionMaySendButNotPoll) {
  ScriptedResponder responder([](ScriptedResponder& server, const Incoming& in) {
    if (in.is_request()) server.reply(in, piggybacked(*in.message, codes::kContent));
  });
  ClientEngine engine(options_for(responder.port()));
  bool threw = false;
  engine.send(0, get("a"), [&](const Result&) {
    try {
      engine.poll(Clock::now());
    } catch (const std::logic_error&) {
      threw = true;
    }
  });
  ASSERT_TRUE(run_until(engine, responder, [&] { return engine.in_flight() == 0; }));
  EXPECT_TRUE(threw);
  Completions done;
  engine.send(0, get("b"), done.collect());
  ASSERT_TRUE(run_until(engine, responder, [&] { return !done.all.empty(); }));
}

TEST(coapwire_ClientEngine, PollReturnsAtItsDeadlineWhenNothingCompletes) {
  ScriptedResponder responder([](ScriptedResponder&, const Incoming&) {});
  ClientEngine engine(options_for(responder.port()));
  const auto start = Clock::now();
  EXPECT_EQ(engine.poll(start + 30ms), 0u);
  EXPECT_GE(Clock::now() - start, 30ms);
  EXPECT_EQ(engine.poll(start), 0u) << "a past deadline does not wait";
}

TEST(coapwire_ClientEngine, RejectsBadOptionsAndRequests) {
  EngineOptions options = options_for(5683);
  options.devices = 0;
  EXPECT_THROW(ClientEngine{options}, std::invalid_argument);
  options.devices = kMaxDevices + 1;
  EXPECT_THROW(ClientEngine{options}, std::invalid_argument);
  options = options_for(5683);
  options.token_bytes = 2;
  EXPECT_THROW(ClientEngine{options}, std::invalid_argument);
  options = options_for(5683);
  options.remote_host = "no-such-host.invalid";
  EXPECT_THROW(ClientEngine{options}, std::runtime_error);

  ClientEngine engine(options_for(5683, 2));
  EXPECT_THROW(engine.send(2, get("x"), nullptr), std::out_of_range);
  Request ack = get("x");
  ack.type = MessageType::acknowledgement;
  EXPECT_THROW(engine.send(0, ack, nullptr), std::invalid_argument);
  Request not_a_method = get("x");
  not_a_method.method = codes::kContent;
  EXPECT_THROW(engine.send(0, not_a_method, nullptr), std::invalid_argument);
  EXPECT_EQ(engine.in_flight(), 0u);
}

TEST(coapwire_ClientEngine, TooManyDevicesForTheDescriptorLimitSaysHowManyAreNeeded) {
  rlimit limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &limit), 0);
  if (limit.rlim_max == RLIM_INFINITY || limit.rlim_max > kMaxDevices) {
    GTEST_SKIP() << "the hard limit allows " << kMaxDevices << " devices here";
  }
  EngineOptions options = options_for(5683, kMaxDevices);
  try {
    ClientEngine engine(options);
    FAIL() << "expected an exception";
  } catch (const std::runtime_error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("50000 devices need"), std::string::npos) << message;
    EXPECT_NE(message.find("file descriptors"), std::string::npos) << message;
  }
}

TEST(coapwire_ClientEngine, RaisesTheSoftDescriptorLimitWhenNeeded) {
  rlimit original{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &original), 0);
  if (original.rlim_max != RLIM_INFINITY && original.rlim_max < 2000) {
    GTEST_SKIP() << "hard limit too low";
  }
  rlimit lowered = original;
  lowered.rlim_cur = 256;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &lowered), 0);
  struct Restore {
    rlimit limit;
    ~Restore() { ::setrlimit(RLIMIT_NOFILE, &limit); }
  } restore{original};
  ClientEngine engine(options_for(5683, 1000));
  EXPECT_EQ(engine.device_count(), 1000u);
  rlimit now{};
  ::getrlimit(RLIMIT_NOFILE, &now);
  EXPECT_GT(now.rlim_cur, 1000u);
}

// ---- DeviceSpread::loopback_addresses --------------------------------------------------------

EngineOptions loopback_addresses_for(std::uint16_t port, std::size_t devices) {
  EngineOptions options = options_for(port, devices, fast(200ms));
  options.spread = DeviceSpread::loopback_addresses;
  options.receive_buffer_bytes = 4 << 20;  // every device's answers arrive on one socket
  return options;
}

std::uint32_t source_address_of(const Incoming& in) {
  return ntohl(reinterpret_cast<const sockaddr_in&>(in.from).sin_addr.s_addr);
}

TEST(coapwire_ClientEngine, LoopbackAddressesGiveEveryDeviceItsOwnAddressOnOnePort) {
  constexpr std::size_t kDevices = 1000;
  constexpr int kRequestsPerDevice = 3;
  // Every answer echoes its request's body, so a reply delivered to the wrong device shows.
  ScriptedResponder responder([](ScriptedResponder& server, const Incoming& in) {
    if (!in.is_request()) return;
    const std::string body(in.message->payload_text());
    if (in.message->type == MessageType::confirmable) {
      server.reply(in, piggybacked(*in.message, codes::kCreated, body));
    } else {
      server.reply(in, separate(*in.message, MessageType::non_confirmable, in.message->message_id,
                                codes::kCreated, body));
    }
  });
  ClientEngine engine(loopback_addresses_for(responder.port(), kDevices));
  ASSERT_EQ(engine.device_count(), kDevices);
  std::vector<std::string> bodies(kDevices);
  std::size_t echoed = 0;
  std::size_t other = 0;
  std::function<void(std::size_t, int)> next = [&](std::size_t device, int remaining) {
    bodies[device] = "device " + std::to_string(device);
    Request request =
        get("events", device % 2 == 0 ? MessageType::confirmable : MessageType::non_confirmable);
    request.method = codes::kPost;
    request.payload = bytes_of(bodies[device]);
    engine.send(device, request, [&, device, remaining](const Result& result) {
      const bool mine = result.kind == Result::Kind::response && result.code == codes::kCreated &&
                        result.payload == bodies[device];
      (mine ? echoed : other)++;
      if (remaining > 1) next(device, remaining - 1);
    });
  };
  for (std::size_t device = 0; device < kDevices; ++device) next(device, kRequestsPerDevice);
  ASSERT_TRUE(run_until(
      engine, responder, [&] { return engine.in_flight() == 0; }, 60s))
      << echoed << " completed";
  EXPECT_EQ(echoed, kDevices * kRequestsPerDevice);
  EXPECT_EQ(other, 0u);
  EXPECT_EQ(engine.counters().unmatched, 0u);
  std::map<std::uint32_t, std::size_t> requests_by_address;
  std::set<std::uint16_t> ports;
  for (const Incoming& in : responder.requests()) {
    ++requests_by_address[source_address_of(in)];
    ports.insert(in.from_port());
  }
  ASSERT_EQ(requests_by_address.size(), kDevices) << "every device is its own source address";
  EXPECT_EQ(requests_by_address.begin()->first, loopback_device_address(0));
  EXPECT_EQ(requests_by_address.rbegin()->first, loopback_device_address(kDevices - 1));
  EXPECT_EQ(ports, std::set<std::uint16_t>{engine.local_port(0)}) << "all on one port";
  EXPECT_EQ(engine.local_port(kDevices - 1), engine.local_port(0));
}

TEST(coapwire_ClientEngine, LoopbackAddressesIgnoreStrangersAndUnknownDevices) {
  ScriptedResponder responder([](ScriptedResponder& server, const Incoming& in) {
    if (!in.is_request()) return;
    const Bytes answer = encode(piggybacked(*in.message, codes::kContent));
    if (server.requests().size() > 1) {
      server.reply_raw(in, answer);
      return;
    }
    // The first copy's answer comes from another port, and another goes to an address no
    // device has: neither completes anything, so the request is retransmitted.
    server.reply_raw(in, answer, 0ms, /*from_other_socket=*/true);
    Incoming elsewhere = in;
    reinterpret_cast<sockaddr_in&>(elsewhere.from).sin_addr.s_addr =
        htonl(loopback_device_address(7));
    server.reply_raw(elsewhere, answer);
  });
  ClientEngine engine(loopback_addresses_for(responder.port(), 2));
  Completions done;
  engine.send(1, get("health"), done.collect());
  ASSERT_TRUE(run_until(engine, responder, [&] { return !done.all.empty(); }));
  EXPECT_EQ(done.all[0].result.kind, Result::Kind::response);
  EXPECT_EQ(done.all[0].result.retransmissions, 1u) << "the first answers were not ours";
  EXPECT_EQ(engine.counters().unmatched, 2u);
  EXPECT_EQ(source_address_of(responder.requests()[0]), loopback_device_address(1));
}

TEST(coapwire_ClientEngine, LoopbackAddressesNeedAnIpv4LoopbackServerAndNoDtls) {
  EngineOptions options = loopback_addresses_for(5683, 2);
  options.remote_host = "::1";
  EXPECT_THROW(ClientEngine{options}, std::invalid_argument);
  options.remote_host = "192.0.2.1";
  EXPECT_THROW(ClientEngine{options}, std::invalid_argument);
  options = loopback_addresses_for(5683, 2);
  options.dtls_devices.push_back(
      dtls::ClientCredentials{"device", std::vector<std::uint8_t>(16, 1)});
  EXPECT_THROW(ClientEngine{options}, std::invalid_argument);
  options = loopback_addresses_for(5683, 2);
  options.remote_host = "127.0.0.2";
  EXPECT_NO_THROW(ClientEngine{options}) << "any address of 127.0.0.0/8";
}

}  // namespace
}  // namespace iot::coapwire

#include "coap/server.hpp"

#include <coap3/coap.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <unordered_set>
#include <vector>

#include "coap/exchange_cache.hpp"
#include "logging/log.hpp"
#include "socket_options.hpp"

namespace iot::coap {
namespace {

static_assert(kMaxDatagramBytes == COAP_RXBUFFER_SIZE);

// A burst of datagrams is drained in one wake-up, but bounded so a flood on one worker cannot
// starve its timers and the other work on its event loop.
constexpr int kMaxDatagramsPerWakeup = 64;

void log_from_libcoap(coap_log_t level, const char* message) {
  std::string_view text(message);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  const auto our_level = level <= LOG_ERR       ? logging::Level::error
                         : level <= LOG_WARNING ? logging::Level::warn
                         : level <= LOG_INFO    ? logging::Level::info
                                                : logging::Level::debug;
  logging::write(our_level, "libcoap", {{"detail", text}});
}

Method method_of(coap_pdu_code_t code) {
  switch (code) {
    case COAP_REQUEST_CODE_GET:
      return Method::get;
    case COAP_REQUEST_CODE_POST:
      return Method::post;
    case COAP_REQUEST_CODE_PUT:
      return Method::put;
    case COAP_REQUEST_CODE_DELETE:
      return Method::del;
    case COAP_REQUEST_CODE_FETCH:
      return Method::fetch;
    case COAP_REQUEST_CODE_PATCH:
      return Method::patch;
    case COAP_REQUEST_CODE_IPATCH:
      return Method::ipatch;
    default:
      return Method::other;
  }
}

constexpr coap_request_t kAllMethods[] = {
    COAP_REQUEST_GET,   COAP_REQUEST_POST,  COAP_REQUEST_PUT,   COAP_REQUEST_DELETE,
    COAP_REQUEST_FETCH, COAP_REQUEST_PATCH, COAP_REQUEST_IPATCH};

std::optional<std::uint64_t> uint_option(const coap_pdu_t* pdu, coap_option_num_t number) {
  coap_opt_iterator_t iterator;
  const coap_opt_t* option = coap_check_option(pdu, number, &iterator);
  if (option == nullptr) return std::nullopt;
  return coap_decode_var_bytes8(coap_opt_value(option), coap_opt_length(option));
}

PeerAddress peer_of(const coap_address_t* address) {
  PeerAddress peer;
  if (address == nullptr) return peer;
  if (address->addr.sa.sa_family == AF_INET) {
    peer.bytes[0] = AF_INET;
    std::memcpy(&peer.bytes[1], &address->addr.sin.sin_port, 2);
    std::memcpy(&peer.bytes[3], &address->addr.sin.sin_addr, 4);
    peer.length = 7;
  } else if (address->addr.sa.sa_family == AF_INET6) {
    peer.bytes[0] = AF_INET6;
    std::memcpy(&peer.bytes[1], &address->addr.sin6.sin6_port, 2);
    std::memcpy(&peer.bytes[3], &address->addr.sin6.sin6_addr, 16);
    peer.length = 19;
  }
  return peer;
}

// Size of the PDU as received: header, token, options, payload marker and payload.
std::size_t pdu_size(const coap_pdu_t* pdu, const coap_bin_const_t& token,
                     std::size_t payload_length) {
  std::size_t size = 4 + token.length + (payload_length > 0 ? 1 + payload_length : 0);
  coap_opt_iterator_t iterator;
  coap_option_iterator_init(pdu, &iterator, COAP_OPT_ALL);
  while (coap_opt_t* option = coap_option_next(&iterator)) size += coap_opt_size(option);
  return size;
}

Response unavailable() {
  auto response = Response::text(Code::service_unavailable, "not answered; retry");
  response.max_age = 1;
  return response;
}

void add_uint_option(coap_pdu_t* pdu, coap_option_num_t number, std::uint64_t value) {
  std::uint8_t buffer[8];
  const unsigned length = coap_encode_var_safe8(buffer, sizeof buffer, value);
  coap_add_option(pdu, number, length, buffer);
}

// Options must be added in ascending option number order.
void write_response(const Response& response, coap_pdu_t* pdu) {
  coap_pdu_set_code(pdu, static_cast<coap_pdu_code_t>(response.code));
  if (response.content_format) {
    add_uint_option(pdu, COAP_OPTION_CONTENT_FORMAT, *response.content_format);
  }
  if (response.max_age) add_uint_option(pdu, COAP_OPTION_MAXAGE, *response.max_age);
  if (response.block1) add_uint_option(pdu, COAP_OPTION_BLOCK1, response.block1->encode());
  if (response.size1) add_uint_option(pdu, COAP_OPTION_SIZE1, *response.size1);
  if (!response.payload.empty()) {
    coap_add_data(pdu, response.payload.size(),
                  reinterpret_cast<const std::uint8_t*>(response.payload.data()));
  }
}

coap_address_t resolve(const std::string& host, unsigned short port) {
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
  coap_address_t address;
  coap_address_init(&address);
  address.size = found->ai_addrlen;
  std::memcpy(&address.addr, found->ai_addr, found->ai_addrlen);
  freeaddrinfo(found);
  return address;
}

std::string display_address(const std::string& host, unsigned short port) {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
         std::to_string(port);
}

}  // namespace

void ensure_udp_port_free(const std::string& host, unsigned short port) {
  if (port == 0) return;
  const coap_address_t address = resolve(host, port);
  const int fd = ::socket(address.addr.sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;  // the real bind will report the problem
  const int rc = ::bind(fd, &address.addr.sa, address.size);
  const int error = errno;
  ::close(fd);
  if (rc != 0 && error == EADDRINUSE) {
    throw std::runtime_error("coap listen " + display_address(host, port) + ": " +
                             std::strerror(error));
  }
}

struct ExchangeOrigin {
  Server::Impl* server;
  coap_session_t* session;
  std::span<const std::uint8_t> token;
  mutable bool deferred = false;
};

struct PendingExchange::State {
  Server::Impl* server;     // nullptr once the server is gone
  coap_session_t* session;  // a reference we hold until the answer is sent
  PeerAddress peer;
  std::uint16_t message_id;
  std::string token;
  bool confirmable;
  std::optional<BlockOption> block1;  // the last block of an upload: echoed in the answer
};

unsigned short pick_free_udp_port(const std::string& host) {
  coap_address_t address = resolve(host, 0);
  const int fd = ::socket(address.addr.sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    throw std::runtime_error("coap listen " + display_address(host, 0) + ": " +
                             std::strerror(errno));
  sockaddr_storage bound{};
  socklen_t length = sizeof bound;
  const bool ok = ::bind(fd, &address.addr.sa, address.size) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length) == 0;
  const int error = errno;
  ::close(fd);
  if (!ok)
    throw std::runtime_error("coap listen " + display_address(host, 0) + ": " +
                             std::strerror(error));
  coap_address_t picked;
  coap_address_init(&picked);
  picked.size = length;
  std::memcpy(&picked.addr, &bound, length);
  return coap_address_get_port(&picked);
}

Library::Library(bool verbose) {
  coap_startup();
  coap_set_log_handler(&log_from_libcoap);
  coap_set_show_pdu_output(0);
  coap_set_log_level(verbose ? LOG_DEBUG : LOG_WARNING);
}

Library::~Library() {
  coap_cleanup();
}

struct Server::Impl {
  Impl(const ServerOptions& options, RequestHandler& handler, metrics::Counter& duplicates)
      : handler(handler), exchanges(options.exchange_cache_capacity), duplicates(duplicates) {}

  static void on_request(coap_resource_t* resource, coap_session_t* session,
                         const coap_pdu_t* request_pdu, const coap_string_t* /*query*/,
                         coap_pdu_t* response_pdu) {
    auto* self = static_cast<Impl*>(coap_get_app_data(coap_session_get_context(session)));
    self->dispatch(resource, session, request_pdu, response_pdu);
  }

  void dispatch(coap_resource_t* resource, coap_session_t* session, const coap_pdu_t* request_pdu,
                coap_pdu_t* response_pdu) {
    Request request;
    request.peer = peer_of(coap_session_get_addr_remote(session));
    request.message_id = static_cast<std::uint16_t>(coap_pdu_get_mid(request_pdu));
    const coap_bin_const_t token = coap_pdu_get_token(request_pdu);
    const std::span<const std::uint8_t> token_bytes(token.s, token.length);
    const auto now = ExchangeCache::Clock::now();

    if (const auto known = exchanges.find(request.peer, request.message_id, token_bytes, now)) {
      duplicates.add();
      // Still being answered: with no code set libcoap repeats its empty ACK.
      if (known->response != nullptr) write_response(*known->response, response_pdu);
      return;
    }

    request.method = method_of(coap_pdu_get_code(request_pdu));
    const auto* path = static_cast<const std::string*>(coap_resource_get_userdata(resource));
    request.path = path != nullptr ? std::string_view(*path) : std::string_view();
    request.confirmable = coap_pdu_get_type(request_pdu) == COAP_MESSAGE_CON;
    if (auto format = uint_option(request_pdu, COAP_OPTION_CONTENT_FORMAT)) {
      request.content_format = static_cast<unsigned>(*format);
    }
    if (auto block = uint_option(request_pdu, COAP_OPTION_BLOCK1)) {
      request.block1 = BlockOption::decode(static_cast<std::uint32_t>(*block));
      if (!request.block1) {
        write_response(Response::text(Code::bad_request, "Block1: BERT is not supported over UDP"),
                       response_pdu);
        return;
      }
    }
    request.size1 = uint_option(request_pdu, COAP_OPTION_SIZE1);
    std::size_t length = 0;
    const std::uint8_t* data = nullptr;
    if (coap_get_data(request_pdu, &length, &data) && data != nullptr) {
      request.payload = std::span<const std::uint8_t>(data, length);
      // Only large bodies can have reached the limit; walking the options is not needed otherwise.
      if (length + 64 >= kMaxDatagramBytes)
        request.maybe_truncated = pdu_size(request_pdu, token, length) >= kMaxDatagramBytes;
    }

    const ExchangeOrigin origin{this, session, token_bytes};
    request.origin = &origin;
    std::optional<Response> response = handler.handle(request);
    if (!response && origin.deferred) {
      // No code set: libcoap sends an empty ACK now; PendingExchange::respond sends the answer.
      exchanges.remember_pending(request.peer, request.message_id, token_bytes, now);
      return;
    }
    if (!response) response = Response::text(Code::internal_server_error, "no answer");
    write_response(*response, response_pdu);
    exchanges.remember(request.peer, request.message_id, token_bytes, *response, now);
  }

  // Sends a deferred answer as a separate response: the request was already acknowledged by
  // libcoap's empty ACK, so a confirmable request's answer is itself confirmable (libcoap
  // retransmits it until the device's ACK), a non-confirmable one's is not.
  void send_later(PendingExchange::State& state, const Response& response) {
    coap_session_t* session = state.session;
    coap_pdu_t* pdu =
        coap_pdu_init(state.confirmable ? COAP_MESSAGE_CON : COAP_MESSAGE_NON,
                      static_cast<coap_pdu_code_t>(response.code), coap_new_message_id(session),
                      coap_session_max_pdu_size(session));
    if (pdu != nullptr) {
      coap_add_token(pdu, state.token.size(),
                     reinterpret_cast<const std::uint8_t*>(state.token.data()));
      if (state.block1 && !response.block1) {
        // RFC 7959 §2.3: the final answer to a Block1 upload carries the last block's option.
        Response with_block = response;
        with_block.block1 = BlockOption{state.block1->number, false, state.block1->size_exponent};
        write_response(with_block, pdu);
      } else {
        write_response(response, pdu);
      }
      coap_send(session, pdu);  // takes the PDU, also when sending fails
    }
    const std::span<const std::uint8_t> token(
        reinterpret_cast<const std::uint8_t*>(state.token.data()), state.token.size());
    exchanges.remember(state.peer, state.message_id, token, response, ExchangeCache::Clock::now());
    pending.erase(&state);
    coap_session_release(session);
    state.session = nullptr;
    state.server = nullptr;
  }

  std::unordered_set<PendingExchange::State*> pending;  // answers still owed

  RequestHandler& handler;
  ExchangeCache exchanges;
  metrics::Counter& duplicates;
  coap_context_t* context = nullptr;
  std::vector<std::unique_ptr<std::string>> paths;  // userdata of the resources, outlives them
  std::string unknown_path;
  unsigned short port = 0;
  std::string address;
};

Server::Server(const ServerOptions& options, RequestHandler& handler, metrics::Counter& duplicates)
    : impl_(std::make_unique<Impl>(options, handler, duplicates)) {
  const std::string where = display_address(options.host, options.port);
  coap_address_t listen = resolve(options.host, options.port);

  impl_->context = coap_new_context(nullptr);
  if (impl_->context == nullptr)
    throw std::runtime_error("coap listen " + where + ": cannot create context");
  coap_set_app_data(impl_->context, impl_.get());
  // Block mode 0: every Block1 request reaches the handler as it is, and the application
  // reassembles with a hard cap (libcoap's own reassembly trusts Size1 for allocation).
  coap_context_set_block_mode(impl_->context, 0);
  coap_context_set_max_idle_sessions(impl_->context, options.max_idle_sessions);
  coap_context_set_session_timeout(impl_->context, options.session_timeout_seconds);

  int socket_fd = -1;
  {
    detail::ScopedSocketTuning tuning(options.reuse_port, options.receive_buffer_bytes);
    errno = 0;
    coap_endpoint_t* endpoint = coap_new_endpoint(impl_->context, &listen, COAP_PROTO_UDP);
    const int error = errno;
    if (endpoint == nullptr) {
      coap_free_context(impl_->context);
      impl_->context = nullptr;
      throw std::runtime_error("coap listen " + where + ": " +
                               (error != 0 ? std::strerror(error) : "cannot bind"));
    }
    socket_fd = tuning.socket_fd();
    // libcoap's default of 1152 bytes refuses larger single datagrams with a bare RST; accept
    // everything its receive buffer holds (COAP_RXBUFFER_SIZE, an Ethernet frame's UDP payload).
    coap_endpoint_set_default_mtu(endpoint, kMaxDatagramBytes);
  }
  sockaddr_storage bound{};
  socklen_t bound_length = sizeof bound;
  if (socket_fd >= 0 &&
      getsockname(socket_fd, reinterpret_cast<sockaddr*>(&bound), &bound_length) == 0) {
    coap_address_t bound_address;
    coap_address_init(&bound_address);
    bound_address.size = bound_length;
    std::memcpy(&bound_address.addr, &bound, bound_length);
    impl_->port = coap_address_get_port(&bound_address);
    impl_->address = peer_of(&bound_address).to_string();
  } else {
    impl_->port = options.port;
    impl_->address = where;
  }

  for (const auto& path : options.paths) {
    auto& stored = impl_->paths.emplace_back(std::make_unique<std::string>(path));
    coap_resource_t* resource = coap_resource_init(
        coap_new_str_const(reinterpret_cast<const std::uint8_t*>(stored->data()), stored->size()),
        COAP_RESOURCE_FLAGS_RELEASE_URI);
    for (auto method : kAllMethods)
      coap_register_request_handler(resource, method, &Impl::on_request);
    coap_resource_set_userdata(resource, stored.get());
    coap_add_resource(impl_->context, resource);
  }
  coap_resource_t* unknown = coap_resource_unknown_init2(&Impl::on_request, 0);
  for (auto method : kAllMethods) coap_register_request_handler(unknown, method, &Impl::on_request);
  coap_resource_set_userdata(unknown, &impl_->unknown_path);
  coap_add_resource(impl_->context, unknown);
}

Server::~Server() {
  if (!impl_) return;
  // Every owed answer goes out before the context (and with it the sessions) is freed.
  const std::vector<PendingExchange::State*> owed(impl_->pending.begin(), impl_->pending.end());
  for (auto* state : owed) impl_->send_later(*state, unavailable());
  if (impl_->context != nullptr) coap_free_context(impl_->context);
}

PendingExchange::PendingExchange(std::unique_ptr<State> state) : state_(std::move(state)) {}

PendingExchange::PendingExchange(PendingExchange&& other) noexcept = default;

PendingExchange& PendingExchange::operator=(PendingExchange&& other) noexcept {
  if (this != &other) {
    if (state_ && state_->server != nullptr) state_->server->send_later(*state_, unavailable());
    state_ = std::move(other.state_);
  }
  return *this;
}

PendingExchange::~PendingExchange() {
  if (state_ && state_->server != nullptr) state_->server->send_later(*state_, unavailable());
}

void PendingExchange::respond(const Response& response) {
  if (!state_) return;
  const auto state = std::move(state_);
  if (state->server != nullptr) state->server->send_later(*state, response);
}

PendingExchange defer(const Request& request) {
  if (request.origin == nullptr || request.origin->deferred) {
    throw std::logic_error("coap::defer: only once, inside RequestHandler::handle");
  }
  const ExchangeOrigin& origin = *request.origin;
  origin.deferred = true;
  auto state = std::make_unique<PendingExchange::State>(PendingExchange::State{
      origin.server, coap_session_reference(origin.session), request.peer, request.message_id,
      std::string(reinterpret_cast<const char*>(origin.token.data()), origin.token.size()),
      request.confirmable, request.block1});
  origin.server->pending.insert(state.get());
  return PendingExchange(std::move(state));
}

int Server::event_fd() const {
  return coap_context_get_coap_fd(impl_->context);
}

bool Server::process() {
  pollfd ready{event_fd(), POLLIN, 0};
  for (int i = 0; i < kMaxDatagramsPerWakeup; ++i) {
    coap_io_process(impl_->context, COAP_IO_NO_WAIT);
    if (poll(&ready, 1, 0) <= 0) return false;
  }
  return true;
}

bool Server::has_pending_sends() const {
  return coap_can_exit(impl_->context) == 0;
}

unsigned short Server::local_port() const {
  return impl_->port;
}
std::string Server::local_address() const {
  return impl_->address;
}

}  // namespace iot::coap

#include "remote_endpoint.hpp"

#include <arpa/inet.h>
#include <netdb.h>

#include <cstring>
#include <memory>
#include <stdexcept>

namespace iot::coapwire::detail {
namespace {

struct AddrInfoDeleter {
  void operator()(addrinfo* list) const { ::freeaddrinfo(list); }
};

std::string endpoint_text(const sockaddr_storage& address) {
  char host[INET6_ADDRSTRLEN] = {};
  if (address.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(address);
    ::inet_ntop(AF_INET6, &v6.sin6_addr, host, sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(v6.sin6_port));
  }
  const auto& v4 = reinterpret_cast<const sockaddr_in&>(address);
  ::inet_ntop(AF_INET, &v4.sin_addr, host, sizeof host);
  return std::string(host) + ":" + std::to_string(ntohs(v4.sin_port));
}

}  // namespace

RemoteEndpoint resolve_remote(std::string_view host, std::uint16_t port) {
  std::string name(host);
  // "[::1]" is how URLs and our flags write IPv6; getaddrinfo wants the bare address.
  if (name.size() >= 2 && name.front() == '[' && name.back() == ']') {
    name = name.substr(1, name.size() - 2);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_protocol = IPPROTO_UDP;
  addrinfo* list = nullptr;
  const std::string service = std::to_string(port);
  const int status = ::getaddrinfo(name.c_str(), service.c_str(), &hints, &list);
  std::unique_ptr<addrinfo, AddrInfoDeleter> owner(list);
  if (status != 0 || list == nullptr) {
    throw std::runtime_error("coapwire: cannot resolve remote host '" + name +
                             "': " + ::gai_strerror(status));
  }
  RemoteEndpoint remote;
  std::memcpy(&remote.address, list->ai_addr, list->ai_addrlen);
  remote.length = list->ai_addrlen;
  remote.family = list->ai_family;
  remote.text = endpoint_text(remote.address);
  return remote;
}

}  // namespace iot::coapwire::detail

#include "device_sockets.hpp"

#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <system_error>

namespace iot::coapwire::detail {
namespace {

// Descriptors the rest of the process may still open after the devices (logs, the server's
// sockets in tests, another engine's epoll set): asking for exactly the devices would leave none.
constexpr std::size_t kSpareDescriptors = 64;

std::size_t open_descriptor_count() {
  std::error_code error;
  std::size_t count = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", error), end; !error && it != end;
       it.increment(error)) {
    ++count;
  }
  return count;
}

std::string local_port_range() {
  std::ifstream file("/proc/sys/net/ipv4/ip_local_port_range");
  long low = 0;
  long high = 0;
  if (!(file >> low >> high)) return "net.ipv4.ip_local_port_range";
  return "net.ipv4.ip_local_port_range " + std::to_string(low) + "-" + std::to_string(high) + " (" +
         std::to_string(high - low + 1) + " ports, shared with every other socket)";
}

[[noreturn]] void throw_out_of_descriptors(std::size_t device, std::size_t device_count) {
  throw std::runtime_error("coapwire: ran out of file descriptors at device " +
                           std::to_string(device) + " of " + std::to_string(device_count) +
                           ": every device is one socket; raise RLIMIT_NOFILE (ulimit -n, "
                           "LimitNOFILE=) or use fewer devices per process");
}

// The *FORCE variant passes net.core.[rw]mem_max when we may (CAP_NET_ADMIN, as a load
// generator in a container usually runs); otherwise the plain option is capped by it, and a
// smaller buffer is not an error, only less room for bursts.
void set_buffer(int fd, int force_option, int option, int bytes) {
  if (bytes <= 0) return;
  if (::setsockopt(fd, SOL_SOCKET, force_option, &bytes, sizeof bytes) == 0) return;
  ::setsockopt(fd, SOL_SOCKET, option, &bytes, sizeof bytes);
}

}  // namespace

void reserve_descriptors(std::size_t devices) {
  // One socket per device and the epoll set.
  const std::size_t needed = open_descriptor_count() + devices + 1 + kSpareDescriptors;
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    throw std::system_error(errno, std::generic_category(), "coapwire: getrlimit(RLIMIT_NOFILE)");
  }
  if (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= needed) return;
  if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < needed) {
    throw std::runtime_error(
        "coapwire: " + std::to_string(devices) + " devices need " + std::to_string(needed) +
        " file descriptors (one socket each, plus those already open and a reserve of " +
        std::to_string(kSpareDescriptors) + ") but RLIMIT_NOFILE's hard limit is " +
        std::to_string(limit.rlim_max) +
        ": raise it (ulimit -Hn, LimitNOFILE=, docker --ulimit nofile=) or use fewer devices "
        "per process");
  }
  rlimit raised = limit;
  raised.rlim_cur = limit.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &raised) != 0) {
    // An unlimited hard limit may still be capped by fs.nr_open: ask for what we need instead.
    raised.rlim_cur = needed;
    if (::setrlimit(RLIMIT_NOFILE, &raised) != 0) {
      throw std::system_error(errno, std::generic_category(),
                              "coapwire: cannot raise RLIMIT_NOFILE to " + std::to_string(needed) +
                                  " for " + std::to_string(devices) + " devices");
    }
  }
}

FileDescriptor open_device_socket(const RemoteEndpoint& remote, const SocketBuffers& buffers,
                                  std::size_t device, std::size_t device_count) {
  FileDescriptor socket(::socket(remote.family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!socket) {
    if (errno == EMFILE || errno == ENFILE) throw_out_of_descriptors(device, device_count);
    throw std::system_error(errno, std::generic_category(), "coapwire: socket()");
  }
  set_buffer(socket.get(), SO_SNDBUFFORCE, SO_SNDBUF, buffers.send_bytes);
  set_buffer(socket.get(), SO_RCVBUFFORCE, SO_RCVBUF, buffers.receive_bytes);
  // connect() binds an ephemeral port and makes the kernel drop datagrams from other peers.
  if (::connect(socket.get(), reinterpret_cast<const sockaddr*>(&remote.address), remote.length) !=
      0) {
    if (errno == EAGAIN || errno == EADDRNOTAVAIL || errno == EADDRINUSE) {
      throw std::runtime_error("coapwire: no free local UDP port for device " +
                               std::to_string(device) + " of " + std::to_string(device_count) +
                               " towards " + remote.text + ": " + local_port_range() +
                               "; widen the range or use fewer devices per host");
    }
    throw std::system_error(errno, std::generic_category(),
                            "coapwire: connect() to " + remote.text);
  }
  return socket;
}

FileDescriptor open_shared_loopback_socket(const SocketBuffers& buffers) {
  FileDescriptor socket(::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!socket) throw std::system_error(errno, std::generic_category(), "coapwire: socket()");
  set_buffer(socket.get(), SO_SNDBUFFORCE, SO_SNDBUF, buffers.send_bytes);
  set_buffer(socket.get(), SO_RCVBUFFORCE, SO_RCVBUF, buffers.receive_bytes);
  const int on = 1;
  if (::setsockopt(socket.get(), IPPROTO_IP, IP_PKTINFO, &on, sizeof on) != 0) {
    throw std::system_error(errno, std::generic_category(), "coapwire: setsockopt(IP_PKTINFO)");
  }
  // Only loopback traffic can reach the socket then (Linux 5.7+ allows it without privileges
  // before bind); where it is refused, the engine's check of every sender still applies.
  static constexpr char kLoopback[] = "lo";
  ::setsockopt(socket.get(), SOL_SOCKET, SO_BINDTODEVICE, kLoopback, sizeof kLoopback - 1);
  sockaddr_in any{};
  any.sin_family = AF_INET;
  any.sin_addr.s_addr = htonl(INADDR_ANY);
  if (::bind(socket.get(), reinterpret_cast<const sockaddr*>(&any), sizeof any) != 0) {
    throw std::system_error(errno, std::generic_category(),
                            "coapwire: bind() of the shared socket");
  }
  return socket;
}

std::uint16_t local_port_of(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return 0;
  if (address.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6&>(address).sin6_port);
  }
  return ntohs(reinterpret_cast<const sockaddr_in&>(address).sin_port);
}

}  // namespace iot::coapwire::detail

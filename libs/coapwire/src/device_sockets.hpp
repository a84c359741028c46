#pragma once

#include <cstddef>
#include <cstdint>

#include "coapwire/file_descriptor.hpp"
#include "remote_endpoint.hpp"

namespace iot::coapwire::detail {

// Makes room for the sockets of `devices` and an epoll set in this process: raises
// RLIMIT_NOFILE's soft limit to the hard limit when the current one is too small. Throws
// std::runtime_error saying how many descriptors are needed when even the hard limit is too small.
void reserve_descriptors(std::size_t devices);

struct SocketBuffers {
  int send_bytes = 0;  // 0: kernel default; beyond net.core.wmem_max only with CAP_NET_ADMIN
  int receive_bytes = 0;
};

// A non-blocking UDP socket connected to `remote` from an ephemeral local port: the kernel then
// delivers only datagrams from `remote` to it. `device` and `device_count` are only for the
// message of the std::runtime_error thrown when descriptors or local ports run out.
FileDescriptor open_device_socket(const RemoteEndpoint& remote, const SocketBuffers& buffers,
                                  std::size_t device, std::size_t device_count);

// The one socket of DeviceSpread::loopback_addresses: non-blocking, IPv4, bound to an ephemeral
// port on every address (replies come to each device's own 127.1.x.y), bound to the loopback
// device where the kernel lets us, and with IP_PKTINFO on (the address a reply was sent to says
// which device it is for).
FileDescriptor open_shared_loopback_socket(const SocketBuffers& buffers);

std::uint16_t local_port_of(int fd);

}  // namespace iot::coapwire::detail

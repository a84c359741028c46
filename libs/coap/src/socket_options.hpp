#pragma once

// libcoap 4.3.1 creates and binds its UDP sockets itself and offers no hook for SO_REUSEPORT or
// SO_RCVBUF, both of which must be set before bind(). It does call setsockopt(SO_REUSEADDR) on
// every new UDP socket, so this process defines setsockopt() and, only on the thread and for the
// duration of a ScopedSocketTuning, adds the options we need at that moment and records the fd.
// Everything else passes straight through to the kernel.
namespace iot::coap::detail {

class ScopedSocketTuning {
 public:
  ScopedSocketTuning(bool reuse_port, int receive_buffer_bytes);
  ~ScopedSocketTuning();
  ScopedSocketTuning(const ScopedSocketTuning&) = delete;
  ScopedSocketTuning& operator=(const ScopedSocketTuning&) = delete;

  int socket_fd() const;  // the UDP socket libcoap created in scope, or -1
};

}  // namespace iot::coap::detail

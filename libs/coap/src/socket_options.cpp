#include "socket_options.hpp"

#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace iot::coap::detail {
namespace {

struct Tuning {
  bool active = false;
  bool reuse_port = false;
  int receive_buffer_bytes = 0;
  int socket_fd = -1;
};
thread_local Tuning t_tuning;

int kernel_setsockopt(int fd, int level, int name, const void* value, socklen_t length) {
  return static_cast<int>(syscall(SYS_setsockopt, fd, level, name, value, length));
}

}  // namespace

ScopedSocketTuning::ScopedSocketTuning(bool reuse_port, int receive_buffer_bytes) {
  t_tuning = Tuning{true, reuse_port, receive_buffer_bytes, -1};
}

ScopedSocketTuning::~ScopedSocketTuning() {
  t_tuning = Tuning{};
}

int ScopedSocketTuning::socket_fd() const {
  return t_tuning.socket_fd;
}

}  // namespace iot::coap::detail

extern "C" int setsockopt(int fd, int level, int name, const void* value, socklen_t length) {
  using iot::coap::detail::t_tuning;
  const int result = iot::coap::detail::kernel_setsockopt(fd, level, name, value, length);
  if (result == 0 && t_tuning.active && level == SOL_SOCKET && name == SO_REUSEADDR) {
    int type = 0;
    socklen_t type_length = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &type_length) == 0 && type == SOCK_DGRAM) {
      t_tuning.socket_fd = fd;
      const int on = 1;
      if (t_tuning.reuse_port &&
          iot::coap::detail::kernel_setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0) {
        return -1;
      }
      if (t_tuning.receive_buffer_bytes > 0) {
        // Capped by net.core.rmem_max; a smaller buffer is not an error, only less burst room.
        iot::coap::detail::kernel_setsockopt(fd, SOL_SOCKET, SO_RCVBUF,
                                             &t_tuning.receive_buffer_bytes,
                                             sizeof t_tuning.receive_buffer_bytes);
      }
    }
  }
  return result;
}

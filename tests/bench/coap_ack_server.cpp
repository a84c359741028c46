// coap-ack-server: the most trivial CoAP server, for measuring load generators: it answers
// every confirmable request with a piggybacked 2.01 ACK and every non-confirmable one with a NON
// 2.01, echoing the token, and does nothing else. Batched with recvmmsg/sendmmsg on one UDP
// socket per thread (SO_REUSEPORT), so it costs far less per request than any real server.
//
//   coap-ack-server [PORT=5683] [THREADS=1]    listens on 127.0.0.1; prints {"listening":PORT}
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

namespace {

constexpr int kBatch = 64;
constexpr std::size_t kMaxDatagram = 1500;

int open_socket(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) {
    std::perror("socket");
    std::exit(1);
  }
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  const int buffer = 8 << 20;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    std::perror("bind");
    std::exit(1);
  }
  return fd;
}

// The answer to one request, written over the request itself: header (4 bytes) and token.
// Returns its length, or 0 for anything that is not a CON/NON request.
std::size_t answer_in_place(std::uint8_t* datagram, std::size_t length, std::uint16_t& next_id) {
  if (length < 4 || (datagram[0] >> 6) != 1) return 0;
  const unsigned type = (datagram[0] >> 4) & 3;
  const unsigned token_length = datagram[0] & 0x0f;
  const std::uint8_t code = datagram[1];
  if (type > 1 || token_length > 8 || length < 4 + token_length || code == 0 || (code >> 5) != 0) {
    return 0;
  }
  constexpr std::uint8_t kCreated = (2 << 5) | 1;
  if (type == 0) {  // CON: piggybacked ACK with the request's message id
    datagram[0] = static_cast<std::uint8_t>(0x60 | token_length);
  } else {  // NON: a NON response with a message id of our own
    datagram[0] = static_cast<std::uint8_t>(0x50 | token_length);
    datagram[2] = static_cast<std::uint8_t>(next_id >> 8);
    datagram[3] = static_cast<std::uint8_t>(next_id & 0xff);
    ++next_id;
  }
  datagram[1] = kCreated;
  return 4 + token_length;
}

void serve(int fd) {
  std::vector<std::array<std::uint8_t, kMaxDatagram>> buffers(kBatch);
  std::array<sockaddr_in, kBatch> peers{};
  std::array<iovec, kBatch> vectors{};
  std::array<mmsghdr, kBatch> messages{};
  std::uint16_t next_id = 1;
  while (true) {
    for (int i = 0; i < kBatch; ++i) {
      vectors[i] = {buffers[i].data(), kMaxDatagram};
      messages[i] = {};
      messages[i].msg_hdr.msg_name = &peers[i];
      messages[i].msg_hdr.msg_namelen = sizeof peers[i];
      messages[i].msg_hdr.msg_iov = &vectors[i];
      messages[i].msg_hdr.msg_iovlen = 1;
    }
    const int received = ::recvmmsg(fd, messages.data(), kBatch, MSG_WAITFORONE, nullptr);
    if (received <= 0) continue;
    int answers = 0;
    for (int i = 0; i < received; ++i) {
      const std::size_t length = answer_in_place(buffers[i].data(), messages[i].msg_len, next_id);
      if (length == 0) continue;
      vectors[answers] = {buffers[i].data(), length};
      messages[answers].msg_hdr.msg_name = &peers[i];
      messages[answers].msg_hdr.msg_namelen = sizeof peers[i];
      messages[answers].msg_hdr.msg_iov = &vectors[answers];
      messages[answers].msg_hdr.msg_iovlen = 1;
      ++answers;
    }
    for (int sent = 0; sent < answers;) {
      const int n =
          ::sendmmsg(fd, messages.data() + sent, static_cast<unsigned>(answers - sent), 0);
      if (n <= 0) break;  // a full send buffer drops answers, as a busy server would
      sent += n;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const auto port = static_cast<std::uint16_t>(argc > 1 ? std::atoi(argv[1]) : 5683);
  const int threads = argc > 2 ? std::max(1, std::atoi(argv[2])) : 1;
  std::vector<int> sockets;
  for (int i = 0; i < threads; ++i) sockets.push_back(open_socket(port));
  std::printf("{\"listening\":%u}\n", static_cast<unsigned>(port));
  std::fflush(stdout);
  std::vector<std::thread> workers;
  for (const int fd : sockets) workers.emplace_back(serve, fd);
  for (auto& worker : workers) worker.join();
}

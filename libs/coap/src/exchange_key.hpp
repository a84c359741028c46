#pragma once

#include <cstdint>
#include <string>

#include "coap/message.hpp"

namespace iot::coap::detail {

// The key of one exchange with a peer in the server's maps: the peer's address bytes, then the
// message id. Short enough for the small-string buffer with IPv4.
inline std::string exchange_key(const PeerAddress& peer, std::uint16_t message_id) {
  std::string key(peer.view());
  key.push_back(static_cast<char>(message_id >> 8));
  key.push_back(static_cast<char>(message_id & 0xff));
  return key;
}

}  // namespace iot::coap::detail

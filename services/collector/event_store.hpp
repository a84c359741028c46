#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "coap/message.hpp"

namespace iot::collector {

// Where one worker's validated events go. Each implementation decides what "stored" means and
// therefore when the device hears 2.01.
class EventStore {
 public:
  virtual ~EventStore() = default;
  // Stores one request's events, each encoded as a bulk pair (action line + source line); the
  // store copies what it keeps (the caller reuses the strings for the next request). Returns
  // the device's answer now, or nullopt when the store took coap::defer(request) and answers
  // once the events are stored.
  virtual std::optional<coap::Response> store(const std::vector<std::string>& documents,
                                              const coap::Request& request) = 0;
  // Asked before a request body of `body_bytes` is parsed: an answer when the store cannot take
  // it anyway (e.g. a full buffer), so that under overload refusing costs far less than
  // accepting and the worker's time goes to draining what it already has.
  virtual std::optional<coap::Response> refuse_early(std::size_t /*body_bytes*/,
                                                     const coap::Request& /*request*/) {
    return std::nullopt;
  }
  // The server finished handling one batch of datagrams; their answers go out next.
  virtual void end_of_batch() {}
  // At shutdown: finishes all work and answers every waiting device, then runs `done` on the
  // worker's thread.
  virtual void drain(std::function<void()> done) = 0;
};

}  // namespace iot::collector

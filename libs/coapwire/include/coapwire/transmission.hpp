#pragma once

#include <chrono>

// Message transmission parameters (RFC 7252 §4.8) and the retransmission schedule of one
// confirmable request (§4.2). Pure logic: the engine supplies the clock and the randomness.
namespace iot::coapwire {

struct TransmissionParameters {
  // Defaults are the RFC's. Tests shrink ack_timeout to tens of milliseconds.
  std::chrono::milliseconds ack_timeout{2000};
  double ack_random_factor = 1.5;  // >= 1
  unsigned max_retransmit = 4;     // retransmissions after the first transmission (<= 20)
  // How long a request waits for its response when no retransmission is pending: after an empty
  // ACK (a separate response follows, §5.2.2), and from the first transmission of a NON request.
  // Zero means max_transmit_span(): 45 s with the RFC defaults, the longest a server keeps
  // retransmitting its own confirmable separate response, so one whose first copies are lost
  // still arrives in time. Load generators usually set something shorter.
  std::chrono::milliseconds exchange_timeout{0};

  // Throws std::invalid_argument naming the bad field.
  void validate() const;

  // §4.8.2: ACK_TIMEOUT * (2^MAX_RETRANSMIT - 1) * ACK_RANDOM_FACTOR (45 s by default).
  std::chrono::milliseconds max_transmit_span() const;
  // §4.8.2: ACK_TIMEOUT * (2^(MAX_RETRANSMIT + 1) - 1) * ACK_RANDOM_FACTOR (93 s by default): the
  // longest a confirmable request can wait before it gives up.
  std::chrono::milliseconds max_transmit_wait() const;
  // §4.8.2 with MAX_LATENCY = 100 s and PROCESSING_DELAY = ACK_TIMEOUT (247 s by default): how
  // long a message id must not be reused towards the same server.
  std::chrono::milliseconds exchange_lifetime() const;
  // exchange_timeout, or max_transmit_span() when it is zero.
  std::chrono::milliseconds effective_exchange_timeout() const;
};

// The retransmission timer of one confirmable message: the first timeout is drawn uniformly from
// [ACK_TIMEOUT, ACK_TIMEOUT * ACK_RANDOM_FACTOR] and doubles at every retransmission; when the
// timeout after the MAX_RETRANSMIT-th retransmission expires, the sender gives up.
class RetransmissionTimer {
 public:
  // `uniform` in [0, 1) picks the first timeout within its range.
  RetransmissionTimer(const TransmissionParameters& parameters, double uniform);

  // How long to wait for an acknowledgement of the transmission just made.
  std::chrono::nanoseconds timeout() const { return timeout_; }
  unsigned retransmissions() const { return retransmissions_; }

  // The current timeout expired: true means retransmit now and wait timeout() (doubled); false
  // means give up.
  bool expire();

 private:
  std::chrono::nanoseconds timeout_{};
  unsigned retransmissions_ = 0;
  unsigned max_retransmit_;
};

}  // namespace iot::coapwire

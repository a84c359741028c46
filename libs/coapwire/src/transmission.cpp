#include "coapwire/transmission.hpp"

#include <cmath>
#include <stdexcept>

namespace iot::coapwire {
namespace {

using std::chrono::milliseconds;

// Beyond this the doubled timeouts overflow any sensible wait (2^20 * ACK_TIMEOUT).
constexpr unsigned kMaxRetransmitLimit = 20;
constexpr milliseconds kMaxLatency{100'000};

milliseconds scaled(milliseconds base, double factor) {
  return milliseconds{
      static_cast<milliseconds::rep>(std::llround(static_cast<double>(base.count()) * factor))};
}

}  // namespace

void TransmissionParameters::validate() const {
  if (ack_timeout <= milliseconds::zero()) {
    throw std::invalid_argument("transmission: ack_timeout must be positive");
  }
  if (!(ack_random_factor >= 1.0) || ack_random_factor > 16.0) {
    throw std::invalid_argument("transmission: ack_random_factor must be in [1, 16]");
  }
  if (max_retransmit > kMaxRetransmitLimit) {
    throw std::invalid_argument("transmission: max_retransmit must be at most 20");
  }
  if (exchange_timeout < milliseconds::zero()) {
    throw std::invalid_argument("transmission: exchange_timeout must not be negative");
  }
}

milliseconds TransmissionParameters::max_transmit_span() const {
  return scaled(ack_timeout, static_cast<double>((1ull << max_retransmit) - 1) * ack_random_factor);
}

milliseconds TransmissionParameters::max_transmit_wait() const {
  return scaled(ack_timeout,
                static_cast<double>((1ull << (max_retransmit + 1)) - 1) * ack_random_factor);
}

milliseconds TransmissionParameters::exchange_lifetime() const {
  return max_transmit_span() + 2 * kMaxLatency + ack_timeout;
}

milliseconds TransmissionParameters::effective_exchange_timeout() const {
  return exchange_timeout > milliseconds::zero() ? exchange_timeout : max_transmit_span();
}

RetransmissionTimer::RetransmissionTimer(const TransmissionParameters& parameters, double uniform)
    : max_retransmit_(parameters.max_retransmit) {
  const std::chrono::nanoseconds low = parameters.ack_timeout;
  const double span = static_cast<double>(low.count()) * (parameters.ack_random_factor - 1.0);
  const double clamped = uniform < 0.0 ? 0.0 : (uniform >= 1.0 ? 1.0 : uniform);
  timeout_ = low + std::chrono::nanoseconds{static_cast<std::int64_t>(span * clamped)};
}

bool RetransmissionTimer::expire() {
  if (retransmissions_ >= max_retransmit_) return false;
  ++retransmissions_;
  timeout_ *= 2;
  return true;
}

}  // namespace iot::coapwire

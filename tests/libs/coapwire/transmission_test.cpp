// RFC 7252 §4.2/§4.8 transmission parameters and the retransmission schedule.
#include "coapwire/transmission.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

namespace iot::coapwire {
namespace {

using namespace std::chrono_literals;

TEST(coapwire_TransmissionParameters, DerivedTimesMatchTheRfcWithDefaults) {
  const TransmissionParameters defaults;
  EXPECT_EQ(defaults.max_transmit_span(), 45s);
  EXPECT_EQ(defaults.max_transmit_wait(), 93s);
  EXPECT_EQ(defaults.exchange_lifetime(), 247s);
  EXPECT_EQ(defaults.effective_exchange_timeout(), 45s);
}

TEST(coapwire_TransmissionParameters, ExplicitExchangeTimeoutWins) {
  TransmissionParameters parameters;
  parameters.exchange_timeout = 5s;
  EXPECT_EQ(parameters.effective_exchange_timeout(), 5s);
  parameters.exchange_timeout = 0ms;
  parameters.ack_timeout = 20ms;
  EXPECT_EQ(parameters.effective_exchange_timeout(), 450ms) << "scales with ack_timeout";
}

TEST(coapwire_TransmissionParameters, ValidateNamesTheBadField) {
  TransmissionParameters parameters;
  EXPECT_NO_THROW(parameters.validate());
  parameters.ack_timeout = 0ms;
  EXPECT_THROW(parameters.validate(), std::invalid_argument);
  parameters = {};
  parameters.ack_random_factor = 0.5;
  EXPECT_THROW(parameters.validate(), std::invalid_argument);
  parameters = {};
  parameters.max_retransmit = 21;
  EXPECT_THROW(parameters.validate(), std::invalid_argument);
  parameters = {};
  parameters.exchange_timeout = -1ms;
  EXPECT_THROW(parameters.validate(), std::invalid_argument);
}

TEST(coapwire_RetransmissionTimer, FirstTimeoutIsDrawnFromTheRfcRange) {
  const TransmissionParameters parameters;
  EXPECT_EQ(RetransmissionTimer(parameters, 0.0).timeout(), 2s);
  EXPECT_EQ(RetransmissionTimer(parameters, 0.5).timeout(), 2500ms);
  EXPECT_EQ(RetransmissionTimer(parameters, 1.0).timeout(), 3s);
  EXPECT_EQ(RetransmissionTimer(parameters, 7.0).timeout(), 3s) << "clamped";
}

TEST(coapwire_RetransmissionTimer, DoublesUntilMaxRetransmitThenGivesUp) {
  TransmissionParameters parameters;
  parameters.max_retransmit = 4;
  RetransmissionTimer timer(parameters, 1.0);
  std::chrono::nanoseconds waited = timer.timeout();
  for (unsigned i = 1; i <= 4; ++i) {
    ASSERT_TRUE(timer.expire());
    EXPECT_EQ(timer.retransmissions(), i);
    EXPECT_EQ(timer.timeout(), 3s * (1 << i));
    waited += timer.timeout();
  }
  EXPECT_FALSE(timer.expire());
  EXPECT_EQ(timer.retransmissions(), 4u);
  EXPECT_EQ(waited, parameters.max_transmit_wait()) << "the longest wait is MAX_TRANSMIT_WAIT";
}

TEST(coapwire_RetransmissionTimer, ZeroRetransmitsGivesUpAtTheFirstTimeout) {
  TransmissionParameters parameters;
  parameters.max_retransmit = 0;
  RetransmissionTimer timer(parameters, 0.0);
  EXPECT_FALSE(timer.expire());
}

}  // namespace
}  // namespace iot::coapwire

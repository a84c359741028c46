#include "random_source.hpp"

#include <cmath>
#include <numbers>

namespace iot::simulation {
namespace {

std::uint64_t splitmix64(std::uint64_t& state) noexcept {
  std::uint64_t z = (state += 0x9E37'79B9'7F4A'7C15);
  z = (z ^ (z >> 30)) * 0xBF58'476D'1CE4'E5B9;
  z = (z ^ (z >> 27)) * 0x94D0'49BB'1331'11EB;
  return z ^ (z >> 31);
}

std::uint64_t rotate_left(std::uint64_t x, int k) noexcept {
  return (x << k) | (x >> (64 - k));
}

// (0, 1]: safe to take the logarithm of.
double uniform_above_zero(RandomSource& random) noexcept {
  return 1.0 - random.uniform();
}

}  // namespace

RandomSource::RandomSource(std::uint64_t seed, std::uint64_t stream) {
  std::uint64_t mixer = seed ^ (stream * 0xD1B5'4A32'D192'ED03);
  // splitmix64 never gives four zero words in a row, the one state xoshiro cannot leave.
  for (auto& word : state_) word = splitmix64(mixer);
}

std::uint64_t RandomSource::next() noexcept {
  const std::uint64_t result = rotate_left(state_[1] * 5, 7) * 9;
  const std::uint64_t t = state_[1] << 17;
  state_[2] ^= state_[0];
  state_[3] ^= state_[1];
  state_[1] ^= state_[2];
  state_[0] ^= state_[3];
  state_[2] ^= t;
  state_[3] = rotate_left(state_[3], 45);
  return result;
}

double RandomSource::uniform() noexcept {
  // The top 53 bits fill a double's mantissa exactly.
  return static_cast<double>(next() >> 11) * 0x1.0p-53;
}

double RandomSource::uniform(double low, double high) noexcept {
  return low + (high - low) * uniform();
}

double RandomSource::normal() noexcept {
  // Box–Muller, keeping one of the pair: two uniforms per normal, but no spare value hidden in
  // the state, so the generator's position alone says what comes next.
  const double radius = std::sqrt(-2.0 * std::log(uniform_above_zero(*this)));
  return radius * std::cos(2.0 * std::numbers::pi * uniform());
}

double RandomSource::exponential(double mean) noexcept {
  return -mean * std::log(uniform_above_zero(*this));
}

}  // namespace iot::simulation

#pragma once

#include <array>
#include <cstdint>

namespace iot::simulation {

// The random numbers of one device: xoshiro256** (Blackman & Vigna) seeded through splitmix64,
// with our own uniform, normal and exponential draws. std::mt19937 would be portable too, but
// the std:: distributions are not (each standard library draws differently), and a seed must
// replay the same fleet wherever iotc runs.
class RandomSource {
 public:
  // `stream` keeps different uses of the same seed (one per profile) apart. splitmix64 makes
  // neighbouring seeds (1, 2, 3...) start from unrelated states.
  RandomSource(std::uint64_t seed, std::uint64_t stream);

  std::uint64_t next() noexcept;
  double uniform() noexcept;                         // [0, 1)
  double uniform(double low, double high) noexcept;  // [low, high)
  double normal() noexcept;                          // mean 0, standard deviation 1
  double exponential(double mean) noexcept;          // > 0

 private:
  std::array<std::uint64_t, 4> state_{};
};

}  // namespace iot::simulation

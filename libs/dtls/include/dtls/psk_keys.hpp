#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace iot::dtls {

// A pre-shared key file's problem, one line naming the file and line: "psk.txt:3: key: ...".
// Never quotes a key.
class PskFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline constexpr std::size_t kMinKeyBytes = 16;  // 128 bits: shorter keys fall to offline guessing
inline constexpr std::size_t kMaxKeyBytes = 64;
inline constexpr std::size_t kMaxIdentityBytes = 128;

struct PskEntry {
  std::string identity;  // 1..128 chars of [A-Za-z0-9._:-]: it becomes the events' sender
  std::vector<std::uint8_t> key;
};

// The devices' identities and keys, immutable once read. File format, one device per line:
//   IDENTITY KEY        the key in hex (32..128 hex digits)
//   IDENTITY base64:KEY the key in base64
// separated by spaces or tabs; '#' starts a comment (to the end of the line); blank lines are
// skipped. An identity given twice is an error (which key would win is not obvious).
class PskKeys {
 public:
  PskKeys() = default;
  // `source` names the text in errors (the file's path).
  static PskKeys parse(std::string_view text, std::string_view source);
  // Reads and parses FILE; PskFileError when it cannot be read or has a bad line.
  static PskKeys load(const std::string& path);

  // The key of `identity`, or nullopt.
  std::optional<std::span<const std::uint8_t>> find(std::string_view identity) const;
  const std::vector<PskEntry>& entries() const { return entries_; }  // in file order
  std::size_t size() const { return entries_.size(); }

 private:
  std::vector<PskEntry> entries_;
  std::unordered_map<std::string, std::size_t> index_;  // identity -> entries_ position
};

// Whether `identity` may name a device: 1..128 chars of [A-Za-z0-9._:-] (the events' sender rule).
bool is_valid_identity(std::string_view identity);

// Decodes a key as written in the file ("00ff..." or "base64:..."); nullopt with `problem` set.
std::optional<std::vector<std::uint8_t>> decode_key(std::string_view text, std::string& problem);

}  // namespace iot::dtls

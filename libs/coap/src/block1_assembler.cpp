#include "coap/block1_assembler.hpp"

namespace iot::coap {

Block1Assembler::Block1Assembler(Limits limits) : limits_(limits) {}

Block1Assembler::Outcome Block1Assembler::add(const PeerAddress& peer, std::string_view path,
                                              const BlockOption& block,
                                              std::optional<std::uint64_t> size1,
                                              std::span<const std::uint8_t> data,
                                              Clock::time_point now) {
  evict_idle(now);
  std::string key(peer.view());
  key.push_back('\0');
  key.append(path);

  const std::size_t offset = std::size_t{block.number} * block.size();
  auto it = transfers_.find(key);
  if (block.number == 0) {
    if (it != transfers_.end()) drop(it);  // a new upload replaces an unfinished one
    it = transfers_.end();
    // Refuse on the first block when the announced total is too large: no byte is buffered.
    if (size1 && *size1 > limits_.max_body_bytes) return TooLarge{};
  }
  if (offset + data.size() > limits_.max_body_bytes) {
    if (it != transfers_.end()) drop(it);
    return TooLarge{};
  }
  if (block.more && data.size() != block.size()) {
    // Only the last block may be short; anything else would leave a hole in the body.
    if (it != transfers_.end()) drop(it);
    return Incomplete{};
  }
  if (block.number == 0 && !block.more) {
    return Complete{std::string(reinterpret_cast<const char*>(data.data()), data.size())};
  }
  if (block.number == 0) {
    if (transfers_.size() >= limits_.max_transfers) return Busy{};
    it = transfers_.emplace(std::move(key), Transfer{}).first;
  } else if (it == transfers_.end() || it->second.body.size() != offset) {
    if (it != transfers_.end()) drop(it);
    return Incomplete{};
  }

  auto& transfer = it->second;
  transfer.body.append(reinterpret_cast<const char*>(data.data()), data.size());
  buffered_bytes_ += data.size();
  transfer.last_activity = now;
  if (block.more) return Continue{};

  Complete complete{std::move(transfer.body)};
  buffered_bytes_ -= complete.body.size();
  transfers_.erase(it);
  return complete;
}

void Block1Assembler::drop(std::unordered_map<std::string, Transfer>::iterator it) {
  buffered_bytes_ -= it->second.body.size();
  transfers_.erase(it);
}

void Block1Assembler::evict_idle(Clock::time_point now) {
  // Partial uploads are rare and few (bounded by max_transfers), so a scan is cheap enough.
  if (transfers_.empty()) return;
  for (auto it = transfers_.begin(); it != transfers_.end();) {
    if (now - it->second.last_activity >= limits_.idle_timeout) {
      buffered_bytes_ -= it->second.body.size();
      it = transfers_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace iot::coap

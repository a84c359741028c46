#include "http_client_gzip.hpp"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <stdexcept>

namespace iot::elastic::detail {
namespace {

// zlib counts in uInt; feeding at most this much per call keeps any body size correct.
constexpr std::size_t kMaxChunk = UINT_MAX / 2;
constexpr std::size_t kOutputStep = 64 * 1024;
// windowBits + 16 selects the gzip wrapper instead of raw zlib.
constexpr int kGzipWindowBits = MAX_WBITS + 16;
// Bulk bodies are repetitive NDJSON: the fastest level already shrinks them several times (~9x),
// for ~1.1 ms of CPU per 400 KB body.
constexpr int kLevel = Z_BEST_SPEED;

uInt chunk(std::size_t left) {
  return static_cast<uInt>(std::min(left, kMaxChunk));
}

unsigned char* bytes(std::string_view data) {
  // zlib's next_in is not const-qualified but is only read.
  return reinterpret_cast<unsigned char*>(const_cast<char*>(data.data()));
}

}  // namespace

std::string gzip_compress(std::string_view data) {
  z_stream zs{};
  if (deflateInit2(&zs, kLevel, Z_DEFLATED, kGzipWindowBits, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("gzip: deflateInit2 failed");
  }
  std::string out;
  out.resize(deflateBound(&zs, static_cast<uLong>(std::min<std::size_t>(data.size(), ULONG_MAX))) +
             32);
  std::size_t in_done = 0;
  std::size_t out_done = 0;
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    if (out_done == out.size()) out.resize(out.size() + kOutputStep);
    zs.next_in = bytes(data.substr(in_done));
    zs.avail_in = chunk(data.size() - in_done);
    zs.next_out = reinterpret_cast<unsigned char*>(out.data() + out_done);
    zs.avail_out = chunk(out.size() - out_done);
    const uInt in_before = zs.avail_in;
    const uInt out_before = zs.avail_out;
    const bool last = in_done + in_before == data.size();
    rc = deflate(&zs, last ? Z_FINISH : Z_NO_FLUSH);
    in_done += in_before - zs.avail_in;
    out_done += out_before - zs.avail_out;
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
      deflateEnd(&zs);
      throw std::runtime_error("gzip: deflate failed");
    }
  }
  deflateEnd(&zs);
  out.resize(out_done);
  return out;
}

std::optional<std::string> gzip_decompress(std::string_view data, std::size_t limit) {
  z_stream zs{};
  if (inflateInit2(&zs, kGzipWindowBits) != Z_OK) return std::nullopt;
  std::string out;
  std::size_t in_done = 0;
  std::size_t out_done = 0;
  bool ok = true;
  while (true) {
    if (out_done == out.size()) {
      if (out.size() > limit) {
        ok = false;
        break;
      }
      out.resize(std::min(out.size() + std::max(kOutputStep, out.size()), limit + 1));
    }
    zs.next_in = bytes(data.substr(in_done));
    zs.avail_in = chunk(data.size() - in_done);
    zs.next_out = reinterpret_cast<unsigned char*>(out.data() + out_done);
    zs.avail_out = chunk(out.size() - out_done);
    const uInt in_before = zs.avail_in;
    const uInt out_before = zs.avail_out;
    const int rc = inflate(&zs, Z_NO_FLUSH);
    in_done += in_before - zs.avail_in;
    out_done += out_before - zs.avail_out;
    if (rc == Z_STREAM_END) {
      if (in_done == data.size()) break;
      // Another member follows (RFC 1952 allows concatenation).
      if (inflateReset(&zs) != Z_OK) {
        ok = false;
        break;
      }
      continue;
    }
    if (rc == Z_BUF_ERROR && zs.avail_out == 0) continue;  // needs more room
    if (rc != Z_OK) {
      // Includes Z_BUF_ERROR with output room left: the input ended inside a member.
      ok = false;
      break;
    }
  }
  inflateEnd(&zs);
  if (!ok || out_done > limit) return std::nullopt;
  out.resize(out_done);
  return out;
}

}  // namespace iot::elastic::detail

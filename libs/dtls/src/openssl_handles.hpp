#pragma once

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

// RAII for the OpenSSL objects of libs/dtls, and the memory-BIO plumbing both ends share.
namespace iot::dtls::detail {

struct SslCtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
struct SslFree {
  void operator()(SSL* ssl) const { SSL_free(ssl); }  // frees the BIOs it holds too
};
struct BioAddrFree {
  void operator()(BIO_ADDR* address) const { BIO_ADDR_free(address); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;
using SslPtr = std::unique_ptr<SSL, SslFree>;
using BioAddrPtr = std::unique_ptr<BIO_ADDR, BioAddrFree>;

// The PSK cipher suites of RFC 7252 §9.1.3.1 first (AES-128-CCM-8, what constrained devices
// implement), then stronger tags for devices that offer them.
inline constexpr const char* kPskCipherList =
    "PSK-AES128-CCM8:PSK-AES128-CCM:PSK-AES128-GCM-SHA256:PSK-AES256-GCM-SHA384:"
    "PSK-AES128-CBC-SHA256";

// The most recent OpenSSL error as one line ("" when none); clears the thread's error queue so
// one failed session never leaks its errors into the next.
std::string take_error_text();

// A DTLS object reading from and writing to memory: `ssl` gets a fresh BIO pair. Records come in
// through `in` (BIO_write one datagram, then let the SSL read it) and go out through `out`.
struct MemoryBios {
  BIO* in = nullptr;
  BIO* out = nullptr;
};
MemoryBios attach_memory_bios(SSL* ssl);

// Encrypts `plaintext` as one record of `ssl` (established) into `datagram`; false when OpenSSL
// refuses it (its error queue is cleared).
bool seal_record(SSL* ssl, BIO* out, std::span<const std::uint8_t> plaintext,
                 std::vector<std::uint8_t>& datagram);

// Takes everything the SSL wrote and cuts it into datagrams of at most `mtu` bytes at record
// boundaries (a record is never split; several small ones share a datagram, RFC 6347 §4.1.1).
// `emit` is called once per datagram.
template <typename Emit>
void drain_records(BIO* out, std::vector<std::uint8_t>& scratch, std::size_t mtu, Emit&& emit);

constexpr std::size_t kRecordHeaderBytes = 13;

// The shortest record an established session's cipher can protect (0 before it has one).
std::size_t shortest_protected_record(const SSL* ssl);

// Whether a record of the datagram is protected (epoch above 0) yet shorter than `shortest`:
// never sent by a peer, only forged. Both ends drop such a datagram before OpenSSL reads it,
// because some OpenSSL builds fail the session on it instead of discarding the record.
bool has_impossible_record(std::span<const std::uint8_t> datagram, std::size_t shortest);

// ---- implementation of the template ----

template <typename Emit>
void drain_records(BIO* out, std::vector<std::uint8_t>& scratch, std::size_t mtu, Emit&& emit) {
  const auto pending = BIO_ctrl_pending(out);
  if (pending == 0) return;
  scratch.resize(pending);
  const int n = BIO_read(out, scratch.data(), static_cast<int>(pending));
  if (n <= 0) return;
  const std::span<const std::uint8_t> bytes(scratch.data(), static_cast<std::size_t>(n));
  std::size_t start = 0;
  std::size_t position = 0;
  while (position + kRecordHeaderBytes <= bytes.size()) {
    const std::size_t record =
        kRecordHeaderBytes + ((std::size_t{bytes[position + 11]} << 8) | bytes[position + 12]);
    if (position > start && position + record - start > mtu) {
      emit(bytes.subspan(start, position - start));
      start = position;
    }
    position += record;
  }
  if (start < bytes.size()) emit(bytes.subspan(start));
}

}  // namespace iot::dtls::detail

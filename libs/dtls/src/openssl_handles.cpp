#include "openssl_handles.hpp"

#include <openssl/evp.h>

#include <array>
#include <span>
#include <stdexcept>
#include <string_view>
#include <vector>

namespace iot::dtls::detail {

std::string take_error_text() {
  const unsigned long code = ERR_peek_last_error();
  std::string text;
  if (code != 0) {
    std::array<char, 256> buffer{};
    ERR_error_string_n(code, buffer.data(), buffer.size());
    text = buffer.data();
  }
  ERR_clear_error();
  return text;
}

MemoryBios attach_memory_bios(SSL* ssl) {
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  if (in == nullptr || out == nullptr) {
    BIO_free(in);
    BIO_free(out);
    throw std::bad_alloc();
  }
  // An empty input is "try again later", not end of file.
  BIO_set_mem_eof_return(in, -1);
  BIO_set_mem_eof_return(out, -1);
  SSL_set_bio(ssl, in, out);  // the SSL owns both from here
  return {in, out};
}

bool seal_record(SSL* ssl, BIO* out, std::span<const std::uint8_t> plaintext,
                 std::vector<std::uint8_t>& datagram) {
  if (SSL_write(ssl, plaintext.data(), static_cast<int>(plaintext.size())) <= 0) {
    take_error_text();
    return false;
  }
  const auto pending = BIO_ctrl_pending(out);
  datagram.resize(pending);
  const int n = BIO_read(out, datagram.data(), static_cast<int>(pending));
  datagram.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  return n > 0;
}

// The shortest record the session's cipher can protect: an AEAD cipher adds its 8-byte explicit
// nonce and its tag (8 bytes for CCM8, 16 for the others), CBC an IV block, at least one
// encrypted block and the MAC.
std::size_t shortest_protected_record(const SSL* ssl) {
  const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl);
  if (cipher == nullptr) return 0;
  if (SSL_CIPHER_is_aead(cipher) == 1) {
    const std::string_view name = SSL_CIPHER_get_name(cipher);
    return 8 + (name.find("CCM8") != std::string_view::npos ? 8 : 16);
  }
  const EVP_MD* mac = EVP_get_digestbynid(SSL_CIPHER_get_digest_nid(cipher));
  return 2 * 16 + (mac != nullptr ? static_cast<std::size_t>(EVP_MD_get_size(mac)) : 0);
}

// Whether a record of the datagram is protected (epoch above 0) yet shorter than the session's
// cipher can make one: never sent by a peer, only forged. On some hosts OpenSSL 3.0.19 fails
// the read on such a CCM8 record instead of dropping it (SSL_ERROR_SYSCALL, nothing queued),
// which ended the session: one spoofed datagram of 17 bytes from a device's address cut the
// device off until it handshook again.
bool has_impossible_record(std::span<const std::uint8_t> datagram, std::size_t shortest) {
  for (std::size_t position = 0; position + kRecordHeaderBytes <= datagram.size();) {
    const bool protected_record = datagram[position + 3] != 0 || datagram[position + 4] != 0;
    const std::size_t length =
        (std::size_t{datagram[position + 11]} << 8) | datagram[position + 12];
    if (protected_record && length < shortest) return true;
    position += kRecordHeaderBytes + length;
  }
  return false;
}

}  // namespace iot::dtls::detail

#include "openssl_handles.hpp"

#include <array>
#include <span>
#include <stdexcept>
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

}  // namespace iot::dtls::detail

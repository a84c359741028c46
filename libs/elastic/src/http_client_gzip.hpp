#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

// gzip for HttpClient (zlib), private to libs/elastic.
namespace iot::elastic::detail {

// A gzip member (RFC 1952) holding `data`. Throws std::bad_alloc or std::runtime_error.
std::string gzip_compress(std::string_view data);

// The data of one or more concatenated gzip members; nullopt when `data` is not valid gzip or
// inflates to more than `limit` bytes (a small compressed answer must not exhaust memory).
std::optional<std::string> gzip_decompress(std::string_view data, std::size_t limit);

}  // namespace iot::elastic::detail

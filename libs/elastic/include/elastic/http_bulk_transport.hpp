#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>

#include "elastic/bulk_writer.hpp"
#include "elastic/http_client.hpp"

namespace iot::elastic {

// BulkTransport over HttpClient: POST /_bulk with an NDJSON body. filter_path keeps only what
// parse_bulk_response reads (each item's operation with its status and error): about 25 bytes per
// document instead of 200, a tenth of the answer to receive and parse.
inline constexpr const char* kBulkTarget = "/_bulk?filter_path=errors,items.*.status,items.*.error";

// Owns its HttpClient; both belong to `io`'s thread.
class HttpBulkTransport final : public BulkTransport {
 public:
  HttpBulkTransport(boost::asio::io_context& io, HttpClientSettings settings)
      : client_(io, std::move(settings)) {}
  void send_bulk(std::shared_ptr<const std::string> body, Done done) override {
    // The HTTP message owns its body (gzip, when on, replaces it): one copy of ~350 KB, made on
    // the thread that sends it.
    client_.send(HttpRequest{"POST", kBulkTarget, "application/x-ndjson", *body},
                 [done = std::move(done)](HttpResult result) {
                   if (result.response) {
                     done(result.response->status, std::move(result.response->body), {});
                   } else {
                     done(0, {}, std::move(result.detail));
                   }
                 });
  }

 private:
  HttpClient client_;
};

}  // namespace iot::elastic

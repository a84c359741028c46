#pragma once

#include "elastic/bulk_writer.hpp"
#include "elastic/http_client.hpp"

namespace iot::elastic {

// BulkTransport over HttpClient: POST /_bulk with an NDJSON body.
class HttpBulkTransport final : public BulkTransport {
 public:
  explicit HttpBulkTransport(HttpClient& client) : client_(client) {}
  void send_bulk(std::string body, Done done) override {
    client_.send(HttpRequest{"POST", "/_bulk", "application/x-ndjson", std::move(body)},
                 [done = std::move(done)](HttpResult result) {
                   if (result.response) {
                     done(result.response->status, std::move(result.response->body), {});
                   } else {
                     done(0, {}, std::move(result.detail));
                   }
                 });
  }

 private:
  HttpClient& client_;
};

}  // namespace iot::elastic

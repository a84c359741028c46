// elastic-bulk-sink: a stand-in for Elasticsearch, for the benchmark only. The Node test server
// (tests/elastic-test-server) is the faithful one the integration tests use; it costs ~10 µs of
// CPU per document, which on a small machine ends up measuring the test server instead of the
// collector. This one answers exactly the calls iot-collector makes and costs far less:
//   GET /                 version banner        GET /_cluster/health   {"status":"green"}
//   PUT anything          {"acknowledged":true} (lifecycle policy, index templates: not kept)
//   POST /_bulk           create actions only: the _id of each action line is looked up in a set
//                         shared by all connections; new -> 201, seen among the last 2M-4M -> 409
//                         (as ES answers a create of an existing _id). Documents are neither
//                         parsed nor stored.
//   GET /_sink/stats      {"documents":N,"duplicates":M,"bulk_requests":K}, for tests and harness
// It checks the NDJSON framing (action line with "create" and an _id, a document line after it,
// the final newline) and nothing else: no JSON validation, mappings or other actions.
// A body with Content-Encoding gzip (or x-gzip), as iot-collector --bulk-gzip sends it, is
// inflated first and then handled as if it had come uncompressed; inflated, it has the same
// 100 MiB limit as a plain body. Any other encoding gets 400.
//
//   elastic-bulk-sink PORT    (0 = ephemeral) listens on 127.0.0.1; prints {"listening":"URL"}
#include <signal.h>
#include <zlib.h>

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <new>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

constexpr std::uint64_t kBodyLimit = std::uint64_t{100} << 20;

// The ids seen recently, as 64-bit hashes. Two ids with the same hash would make a new event look
// like a duplicate; among the few million ids kept the odds are about 1e-6, negligible for a
// benchmark. Open addressing (0 = empty slot, at most half full) rather than std::unordered_set:
// no allocation per id. Two generations of fixed size instead of a table that doubles: doubling
// rehashed under the store's mutex and faulted in a table twice the size, a pause of a few
// hundred milliseconds on the core this shares with iotc at 2M, 4M, 8M... ids: a soak at 140,000
// events/s hit the first after ~15 s, and the load generator never caught up.
// When the current generation is half full it becomes the previous one and the oldest is emptied
// in place (a memset, no page faults): every id of the last 2M-4M is remembered, an older repeat
// counts as new. Retries of a bulk request come within seconds, far inside that.
class IdSet {
 public:
  bool insert(std::uint64_t hash) {
    if (hash == 0) hash = 1;
    if (previous_used_ && contains(previous_, hash)) return false;
    const std::size_t mask = current_.size() - 1;
    std::size_t i = hash & mask;
    for (; current_[i] != 0; i = (i + 1) & mask) {
      if (current_[i] == hash) return false;
    }
    current_[i] = hash;
    if (2 * ++size_ > current_.size()) {
      current_.swap(previous_);
      std::fill(current_.begin(), current_.end(), 0);
      previous_used_ = true;
      size_ = 0;
    }
    return true;
  }

 private:
  static bool contains(const std::vector<std::uint64_t>& slots, std::uint64_t hash) {
    const std::size_t mask = slots.size() - 1;
    for (std::size_t i = hash & mask; slots[i] != 0; i = (i + 1) & mask) {
      if (slots[i] == hash) return true;
    }
    return false;
  }

  static constexpr std::size_t kSlots = std::size_t{1} << 22;  // 32 MiB per generation
  std::vector<std::uint64_t> current_ = std::vector<std::uint64_t>(kSlots);
  std::vector<std::uint64_t> previous_ = std::vector<std::uint64_t>(kSlots);
  bool previous_used_ = false;
  std::size_t size_ = 0;
};

struct Store {
  std::mutex mutex;
  IdSet ids;
  std::uint64_t documents = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t bulk_requests = 0;
};

struct Item {
  std::string_view index;
  std::string_view id;
  bool created = false;
};

std::string es_error(std::string_view type, std::string_view reason, int status) {
  return R"({"error":{"type":")" + std::string(type) + R"(","reason":")" + std::string(reason) +
         R"("},"status":)" + std::to_string(status) + "}";
}

// The string value of "key":"..." in an action line; empty when absent. The collector writes
// ids and index names without escapes, so the value simply ends at the next quote.
std::string_view string_field(std::string_view line, std::string_view key) {
  const std::size_t at = line.find(key);
  if (at == std::string_view::npos) return {};
  const std::size_t start = at + key.size();
  const std::size_t end = line.find('"', start);
  return end == std::string_view::npos ? std::string_view{} : line.substr(start, end - start);
}

// Splits the NDJSON body into items; on a framing error returns its reason instead.
std::string parse_bulk(std::string_view body, std::vector<Item>& items) {
  if (body.empty()) return "request body is required";
  if (body.back() != '\n') return "The bulk request must be terminated by a newline [\\\\n]";
  for (std::size_t pos = 0; pos < body.size();) {
    const std::size_t action_end = body.find('\n', pos);
    const std::string_view action = body.substr(pos, action_end - pos);
    const std::size_t document_end =
        action_end + 1 < body.size() ? body.find('\n', action_end + 1) : std::string_view::npos;
    if (document_end == std::string_view::npos || document_end == action_end + 1) {
      return "action at byte " + std::to_string(pos) + " has no document line";
    }
    if (!action.starts_with(R"({"create":)")) {
      return "only create actions are supported, at byte " + std::to_string(pos);
    }
    const Item item{string_field(action, R"("_index":")"), string_field(action, R"("_id":")")};
    if (item.id.empty()) return "create action at byte " + std::to_string(pos) + " has no _id";
    items.push_back(item);
    pos = document_end + 1;
  }
  return {};
}

http::response<http::string_body> too_large(unsigned version) {
  http::response<http::string_body> res{http::status::payload_too_large, version};
  res.body() = es_error("illegal_argument_exception", "request body over 100 MiB", 413);
  return res;
}

enum class Inflated { kOk, kCorrupt, kTooLarge };

// Inflates the gzip members in `in` into `out` (whose capacity is reused), stopping once more
// than `limit` bytes come out: a small body can inflate to gigabytes.
Inflated gunzip(std::string_view in, std::string& out, std::size_t limit) {
  out.clear();
  z_stream zs{};
  // 31 rather than 47 (either wrapper): the header says gzip, so a zlib stream is as corrupt as
  // any other body that is not gzip.
  if (inflateInit2(&zs, MAX_WBITS + 16) != Z_OK) throw std::bad_alloc();
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());  // at most kBodyLimit, well within uInt
  std::size_t produced = 0;
  Inflated result = Inflated::kOk;
  while (true) {
    if (produced == out.size()) {
      if (produced > limit) {
        result = Inflated::kTooLarge;
        break;
      }
      // NDJSON compresses 5-10 times: starting at 4 times the input saves most regrowths.
      out.resize(
          std::min(limit + 1, std::max({out.size() * 2, in.size() * 4, std::size_t{64} << 10})));
    }
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    zs.avail_out = static_cast<uInt>(out.size() - produced);
    const int rc = inflate(&zs, Z_NO_FLUSH);
    produced = out.size() - zs.avail_out;
    if (rc == Z_STREAM_END) {
      if (zs.avail_in == 0) {
        result = produced > limit ? Inflated::kTooLarge : Inflated::kOk;
        break;
      }
      // A gzip body may be several members one after the other (RFC 1952); anything else after
      // a member fails the next member's header check.
      inflateReset(&zs);
      continue;
    }
    // There is always output room here, so Z_BUF_ERROR means the input ended inside a member.
    if (rc != Z_OK) {
      result = Inflated::kCorrupt;
      break;
    }
  }
  inflateEnd(&zs);
  out.resize(std::min(produced, limit));
  return result;
}

http::response<http::string_body> bulk(Store& store, const http::request<http::string_body>& req,
                                       std::string_view body, std::vector<Item>& items) {
  items.clear();
  const std::string error = parse_bulk(body, items);
  bool conflicts = false;
  {
    const std::lock_guard lock(store.mutex);
    ++store.bulk_requests;
    if (error.empty()) {
      for (Item& item : items) {
        item.created = store.ids.insert(std::hash<std::string_view>{}(item.id));
        conflicts |= !item.created;
        ++(item.created ? store.documents : store.duplicates);
      }
    }
  }
  http::response<http::string_body> res{
      error.empty() ? http::status::ok : http::status::bad_request, req.version()};
  if (!error.empty()) {
    res.body() = es_error("illegal_argument_exception", error, 400);
    return res;
  }
  // The collector asks for filter_path=errors,items.*.status,items.*.error and reads nothing
  // else; with any filter_path the answer is that shape, saving ~60 bytes per item.
  const bool filtered = req.target().find("filter_path=") != std::string_view::npos;
  std::string& out = res.body();
  out.reserve(64 + items.size() * (filtered ? 30 : 200));
  out += filtered ? R"({"errors":)" : R"({"took":0,"errors":)";
  out += conflicts ? "true" : "false";
  out += R"(,"items":[)";
  for (std::size_t i = 0; i < items.size(); ++i) {
    const Item& item = items[i];
    out += i == 0 ? R"({"create":{)" : R"(,{"create":{)";
    if (!filtered) {
      out.append(R"("_index":")").append(item.index).append(R"(","_id":")").append(item.id);
      out += R"(",)";
    }
    if (item.created) {
      out += R"("status":201}})";
    } else {
      out.append(R"("status":409,"error":{"type":"version_conflict_engine_exception","reason":"[)")
          .append(item.id)
          .append(R"x(]: version conflict, document already exists (current version [1])"}}})x");
    }
  }
  out += "]}";
  return res;
}

// `inflated` holds a compressed request's body: reused per connection, like `items`.
http::response<http::string_body> route(Store& store, const http::request<http::string_body>& req,
                                        std::vector<Item>& items, std::string& inflated) {
  const std::string_view target = req.target();
  const std::string_view path = target.substr(0, target.find('?'));
  const auto answer = [&](http::status status, std::string body) {
    http::response<http::string_body> res{status, req.version()};
    res.body() = std::move(body);
    return res;
  };
  std::string_view body = req.body();
  const std::string_view encoding = req[http::field::content_encoding];
  if (!encoding.empty()) {
    if (!beast::iequals(encoding, "gzip") && !beast::iequals(encoding, "x-gzip")) {
      return answer(http::status::bad_request,
                    es_error("illegal_argument_exception",
                             "only gzip is supported as Content-Encoding", 400));
    }
    // An empty body has nothing to inflate, whatever its header says.
    if (!body.empty()) {
      switch (gunzip(body, inflated, kBodyLimit)) {
        case Inflated::kOk:
          body = inflated;
          break;
        case Inflated::kTooLarge:
          return too_large(req.version());
        case Inflated::kCorrupt:
          return answer(http::status::bad_request,
                        es_error("parse_exception", "request body is not valid gzip", 400));
      }
    }
  }
  const bool get = req.method() == http::verb::get;
  if (req.method() == http::verb::post && path == "/_bulk") return bulk(store, req, body, items);
  if (req.method() == http::verb::put) return answer(http::status::ok, R"({"acknowledged":true})");
  if (get && path == "/") {
    return answer(http::status::ok,
                  R"({"version":{"number":"8.15.0"},"tagline":"You Know, for Search"})");
  }
  if (get && path == "/_cluster/health") return answer(http::status::ok, R"({"status":"green"})");
  if (get && path == "/_sink/stats") {
    const std::lock_guard lock(store.mutex);
    return answer(http::status::ok, R"({"documents":)" + std::to_string(store.documents) +
                                        R"(,"duplicates":)" + std::to_string(store.duplicates) +
                                        R"(,"bulk_requests":)" +
                                        std::to_string(store.bulk_requests) + "}");
  }
  return answer(
      http::status::not_found,
      es_error("resource_not_found_exception",
               "no handler for " + std::string(req.method_string()) + " " + std::string(path),
               404));
}

void send(tcp::socket& socket, http::response<http::string_body>& res, beast::error_code& ec) {
  res.set(http::field::content_type, "application/json");
  res.set("X-Elastic-Product", "Elasticsearch");
  res.prepare_payload();
  http::write(socket, res, ec);
}

void serve(Store& store, tcp::socket socket) {
  beast::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  // Beast reads at most what the buffer can hold without growing (and never over 64 KiB): left
  // at its initial size, a bulk body arrives in ~500-byte recv calls, which cost more than all
  // the rest of the work together.
  beast::flat_buffer buffer;
  buffer.reserve(64 << 10);
  std::vector<Item> items;  // reused: a bulk of thousands of items would otherwise reallocate
  std::string inflated;
  while (true) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(kBodyLimit);
    http::read(socket, buffer, parser, ec);
    if (ec == http::error::body_limit) {
      auto res = too_large(11);
      res.keep_alive(false);
      send(socket, res, ec);
      return;
    }
    if (ec) return;  // closed by the client, or not HTTP: either way this connection is done
    const auto& req = parser.get();
    auto res = route(store, req, items, inflated);
    res.keep_alive(req.keep_alive());
    send(socket, res, ec);
    if (ec || !res.keep_alive()) return;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: elastic-bulk-sink PORT   (0 = ephemeral)\n");
    return 2;
  }
  // Blocked before any thread starts, so every thread inherits the mask and only sigwait below
  // ever sees SIGTERM/SIGINT.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  boost::asio::io_context io;
  tcp::acceptor acceptor(io, {boost::asio::ip::address_v4::loopback(),
                              static_cast<std::uint16_t>(std::atoi(argv[1]))});
  static Store store;  // static: connection threads are detached and may outlive main's frame
  std::thread([&acceptor] {
    while (true) {
      tcp::socket socket(acceptor.get_executor());
      beast::error_code ec;
      acceptor.accept(socket, ec);
      if (!ec) std::thread(serve, std::ref(store), std::move(socket)).detach();
    }
  }).detach();
  std::printf("{\"listening\":\"http://127.0.0.1:%u\"}\n", acceptor.local_endpoint().port());
  std::fflush(stdout);

  int signal = 0;
  sigwait(&stop_signals, &signal);
  // Nothing to flush or save: exit at once rather than unwinding under the connection threads.
  std::_Exit(0);
}

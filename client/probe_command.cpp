// iotc probe: an HTTP health check for containers that have no shell and no curl (the image is
// scratch-like), e.g. a docker-compose healthcheck on the collector's /readyz.
#include <boost/asio/io_context.hpp>
#include <cctype>
#include <iostream>
#include <regex>

#include "commands.hpp"
#include "elastic/http_client.hpp"
#include "elastic/url.hpp"
#include "global_options.hpp"

namespace iot::client {

int run_probe(int argc, const char* const* argv, const cli::Environment& env) {
  std::vector<std::string> args;
  std::uint64_t timeout_ms = 2000;
  bool silent = false;
  cli::FlagSet flags(argv[0],
                     "HTTP GET the URL (http[s]://host:port/path); exit 0 on 2xx, 1 otherwise.\n"
                     "For health checks in the container image, which has no curl:\n"
                     "  iotc probe http://127.0.0.1:8080/readyz",
                     kEnvPrefix);
  flags.add("timeout-ms", "MS", "Connect + answer deadline (10..60000).", "2000",
            [&](std::string_view v) { timeout_ms = cli::parse_unsigned(v, 10, 60000); });
  flags.add_bool("silent", "Print nothing; the exit status tells.", &silent);
  flags.set_positional("<url>", &args, 1, 1);
  std::string out;
  if (flags.parse(argc, argv, env, IOT_VERSION, out) != cli::FlagSet::Outcome::run) {
    std::cout << out;
    return kExitOk;
  }
  // The URL parser defaults to Elasticsearch's port 9200; a probe without a port would quietly
  // check the wrong one, so the port must be written.
  static const std::regex with_port(R"(^https?://(\[[^\]]+\]|[^/:\[\]]+):[0-9]+(/.*)?$)");
  if (!std::regex_match(args[0], with_port)) {
    throw cli::UsageError("expected http[s]://host:port[/path], got '" + args[0] + "'");
  }
  const std::string& url = args[0];
  const auto path_at = url.find('/', url.find("://") + 3);
  const std::string path = path_at == std::string::npos ? "/" : url.substr(path_at);
  elastic::HttpClientSettings http;
  try {
    http.nodes.push_back(elastic::parse_node_url(url.substr(0, path_at)));
  } catch (const std::invalid_argument& e) {
    throw cli::UsageError(e.what());
  }
  http.connect_timeout = std::chrono::milliseconds(timeout_ms);
  http.request_timeout = std::chrono::milliseconds(timeout_ms);
  http.max_connections_per_node = 1;

  boost::asio::io_context io;
  elastic::HttpClient client(io, http);
  std::optional<elastic::HttpResult> result;
  client.send({"GET", path, "", ""}, [&](elastic::HttpResult r) {
    result = std::move(r);
    io.stop();
  });
  io.run();
  if (!result || !result->response) {
    if (!silent) std::cerr << "iotc probe: " << (result ? result->detail : "no answer") << "\n";
    return kExitFailed;
  }
  const int status = result->response->status;
  const bool ok = status >= 200 && status < 300;
  if (!silent) {
    std::string body = result->response->body.substr(0, 200);
    while (!body.empty() && std::isspace(static_cast<unsigned char>(body.back()))) body.pop_back();
    (ok ? std::cout : std::cerr) << "iotc probe: HTTP " << status << " " << body << "\n";
  }
  return ok ? kExitOk : kExitFailed;
}

}  // namespace iot::client

// iotc verify: counts a load run's events in Elasticsearch; exit 1 on any difference.
#include <boost/asio/io_context.hpp>
#include <iostream>

#include "commands.hpp"
#include "elastic/connection_flags.hpp"
#include "elastic/http_client.hpp"
#include "global_options.hpp"
#include "verify.hpp"

namespace iot::client {

int run_verify(int argc, const char* const* argv, const cli::Environment& env) {
  std::string run_id;
  std::optional<std::uint64_t> expect;
  std::string data_stream = "iot-events";
  bool silent = false;
  std::uint64_t timeout_ms = 30000;
  elastic::ConnectionFlags connection;
  cli::FlagSet flags(argv[0],
                     "Counts the events of a load run (payload.run_id) in Elasticsearch and "
                     "reports missing\nand duplicated ones; exit 1 on any difference.",
                     kEnvPrefix);
  connection.add_to(flags);
  flags.add("run-id", "ID", "The run, as iotc load printed it.", "",
            [&](std::string_view v) { run_id = v; });
  flags.add("expect", "N", "Events the run should have stored (e.g. its acknowledged events).", "",
            [&](std::string_view v) { expect = cli::parse_unsigned(v, 0, UINT64_MAX); });
  flags.add("data-stream", "NAME", "Where the collector writes events.", data_stream,
            [&](std::string_view v) { data_stream = v; });
  flags.add("timeout-ms", "MS", "Timeout of the search (100..600000).", "30000",
            [&](std::string_view v) { timeout_ms = cli::parse_unsigned(v, 100, 600000); });
  flags.add_bool("silent", "Print nothing; the exit status tells.", &silent);
  std::string out;
  if (flags.parse(argc, argv, env, IOT_VERSION, out) != cli::FlagSet::Outcome::run) {
    std::cout << out;
    return kExitOk;
  }
  auto settings = connection.finish();
  if (!settings.nodes) throw cli::UsageError("--elasticsearch-url is required");
  if (run_id.empty()) throw cli::UsageError("--run-id is required");
  if (!expect) throw cli::UsageError("--expect is required");

  boost::asio::io_context io;
  elastic::HttpClientSettings http;
  http.nodes = std::move(*settings.nodes);
  http.authorization = std::move(settings.authorization);
  http.ca_file = std::move(settings.ca_file);
  http.insecure = settings.insecure;
  http.request_timeout = std::chrono::milliseconds(timeout_ms);
  elastic::HttpClient client(io, http);
  std::optional<elastic::HttpResult> result;
  client.send({"POST", "/" + data_stream + "/_search", "application/json", run_count_query(run_id)},
              [&](elastic::HttpResult r) {
                result = std::move(r);
                io.stop();  // idle keep-alive connections would keep run() going
              });
  io.run();
  if (!result || !result->response) {
    std::cerr << "iotc verify: " << (result ? result->detail : "no answer") << "\n";
    return kExitFailed;
  }
  if (result->response->status != 200) {
    std::cerr << "iotc verify: HTTP " << result->response->status << ": "
              << result->response->body.substr(0, 300) << "\n";
    return kExitFailed;
  }
  const auto parsed = parse_run_count(result->response->body, *expect);
  if (const auto* error = std::get_if<std::string>(&parsed)) {
    std::cerr << "iotc verify: " << *error << "\n";
    return kExitFailed;
  }
  const auto& count = std::get<RunCount>(parsed);
  if (!silent) std::cout << describe(count, run_id) << "\n";
  return count.matches() ? kExitOk : kExitFailed;
}

}  // namespace iot::client

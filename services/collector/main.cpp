// iot-collector: CoAP ingest of IoT events. Wires configuration, workers and the admin port, and
// owns the process life cycle (signals, drain, shutdown deadline).
#include <malloc.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <future>
#include <iostream>
#include <memory>
#include <random>
#include <vector>

#include "admin/admin_server.hpp"
#include "coap/server.hpp"
#include "collector_metrics.hpp"
#include "config.hpp"
#include "dtls/psk_keys.hpp"
#include "dtls/server_sessions.hpp"
#include "elasticsearch_monitor.hpp"
#include "elasticsearch_store.hpp"
#include "file_store.hpp"
#include "logging/log.hpp"
#include "sink/file_sink.hpp"
#include "worker.hpp"

namespace iot::collector {
namespace {

using Clock = std::chrono::steady_clock;

// SIGTERM and SIGINT shut down; SIGHUP re-reads the PSK file (and must not kill the process,
// its default action).
sigset_t handled_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}

// Waits for a shutdown signal until `deadline`; returns it, or 0 when the deadline passed.
// Runs `every_second` while waiting (the sink's durability flush, the PSK file's change check)
// and `on_hangup` for each SIGHUP.
template <typename Tick, typename Hangup>
int wait_for_signal(const sigset_t& signals, Clock::time_point deadline, Tick every_second,
                    Hangup on_hangup) {
  while (true) {
    const auto now = Clock::now();
    if (now >= deadline) return 0;
    const auto wait = std::min<Clock::duration>(deadline - now, std::chrono::seconds(1));
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(wait);
    const timespec timeout{
        static_cast<time_t>(secs.count()),
        static_cast<long>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(wait - secs).count())};
    const int signal = sigtimedwait(&signals, nullptr, &timeout);
    if (signal == SIGHUP) {
      on_hangup();
    } else if (signal > 0) {
      return signal;
    } else {
      every_second();
    }
  }
}

// The PSK file as loaded, and what tells a changed file apart: a Kubernetes Secret volume swaps
// a symlink (new inode), an editor rewrites in place (new mtime or size).
class PskFileWatch {
 public:
  PskFileWatch(std::string path, std::shared_ptr<dtls::KeyStore> keys)
      : path_(std::move(path)), keys_(std::move(keys)), seen_(stamp()) {}

  // Re-reads the file if it changed since last seen (or always, for SIGHUP). A file that no
  // longer parses leaves the previous keys in use: a typo must not lock every device out.
  void check(bool forced) {
    const auto now = stamp();
    if (!forced && now == seen_) return;
    seen_ = now;
    try {
      auto fresh = dtls::PskKeys::load(path_);
      const std::size_t devices = fresh.size();
      keys_->replace(std::move(fresh));
      logging::info("psk file reloaded", {{"file", path_}, {"identities", devices}});
    } catch (const dtls::PskFileError& e) {
      logging::error("psk file reload failed; keeping the previous keys", {{"error", e.what()}});
    }
  }

 private:
  struct Stamp {
    dev_t device = 0;
    ino_t inode = 0;
    off_t size = -1;
    std::int64_t mtime_ns = 0;
    bool operator==(const Stamp&) const = default;
  };
  Stamp stamp() const {
    struct stat info {};
    if (::stat(path_.c_str(), &info) != 0) return {};
    return {info.st_dev, info.st_ino, info.st_size,
            std::int64_t{info.st_mtim.tv_sec} * 1'000'000'000 + info.st_mtim.tv_nsec};
  }

  std::string path_;
  std::shared_ptr<dtls::KeyStore> keys_;
  Stamp seen_;
};

elastic::HttpClientSettings http_settings(const ElasticsearchSinkConfig& es,
                                          std::size_t connections_per_node) {
  elastic::HttpClientSettings http;
  http.nodes = es.nodes;
  http.authorization = es.authorization;
  http.ca_file = es.ca_file;
  http.insecure = es.insecure;
  http.connect_timeout = es.connect_timeout;
  http.request_timeout = es.request_timeout;
  http.max_connections_per_node = connections_per_node;
  http.gzip = es.gzip;
  return http;
}

elastic::BootstrapSettings bootstrap_settings(const CollectorConfig& config) {
  elastic::BootstrapSettings settings;
  settings.data_stream = config.index;
  settings.retention_days = config.elasticsearch->retention_days;
  return settings;
}

// Each worker gets a store of its own on its own event loop (shared-nothing).
StoreFactory store_factory(const CollectorConfig& config, const ElasticsearchMonitor* monitor) {
  if (!config.elasticsearch) {
    return [path = config.file_sink.path](boost::asio::io_context&, WorkerMetrics& metrics) {
      return std::make_unique<FileStore>(path, metrics);
    };
  }
  const auto& es = *config.elasticsearch;
  elastic::BulkWriterSettings writer;
  writer.batching = {es.bulk_max_docs, es.bulk_max_bytes, es.bulk_linger};
  writer.concurrency = es.bulk_concurrency;
  writer.ack_timeout = es.ack_timeout;
  writer.max_buffered_bytes = es.max_buffered_bytes;
  writer.dead_letter_stream = elastic::dead_letter_stream(bootstrap_settings(config));
  return [http = http_settings(es, es.bulk_concurrency), writer, ack = es.ack,
          &bootstrapped = monitor->bootstrapped()](boost::asio::io_context& io,
                                                   WorkerMetrics& metrics) {
    return std::make_unique<ElasticsearchStore>(io, http, writer, ack, bootstrapped, metrics);
  };
}

std::string sink_description(const CollectorConfig& config) {
  if (!config.elasticsearch) return "file:" + config.file_sink.path;
  std::string nodes;
  for (const auto& node : config.elasticsearch->nodes) {
    if (!nodes.empty()) nodes += ',';
    nodes += node.to_string();  // never holds credentials
  }
  return "elasticsearch:" + nodes;
}

int run(const CollectorConfig& config) {
  const sigset_t signals = handled_signals();
  // Blocked before any thread starts, so every thread inherits the mask and only this one
  // receives shutdown signals (through sigtimedwait).
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  std::atomic<bool> draining{false};
  std::atomic<bool> serving{false};

  IngestSettings settings;
  settings.max_payload = config.max_payload;
  settings.max_batch = config.max_batch;
  settings.index = config.index;
  settings.instance = config.instance;
  settings.rate_limit = config.rate_limit;
  if (config.rate_limit) {
    settings.rate_limit_seed =
        (std::uint64_t{std::random_device{}()} << 32) | std::random_device{}();
  }
  coap::ServerOptions coap_options;
  coap_options.host = config.listen.host;
  coap_options.port = config.listen.port;
  coap_options.paths = {"events", "health"};
  // A body up to --max-payload fits one datagram (with room for the header and options), also
  // beyond an Ethernet frame: IP fragments it, and devices on a LAN send such datagrams.
  coap_options.max_datagram_bytes = std::max<std::size_t>(config.max_payload, 1024) + 1024;
  // GET /health is what monitors and operators probe with: its JSON answer stays whole.
  coap_options.amplification_exempt_paths = {"health"};
  std::vector<coap::ServerOptions> endpoints;
  if (!config.dtls || !config.dtls->required) endpoints.push_back(coap_options);

  std::shared_ptr<dtls::KeyStore> psk_keys;
  std::optional<PskFileWatch> psk_watch;
  if (config.dtls) {
    try {
      psk_keys = std::make_shared<dtls::KeyStore>(dtls::PskKeys::load(config.dtls->psk_file));
    } catch (const dtls::PskFileError& e) {
      logging::error("cannot start: bad --psk-file", {{"error", e.what()}});
      return 2;
    }
    psk_watch.emplace(config.dtls->psk_file, psk_keys);
    coap::ServerOptions dtls_options = coap_options;
    dtls_options.host = config.dtls->listen.host;
    dtls_options.port = config.dtls->listen.port;
    dtls_options.dtls = coap::ServerOptions::Dtls{
        psk_keys, dtls::SessionLimits{.max_sessions = config.dtls->max_sessions,
                                      .idle_timeout = config.dtls->idle_timeout}};
    endpoints.push_back(dtls_options);
  }

  std::unique_ptr<ElasticsearchMonitor> monitor;
  std::vector<std::unique_ptr<Worker>> workers;
  std::unique_ptr<admin::AdminServer> admin;
  std::unique_ptr<sink::FileFlusher> flusher;
  try {
    if (config.elasticsearch) {
      if (config.elasticsearch->insecure) {
        logging::warn(
            "elasticsearch TLS certificates are not verified (--elasticsearch-insecure); "
            "for development only");
      }
      monitor = std::make_unique<ElasticsearchMonitor>(http_settings(*config.elasticsearch, 1),
                                                       bootstrap_settings(config),
                                                       config.elasticsearch->bootstrap);
    }
    for (auto& endpoint : endpoints) {
      if (endpoint.port == 0) endpoint.port = coap::pick_free_udp_port(endpoint.host);
      coap::ensure_udp_port_free(endpoint.host, endpoint.port);
    }
    const StoreFactory make_store = store_factory(config, monitor.get());
    for (unsigned i = 0; i < config.threads; ++i) {
      workers.push_back(std::make_unique<Worker>(i, endpoints, settings, make_store, draining));
    }
    if (!config.elasticsearch) flusher = std::make_unique<sink::FileFlusher>(config.file_sink.path);
    std::vector<const WorkerMetrics*> worker_metrics;
    for (const auto& worker : workers) worker_metrics.push_back(&worker->metrics());
    // Not ready while Elasticsearch is unreachable: the Service then routes devices elsewhere.
    const auto ready = [&] {
      return serving.load() && !draining.load() && (!monitor || monitor->up());
    };
    admin::AdminHandlers handlers;
    handlers.ready = ready;
    handlers.metrics = [&, ready, worker_metrics] {
      return render_metrics(
          worker_metrics,
          ProcessState{ready(), config.threads, monitor != nullptr, monitor && monitor->up()});
    };
    if (monitor && config.self_metrics_interval.count() > 0) {
      monitor->report_self_metrics(
          config.self_metrics_interval,
          std::make_unique<SelfMetricsReporter>(
              elastic::self_metrics_stream(bootstrap_settings(config)), config.instance,
              SelfMetricsReporter::Sources{
                  [worker_metrics] { return total_metrics(worker_metrics); },
                  [&, ready] {
                    return ProcessState{ready(), config.threads, true, monitor->up()};
                  }}));
    }
    admin = std::make_unique<admin::AdminServer>(config.admin_listen.host, config.admin_listen.port,
                                                 std::move(handlers));
  } catch (const std::exception& e) {
    logging::error("cannot start", {{"error", e.what()}});
    return 1;
  }

  if (monitor) monitor->start();
  for (auto& worker : workers) worker->start();
  admin->start();
  serving = true;
  const auto addresses = workers.front()->addresses();
  const std::string admin_address = admin->local_address();
  const std::string sink = sink_description(config);
  // "coap" is the first endpoint: plain UDP, or DTLS with --require-dtls.
  std::vector<logging::Field> ready{{"coap", addresses.front()},   {"admin", admin_address},
                                    {"threads", config.threads},   {"sink", sink},
                                    {"instance", config.instance}, {"version", IOT_VERSION}};
  if (config.dtls) {
    ready.insert(ready.begin() + 1,
                 {{"coaps", addresses.back()}, {"psk_identities", psk_keys->current()->size()}});
  }
  logging::write(logging::Level::info, "ready", ready);

  const auto flush = [&] {
    if (!flusher) return;
    if (auto error = flusher->flush()) {
      logging::error("sink flush failed", {{"error", error.message()}});
    }
  };
  const auto tick = [&] {
    flush();
    if (psk_watch) psk_watch->check(false);
  };
  const auto hangup = [&] {
    if (psk_watch) {
      psk_watch->check(true);
    } else {
      logging::info("SIGHUP ignored: nothing to reload without --psk-file");
    }
  };
  const int signal = wait_for_signal(signals, Clock::time_point::max(), tick, hangup);
  const auto deadline = Clock::now() + config.shutdown_timeout;
  draining = true;
  logging::info("draining",
                {{"signal", strsignal(signal)},
                 {"drain_delay_s", static_cast<std::int64_t>(config.drain_delay.count())}});
  // Keep answering 5.03 while the Service stops routing here; a second signal cuts it short.
  if (config.drain_delay.count() > 0)
    wait_for_signal(signals, Clock::now() + config.drain_delay, tick, hangup);

  std::vector<std::future<void>> stopped;
  // Leave a little of the shutdown budget for freeing everything after the answers went out.
  const auto deliver_by = deadline - std::min<Clock::duration>(config.shutdown_timeout / 10,
                                                               std::chrono::milliseconds(500));
  for (auto& worker : workers) stopped.push_back(worker->stop(deliver_by));
  for (auto& done : stopped) {
    if (done.wait_until(deadline) == std::future_status::timeout) {
      logging::error("shutdown timed out",
                     {{"timeout_s", static_cast<std::int64_t>(config.shutdown_timeout.count())}});
      std::_Exit(1);
    }
  }
  for (auto& worker : workers) worker->join();
  if (monitor) monitor->stop();
  admin->stop();
  flush();
  logging::info("stopped");
  return 0;
}

}  // namespace
}  // namespace iot::collector

int main(int argc, char** argv, char** envp) {
  using namespace iot;
  // The process holds device keys and Elasticsearch credentials: no core dump may carry them
  // (this also keeps other users' debuggers out). Set before any secret is read.
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  // Bulk request bodies and responses (hundreds of KiB, up to --bulk-max-bytes) are allocated and
  // freed every few milliseconds. With glibc's defaults each free gave the pages back (munmap,
  // or madvise of a worker arena's top) and the next buffer faulted them in again: ~0.5 ms per
  // bulk request in a VM, on the thread that answers devices. Buffers up to 1 MiB now come from
  // the heap and up to 4 MiB of free heap stays: --ack accepted with 10 events per request went
  // from ~200,000 to ~600,000 events/s here, at 45 MiB peak RSS with the buffer full.
  ::mallopt(M_MMAP_THRESHOLD, 1 << 20);
  ::mallopt(M_TRIM_THRESHOLD, 4 << 20);
  collector::CollectorConfig config;
  try {
    auto parsed = collector::parse_collector_config(argc, argv, cli::environment_from(envp));
    if (auto* exit_now = std::get_if<collector::ExitNow>(&parsed)) {
      std::cout << exit_now->text << std::flush;
      return exit_now->status;
    }
    config = std::get<collector::CollectorConfig>(std::move(parsed));
    logging::configure(config.log_format == collector::LogFormat::json ? logging::Format::json
                                                                       : logging::Format::text,
                       logging::parse_level(config.log_level));
    if (!config.unknown_environment.empty()) {
      std::string names;
      for (const auto& name : config.unknown_environment) {
        names += (names.empty() ? "" : ", ") + name;
      }
      logging::warn("ignoring environment variables that name no flag; a typo?",
                    {{"variables", names}});
    }
  } catch (const std::exception& e) {
    std::cerr << "iot-collector: " << e.what() << "\n";
    return 2;
  }
  return collector::run(config);
}

// iot-collector: CoAP ingest of IoT events. Wires configuration, workers and the admin port, and
// owns the process life cycle (signals, drain, shutdown deadline).
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <future>
#include <iostream>
#include <memory>
#include <vector>

#include "admin/admin_server.hpp"
#include "coap/server.hpp"
#include "collector_metrics.hpp"
#include "config.hpp"
#include "logging/log.hpp"
#include "sink/file_sink.hpp"
#include "worker.hpp"

namespace iot::collector {
namespace {

using Clock = std::chrono::steady_clock;

sigset_t shutdown_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

// Waits for a shutdown signal until `deadline`; returns it, or 0 when the deadline passed.
// Runs `every_second` while waiting (the sink's durability flush).
template <typename Tick>
int wait_for_signal(const sigset_t& signals, Clock::time_point deadline, Tick every_second) {
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
    if (signal > 0) return signal;
    every_second();
  }
}

int run(const CollectorConfig& config) {
  const sigset_t signals = shutdown_signals();
  // Blocked before any thread starts, so every thread inherits the mask and only this one
  // receives shutdown signals (through sigtimedwait).
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  coap::Library coap_library(logging::enabled(logging::Level::trace));
  std::atomic<bool> draining{false};
  std::atomic<bool> serving{false};

  IngestSettings settings{config.max_payload, config.max_batch, config.index, config.instance};
  coap::ServerOptions coap_options;
  coap_options.host = config.listen.host;
  coap_options.port = config.listen.port;
  coap_options.paths = {"events", "health"};

  std::vector<std::unique_ptr<Worker>> workers;
  std::unique_ptr<admin::AdminServer> admin;
  std::unique_ptr<sink::FileFlusher> flusher;
  try {
    coap::ensure_udp_port_free(coap_options.host, coap_options.port);
    for (unsigned i = 0; i < config.threads; ++i) {
      workers.push_back(
          std::make_unique<Worker>(i, coap_options, settings, config.file_sink.path, draining));
      // With port 0 the first worker picks the port and the others join it.
      coap_options.port = workers.front()->port();
    }
    flusher = std::make_unique<sink::FileFlusher>(config.file_sink.path);
    std::vector<const WorkerMetrics*> worker_metrics;
    for (const auto& worker : workers) worker_metrics.push_back(&worker->metrics());
    admin::AdminHandlers handlers;
    handlers.ready = [&] { return serving.load() && !draining.load(); };
    handlers.metrics = [&, worker_metrics] {
      return render_metrics(worker_metrics,
                            ProcessState{serving.load() && !draining.load(), config.threads});
    };
    admin = std::make_unique<admin::AdminServer>(config.admin_listen.host, config.admin_listen.port,
                                                 std::move(handlers));
  } catch (const std::exception& e) {
    logging::error("cannot start", {{"error", e.what()}});
    return 1;
  }

  for (auto& worker : workers) worker->start();
  admin->start();
  serving = true;
  logging::info("ready", {{"coap", workers.front()->address()},
                          {"admin", admin->local_address()},
                          {"threads", config.threads},
                          {"sink", "file:" + config.file_sink.path},
                          {"instance", config.instance},
                          {"version", IOT_VERSION}});

  const auto flush = [&] {
    if (auto error = flusher->flush())
      logging::error("sink flush failed", {{"error", error.message()}});
  };
  const int signal = wait_for_signal(signals, Clock::time_point::max(), flush);
  const auto deadline = Clock::now() + config.shutdown_timeout;
  draining = true;
  logging::info("draining",
                {{"signal", strsignal(signal)},
                 {"drain_delay_s", static_cast<std::int64_t>(config.drain_delay.count())}});
  // Keep answering 5.03 while the Service stops routing here; a second signal cuts it short.
  if (config.drain_delay.count() > 0)
    wait_for_signal(signals, Clock::now() + config.drain_delay, flush);

  std::vector<std::future<void>> stopped;
  for (auto& worker : workers) stopped.push_back(worker->stop());
  for (auto& done : stopped) {
    if (done.wait_until(deadline) == std::future_status::timeout) {
      logging::error("shutdown timed out",
                     {{"timeout_s", static_cast<std::int64_t>(config.shutdown_timeout.count())}});
      std::_Exit(1);
    }
  }
  for (auto& worker : workers) worker->join();
  admin->stop();
  flush();
  logging::info("stopped");
  return 0;
}

}  // namespace
}  // namespace iot::collector

int main(int argc, char** argv, char** envp) {
  using namespace iot;
  collector::CollectorConfig config;
  try {
    auto parsed = collector::parse_collector_config(argc, argv, cli::environment_from(envp));
    if (auto* exit_now = std::get_if<collector::ExitNow>(&parsed)) {
      std::cout << exit_now->text << std::flush;
      return exit_now->status;
    }
    config = std::get<collector::CollectorConfig>(std::move(parsed));
    if (config.elasticsearch) {
      // Never fall back to the file sink silently when Elasticsearch was asked for.
      throw cli::UsageError("--elasticsearch-url: the Elasticsearch sink is not wired in yet");
    }
    logging::configure(config.log_format == collector::LogFormat::json ? logging::Format::json
                                                                       : logging::Format::text,
                       logging::parse_level(config.log_level));
  } catch (const std::exception& e) {
    std::cerr << "iot-collector: " << e.what() << "\n";
    return 2;
  }
  return collector::run(config);
}

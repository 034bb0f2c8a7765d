// `synscope exporter`: serve the listen path's metrics to Prometheus (live::ListenPathCollector over
// prometheus-cpp's HTTP exposer), or print one scrape with --once. Thin: arguments, wiring, signals.
#include <CivetServer.h>
#include <civetweb.h>
#include <prometheus/exposer.h>
#include <signal.h>

#include <atomic>
#include <cstring>
#include <fmt/format.h>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "core/error.h"
#include "live/exporter.h"
#include "live/trace/traced_drops_metrics.h"

namespace synscope::cli {
namespace {

struct ExporterArgs {
  std::string listen = "127.0.0.1:9731";
  std::string netns;
  bool once = false;
  double owner_refresh = 30;
  double min_window = 5;
  bool trace = false;
};

// prometheus-cpp's Exposer runs the HTTP server (civetweb) and would answer /metrics with its own
// serializer; at 10,000 listeners that serializer alone cost 37 ms of a scrape, so /metrics is
// answered from civetweb's begin_request callback, which the Exposer accepts for this, with our
// serializer of the same metric families (live::append_exposition). One exporter per process.
std::atomic<const live::ListenPathCollector*> g_collector{nullptr};

int serve_metrics(mg_connection* conn) {
  const auto* info = mg_get_request_info(conn);
  const auto* collector = g_collector.load();
  if (!collector || !info->local_uri || std::strcmp(info->local_uri, "/metrics") != 0) return 0;
  if (std::strcmp(info->request_method, "GET") != 0 && std::strcmp(info->request_method, "HEAD") != 0) {
    mg_send_http_error(conn, 405, "only GET and HEAD on /metrics");
    return 405;
  }
  thread_local std::string body;  // keeps its capacity from one scrape to the next
  body.clear();
  collector->write_exposition(body);
  mg_send_http_ok(conn, "text/plain; version=0.0.4; charset=utf-8", static_cast<long long>(body.size()));
  if (std::strcmp(info->request_method, "GET") == 0) mg_write(conn, body.data(), body.size());
  return 200;
}

int run_exporter(const ExporterArgs& a) {
  if (a.owner_refresh < 1 || a.owner_refresh > 86400)
    throw UsageError(fmt::format("--owner-refresh {}: expected 1 … 86400 seconds", a.owner_refresh));
  if (a.min_window < 0 || a.min_window > 3600)
    throw UsageError(fmt::format("--min-window {}: expected 0 … 3600 seconds", a.min_window));
  // A namespace that cannot be entered is a usage error now, not a scrape error forever after.
  live::run_in_netns(a.netns, [] {});
  auto collector = std::make_shared<live::ListenPathCollector>(live::ExporterOptions{a.netns, a.min_window, a.owner_refresh});
  if (a.once && a.trace) throw UsageError("--trace needs a running exporter: it counts drops from its start, --once has none");
  if (a.once) {
    std::string text;
    collector->write_exposition(text);
    std::cout << text;
    return 0;
  }
  // Block the stop signals before any thread starts, so that every thread inherits the mask and
  // the main thread alone receives them through sigwait.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  // --trace: the BPF tracer's drops by cause join every scrape (refused with its reason if BPF cannot run).
  std::unique_ptr<live::trace::TracedDropsMetrics> traced;
  if (a.trace) {
    live::trace::TraceOptions topts;
    topts.netns = a.netns;
    traced = std::make_unique<live::trace::TracedDropsMetrics>(topts);
    collector->add_extra([t = traced.get()] { return t->families(); });
  }
  std::unique_ptr<prometheus::Exposer> exposer;
  try {
    static CivetCallbacks callbacks;
    callbacks.begin_request = serve_metrics;
    g_collector = collector.get();
    // civetweb gives each connection a worker thread until its request is read: with civetweb's
    // defaults (30 s request timeout, 200 backlog, 20 queued connections) a burst of 1,000
    // concurrent scrapers, or a few clients that connect and say nothing, held both workers and left
    // the next scrape waiting for minutes (tests/live/exporter_load_test.cpp). So: more workers than
    // one slow client can hold, a request that must arrive within 1 s (a Prometheus scrape sends it
    // at once), and a backlog deep enough that a burst queues instead of losing SYNs.
    exposer = std::make_unique<prometheus::Exposer>(
        std::vector<std::string>{"listening_ports", a.listen, "num_threads", "8", "request_timeout_ms", "1000",
                                 "listen_backlog", "1024", "connection_queue", "1024"},
        &callbacks);
  } catch (const std::exception& e) {
    // civetweb only says "null context when constructing CivetServer" for a busy or foreign address.
    throw UsageError(fmt::format("--listen {}: cannot serve there (port in use, or not an address of this host): {}", a.listen, e.what()));
  }
  collector->start_owner_refresh();
  const auto ports = exposer->GetListeningPorts();
  std::cerr << fmt::format("synscope exporter: serving http://{}/metrics{}{}{}\n", a.listen,
                           ports.empty() ? "" : fmt::format(" (port {})", ports.front()),
                           a.netns.empty() ? "" : fmt::format(" for network namespace {}", a.netns),
                           traced ? fmt::format(", tracing SYNs ({})", traced->path()) : "");
  int sig = 0;
  sigwait(&stop, &sig);
  exposer.reset();  // no request may reach the collector once it is gone
  g_collector = nullptr;
  traced.reset();  // detach the BPF programs before exiting
  std::cerr << fmt::format("synscope exporter: {} received, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
  return 0;
}

}  // namespace

Command add_exporter_command(CLI::App& app) {
  auto args = std::make_shared<ExporterArgs>();
  auto* cmd = app.add_subcommand("exporter", "serve listener queues, listen-path counters and the doctor's findings "
                                             "as Prometheus metrics");
  cmd->add_option("--listen", args->listen, "address:port to serve /metrics on (port 0: any free port)")
      ->capture_default_str();
  cmd->add_option("--netns", args->netns, "export the network namespace /run/netns/NAME (needs root)");
  cmd->add_flag("--once", args->once, "print one scrape in the Prometheus text format and exit");
  cmd->add_flag("--trace", args->trace,
                "also trace every SYN with BPF (as `synscope trace`) and export drops by cause (needs root and BTF)");
  cmd->add_option("--owner-refresh", args->owner_refresh,
                  "seconds between background refreshes of the listeners' owning processes")
      ->capture_default_str();
  cmd->add_option("--min-window", args->min_window,
                  "findings compare each scrape with a sample at least this many seconds older")
      ->capture_default_str();
  return {cmd, [args] { return run_exporter(*args); }};
}

}  // namespace synscope::cli

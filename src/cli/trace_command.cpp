// `synscope trace`: every SYN (and handshake ACK) reaching a namespace, with the listen path's
// decision predicted from the kernel's own numbers and confirmed from what leaves (docs/trace.md).
// Thin: parse, run live::trace::SynTracer until the duration ends or SIGINT/SIGTERM, print.
// Exit 0 when it ran (contradictions are reported, not fatal), 2 when it cannot run here.
#include <fmt/format.h>
#include <signal.h>

#include <csignal>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/error.h"
#include "live/trace/syn_tracer.h"
#include "live/trace/trace_report.h"

namespace synscope::cli {
namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

struct TraceArgs {
  std::string netns;
  std::string iface;
  int port = 0;
  bool json = false;
  bool top = false;
  bool fallback = false;
  std::string duration;
  std::string tc_hook = "auto";
  bool loopback_egress = false;
};

std::int64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

int run_trace(const TraceArgs& a) {
  if (a.port < 0 || a.port > 65535) throw UsageError(fmt::format("--port {}: expected 1 … 65535", a.port));
  std::optional<std::chrono::milliseconds> duration;
  if (!a.duration.empty()) duration = live::trace::parse_trace_duration(a.duration);
  if (a.fallback && a.top) throw UsageError("--top needs per-SYN events, which --fallback does not have");

  live::trace::TraceOptions opt;
  opt.netns = a.netns;
  opt.iface = a.iface;
  opt.port = static_cast<std::uint16_t>(a.port);
  opt.mode = a.fallback ? live::trace::Mode::Sampling : live::trace::Mode::Bpf;
  opt.tc_hook = a.tc_hook == "tcx"      ? live::trace::TcHook::Tcx
                : a.tc_hook == "clsact" ? live::trace::TcHook::Clsact
                                        : live::trace::TcHook::Auto;
  opt.loopback_egress = a.loopback_egress;
  live::trace::SynTracer tracer(opt);

  // Installed before start(): a signal during the attach still ends in stop() (the destructor).
  g_stop = 0;
  struct sigaction sa{};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  tracer.start();
  std::cerr << live::trace::probe_text(tracer) << (duration ? "" : "; Ctrl-C to stop") << '\n';
  const auto t0 = monotonic_ns();
  const auto end = duration ? t0 + duration->count() * 1'000'000 : std::int64_t{-1};
  live::trace::TopTables top;
  std::int64_t next_draw = t0 + 1'000'000'000;
  auto emit = [&](const std::vector<live::trace::TraceEvent>& events) {
    for (const auto& e : events) {
      if (a.top) top.add(e);
      else if (a.json) std::cout << live::trace::event_json(e, t0).dump() << '\n';
      else std::cout << live::trace::event_text(e, t0) << '\n';
    }
    std::cout.flush();
  };
  while (!g_stop) {
    const auto now = monotonic_ns();
    if (end >= 0 && now >= end) break;
    int wait_ms = 100;
    if (end >= 0) wait_ms = static_cast<int>(std::min<std::int64_t>(100, (end - now) / 1'000'000 + 1));
    emit(tracer.poll(wait_ms));
    if (a.top && monotonic_ns() >= next_draw) {
      next_draw += 1'000'000'000;
      std::cout << "\x1b[H\x1b[2J" << live::trace::probe_text(tracer) << "\n\n" << top.text() << std::flush;
    }
  }
  emit(tracer.stop());
  if (a.top) std::cout << top.text() << '\n';
  if (a.json) std::cout << live::trace::summary_json(tracer).dump() << '\n';
  else std::cout << live::trace::summary_text(tracer);
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  return 0;
}

}  // namespace

Command add_trace_command(CLI::App& app) {
  auto args = std::make_shared<TraceArgs>();
  auto* cmd = app.add_subcommand("trace", "attribute every SYN a namespace receives to the listen path's decision, "
                                          "live, with eBPF (needs root and kernel BTF)");
  cmd->add_option("--netns", args->netns, "trace the network namespace /run/netns/NAME (default: this one)");
  cmd->add_option("--iface", args->iface, "attach to this interface only (default: every interface of the namespace)");
  cmd->add_option("--port", args->port, "only this local port");
  cmd->add_flag("--json", args->json, "one JSON object per event, then a summary (schema synscope.trace/1)");
  cmd->add_flag("--top", args->top, "live tables per listener and per client address instead of events");
  cmd->add_option("--duration", args->duration, "stop after this long (5s, 500ms, 2m); default: until Ctrl-C");
  cmd->add_flag("--fallback", args->fallback,
                "no BPF: drops by cause from counter deltas and listeners from sock_diag (no per-SYN events)");
  cmd->add_option("--tc-hook", args->tc_hook,
                  "how to hook the TC programs: tcx links (kernel 6.6+), a clsact qdisc, or auto (tcx when the "
                  "kernel has it)")
      ->check(CLI::IsMember({"auto", "tcx", "clsact"}))
      ->capture_default_str();
  cmd->add_flag("--loopback-egress", args->loopback_egress,
                "also attach the egress program on loopback devices (by default only ingress is hooked there: "
                "every packet that leaves lo comes back in through it); for comparison");
  return {cmd, [args] { return run_trace(*args); }};
}

}  // namespace synscope::cli

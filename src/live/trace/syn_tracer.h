#pragma once
// live::trace::SynTracer: attributes each inbound SYN (and handshake ACK) of one network namespace
// to the listen path's decision, live, with BPF (docs/trace.md).
//
//   SynTracer t({.netns = "prod", .port = 8080});
//   t.start();                       // loads and attaches; throws TraceUnavailable (exit 2) if it cannot
//   while (...) for (auto& e : t.poll(100)) …;   // judged events, oldest first
//   t.stop();                        // detaches, removes what it added to tc, judges what is left
//   t.drops_by_cause();              // {"accept_queue_full": 12, …}: the exporter's labelled counter
//
// Path: TC ingress/egress (tcx links or clsact) on the interfaces inside the namespace, ingress only
// on loopback devices (bpf_skc_lookup_tcp + CO-RE reads of the listener) and the raw tracepoint tcp_retransmit_synack. fentry and kprobes are probed
// at start-up and reported (§17: refused / absent on 6.18 here); the TC path is used either way.
// Fallback (Mode::Sampling, when BPF cannot run or on request): no per-SYN events; drops by cause
// come from counter deltas and listeners from sock_diag, sampled at each poll().
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "live/sock_diag.h"
#include "live/trace/correlator.h"
#include "live/trace/trace_event.h"
#include "model/counters.h"

namespace synscope::live::trace {

// BPF tracing cannot run here (not root, no BTF, hooks refused, no such interface): the one-line
// reason says what to do. A UsageError: the CLI exits 2.
class TraceUnavailable : public UsageError {
 public:
  using UsageError::UsageError;
};

enum class Mode { Bpf, Sampling };

// How the TC programs are hooked to each interface: tcx links (kernel 6.6+, cheaper per packet and
// detached by the kernel if we die) when the kernel has them, else a clsact qdisc with filters.
enum class TcHook { Auto, Tcx, Clsact };

struct TraceOptions {
  std::string netns;          // /run/netns/NAME; "" = the caller's namespace
  std::string iface;          // "" = every interface of the namespace that is up (lo included)
  std::uint16_t port = 0;     // 0 = every local port
  Mode mode = Mode::Bpf;
  TcHook tc_hook = TcHook::Auto;
  // On a loopback device (IFF_LOOPBACK) every packet that leaves through egress comes back through
  // ingress, so by default only the ingress program is attached there and sees both directions
  // (docs/trace.md, "Hooks"). true: attach both programs there too, as on other devices (the
  // design before; kept for comparison, e.g. bench/trace_overhead.sh --compare).
  bool loopback_egress = false;
  std::int64_t window_ns = 250'000'000;  // confirmation window (Correlator)
};

// What start() found about the kernel's hooks (printed by `synscope trace`, kept in --json).
struct HookProbe {
  bool btf = false;          // /sys/kernel/btf/vmlinux
  std::string fentry;        // "loads" or why not ("refused: Operation not permitted")
  std::string kprobe;        // "available" or why not
  std::string path;          // the path used: "tc+raw_tracepoint" or "sampling"
  std::string tc_hook;       // how the TC programs are attached: "tcx" (links, 6.6+), "clsact", or
                             // "tcx+clsact" when some interfaces refused tcx
  std::vector<std::string> interfaces;  // where TC programs are attached
  std::vector<std::string> ingress_only;  // of those, the loopback devices with only the ingress
                                          // program (it sees what leaves as it comes back in)
};

// A counter that moved in the namespace, next to what the traced decisions predict for it.
struct CounterCheck {
  model::Counter counter;
  std::uint64_t kernel = 0;     // delta since start()
  std::uint64_t predicted = 0;  // sum over the traced decisions
  bool agrees() const { return kernel == predicted; }
};

// One labelled value of the drops-by-cause counter.
struct CauseDrops {
  std::string cause;        // model rule id: "accept_queue_full", "syn_queue_full_drop", …
  std::string section;      // fact-sheet section of the rule
  std::uint64_t count = 0;  // segments the kernel dropped or reset for this cause since start()
};

class SynTracer {
 public:
  explicit SynTracer(TraceOptions options);
  ~SynTracer();  // stop()s
  SynTracer(const SynTracer&) = delete;
  SynTracer& operator=(const SynTracer&) = delete;

  // Loads and attaches (Mode::Bpf) or takes the first sample (Mode::Sampling). Throws TraceUnavailable.
  void start();
  // Waits up to `timeout_ms` for records, returns the events whose confirmation window ended.
  std::vector<TraceEvent> poll(int timeout_ms);
  // Detaches (removing the clsact qdisc if start() created it), then returns the remaining events.
  // Idempotent; also called by the destructor.
  std::vector<TraceEvent> stop();

  Mode mode() const { return options_.mode; }
  const HookProbe& probe() const { return probe_; }
  const TraceOptions& options() const { return options_; }
  const TraceTally& tally() const;

  // Drops (silent drops and resets of the listen path) by cause since start(), largest first.
  // Mode::Bpf: from the traced, judged decisions (contradicted ones included: the kernel counts
  // what it did, and contradictions are reported separately). Mode::Sampling: from counter deltas
  // (ListenOverflows → accept_queue_full, TCPReqQFullDrop → syn_queue_full_drop, §3.8).
  std::vector<CauseDrops> drops_by_cause() const;
  // Listen-path counters of the namespace since start() against the traced predictions (§3.8, §5.2).
  std::vector<CounterCheck> counter_checks() const;
  // Listeners at the last sample (Mode::Sampling) or the last owner lookup (Mode::Bpf).
  const std::vector<Listener>& listeners() const;
  // Ring-buffer records the kernel could not deliver (buffer full): events missing from the trace.
  std::uint64_t lost() const;

  struct Impl;

 private:
  TraceOptions options_;
  HookProbe probe_;
  std::unique_ptr<Impl> impl_;
};

// Why BPF tracing cannot run in this process, or "" when it can (root, BTF present).
std::string bpf_unavailable_reason();

// Parses "5s", "250ms", "2m", "1.5s" (a plain number is seconds). Throws UsageError.
std::chrono::milliseconds parse_trace_duration(const std::string& text);

}  // namespace synscope::live::trace

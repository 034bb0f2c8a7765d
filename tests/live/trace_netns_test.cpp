// `synscope trace` and live::trace::SynTracer against the real kernel in namespaces the test creates
// (needs root and kernel BTF; skipped otherwise): an accept-queue overflow on loopback is traced
// with its numbers, tc/tcx is left exactly as found (our tcx links, or our filters and, if we added
// it, the clsact qdisc removed, also after SIGINT/SIGTERM; tcx links even after SIGKILL), the
// fallback mode counts the same drops from counters, and a missing namespace/interface/privilege
// is refused with one line and exit 2.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <bpf/bpf.h>
#include <fcntl.h>
#include <net/if.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "live/snapshot.h"
#include "live/trace/syn_tracer.h"
#include "live_test_support.h"
#include "support/process.h"

namespace synscope::testing {
namespace {

using live::trace::Confirmation;

#define SKIP_UNLESS_TRACE()                                                                        \
  do {                                                                                             \
    if (!is_root()) GTEST_SKIP() << "needs root: creates network namespaces and loads BPF programs"; \
    if (auto why = live::trace::bpf_unavailable_reason(); !why.empty()) GTEST_SKIP() << why;       \
  } while (0)

// What tc shows on `dev` in `ns`: qdiscs and both directions' filters.
std::string tc_state(const std::string& ns, const std::string& dev) {
  const std::string tc = "ip netns exec " + ns + " tc ";
  std::string cmd = tc + "qdisc show dev " + dev + "; " + tc + "filter show dev " + dev + " ingress; " + tc +
                    "filter show dev " + dev + " egress";
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return "popen failed";
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

// The names of the programs on `dev`'s tcx hooks in `ns`, asked from the kernel (BPF_PROG_QUERY):
// Debian 12's tc and bpftool predate tcx and show none of it. "" on a kernel without tcx.
std::string tcx_state(const std::string& ns, const std::string& dev) {
  std::string out;
  live::run_in_netns(ns, [&] {
    const int ifindex = static_cast<int>(if_nametoindex(dev.c_str()));
    for (auto [type, label] : {std::pair{46, "tcx ingress:"}, std::pair{47, "tcx egress:"}}) {  // BPF_TCX_*
      std::array<std::uint32_t, 16> ids{};
      std::uint32_t count = ids.size();
      if (bpf_prog_query(ifindex, static_cast<bpf_attach_type>(type), 0, nullptr, ids.data(), &count) != 0) continue;
      out += label;
      for (std::uint32_t i = 0; i < count; ++i) {
        const int fd = bpf_prog_get_fd_by_id(ids[i]);
        bpf_prog_info info{};
        std::uint32_t len = sizeof info;
        if (fd >= 0 && bpf_obj_get_info_by_fd(fd, &info, &len) == 0) out += std::string(" ") + info.name;
        if (fd >= 0) close(fd);
      }
      out += "\n";
    }
  });
  return out;
}

// Everything a trace run could leave behind on `dev`: tc qdiscs and filters, and tcx programs.
std::string hook_state(const std::string& ns, const std::string& dev) { return tc_state(ns, dev) + tcx_state(ns, dev); }

// What the tracer attaches to lo, as `hook_state` shows it, on tcx links and nothing added to tc:
// by default syn_ingress_lo alone on ingress (a loopback device's egress comes back through its
// ingress); with `both` (TraceOptions::loopback_egress) both programs, as on any other device.
void expect_programs_on_tcx(const std::string& state, bool both = false) {
  if (both) {
    EXPECT_NE(state.find("tcx ingress: syn_ingress\n"), std::string::npos) << state;
    EXPECT_NE(state.find("tcx egress: syn_egress\n"), std::string::npos) << state;
  } else {
    EXPECT_NE(state.find("tcx ingress: syn_ingress_lo\n"), std::string::npos) << state;
    EXPECT_EQ(state.find("tcx egress: syn_"), std::string::npos) << state;
  }
  EXPECT_EQ(state.find("clsact"), std::string::npos) << state;
}

// The same as filters of a clsact qdisc, as `hook_state` shows it on `ns`'s lo.
void expect_programs_on_clsact(const std::string& ns, const std::string& state, bool both = false) {
  EXPECT_NE(state.find("clsact"), std::string::npos) << state;
  EXPECT_NE(state.find(both ? "syn_ingress " : "syn_ingress_lo"), std::string::npos) << state;
  EXPECT_EQ(state.find("syn_egress") != std::string::npos, both) << state;
  EXPECT_EQ(tcx_state(ns, "lo").find("syn_"), std::string::npos) << "also on tcx";
}

live::trace::TraceOptions trace_options(const std::string& ns, live::trace::TcHook hook = live::trace::TcHook::Auto,
                                        std::uint16_t port = 0) {
  live::trace::TraceOptions opt;
  opt.netns = ns;
  opt.tc_hook = hook;
  opt.port = port;
  return opt;
}

TEST(TraceNetns, AcceptQueueOverflowOnLoopbackIsTracedWithItsNumbersAndCleanedUp_S6_1_S17) {
  SKIP_UNLESS_TRACE();
  TestNetns ns("tr-aq");
  const std::string before = hook_state(ns.name(), "lo");
  ASSERT_EQ(before.find("clsact"), std::string::npos) << before;
  ASSERT_EQ(before.find("syn_"), std::string::npos) << before;
  live::trace::SynTracer tracer(trace_options(ns.name(), live::trace::TcHook::Auto, 8080));
  tracer.start();
  EXPECT_EQ(tracer.probe().path, "tc+raw_tracepoint");
  ASSERT_EQ(tracer.probe().interfaces, std::vector<std::string>{"lo"});
  EXPECT_EQ(tracer.probe().ingress_only, std::vector<std::string>{"lo"});
  // By default the programs go on tcx links where the kernel has them (6.6+; §17 measured 6.18),
  // and no qdisc is added.
  const std::string attached = hook_state(ns.name(), "lo");
  if (tracer.probe().tc_hook == "tcx") {
    expect_programs_on_tcx(attached);
  } else {
    EXPECT_EQ(tracer.probe().tc_hook, "clsact");
    EXPECT_EQ(tcx_state(ns.name(), "lo"), "") << "tcx exists, yet the tracer fell back to clsact";
    expect_programs_on_clsact(ns.name(), attached);
  }

  std::vector<live::trace::TraceEvent> events;
  {
    Fds fds;
    listen_in(ns.name(), fds, "127.0.0.1", 8080, 2);  // never accept()ed: holds B+1 = 3 (§6.1)
    connect_in(ns.name(), fds, "127.0.0.1", 8080, 5);
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(1600);  // one SYN retry (§9)
    while (std::chrono::steady_clock::now() < end)
      for (auto& e : tracer.poll(50)) events.push_back(std::move(e));
    for (auto& e : tracer.stop()) events.push_back(std::move(e));
  }
  int admitted = 0, dropped = 0;
  for (const auto& e : events) {
    EXPECT_NE(e.confirmation, Confirmation::Contradicted) << e.summary() << " " << e.note;
    if (e.kind != live::trace::SegmentKind::Syn) continue;
    ASSERT_TRUE(e.listener.has_value());
    EXPECT_EQ(e.listener->str(), "127.0.0.1:8080");
    EXPECT_TRUE(e.has_ts);  // Linux clients send timestamps (§8)
    if (e.dropped()) {
      ++dropped;
      EXPECT_EQ(e.cause(), "accept_queue_full");
      EXPECT_EQ(e.predicted.evidence.a, 3);
      EXPECT_EQ(e.predicted.evidence.b, 2);
      EXPECT_EQ(e.summary(), "dropped: accept queue full: A=3 > B=2");
      EXPECT_EQ(e.confirmation, Confirmation::Confirmed);
    } else {
      ++admitted;
      EXPECT_EQ(e.observed, live::trace::Observed::SynAck);
    }
    // The owner comes from sock_diag + /proc/*/fd: this test process holds the listener.
    EXPECT_NE(e.process.find("(pid " + std::to_string(getpid()) + ")"), std::string::npos) << e.process;
  }
  EXPECT_EQ(admitted, 3);
  EXPECT_EQ(dropped, 4);  // 2 connect()s × (first SYN + one retransmission at 1 s)
  auto drops = tracer.drops_by_cause();
  ASSERT_EQ(drops.size(), 1u);
  EXPECT_EQ(drops[0].cause, "accept_queue_full");
  EXPECT_EQ(drops[0].count, 4u);
  for (const auto& c : tracer.counter_checks()) EXPECT_TRUE(c.agrees()) << model::counter_info(c.counter).field;
  // stop() detached everything it attached.
  EXPECT_EQ(hook_state(ns.name(), "lo"), before);
}

TEST(TraceNetns, ClsactHookAddsItsQdiscAndRemovesItAgain) {
  SKIP_UNLESS_TRACE();
  TestNetns ns("tr-cl");
  const std::string before = hook_state(ns.name(), "lo");
  {
    live::trace::SynTracer tracer(trace_options(ns.name(), live::trace::TcHook::Clsact));
    tracer.start();
    EXPECT_EQ(tracer.probe().tc_hook, "clsact");
    expect_programs_on_clsact(ns.name(), hook_state(ns.name(), "lo"));
  }  // the destructor stops
  EXPECT_EQ(hook_state(ns.name(), "lo"), before);
}

TEST(TraceNetns, ExistingClsactQdiscIsKeptOnlyOurFiltersGo) {
  SKIP_UNLESS_TRACE();
  TestNetns ns("tr-qd");
  must_run("ip netns exec " + ns.name() + " tc qdisc add dev lo clsact");
  const std::string before = hook_state(ns.name(), "lo");
  {
    live::trace::SynTracer tracer(trace_options(ns.name(), live::trace::TcHook::Clsact));
    tracer.start();
    EXPECT_NE(tc_state(ns.name(), "lo").find("syn_ingress"), std::string::npos);
  }  // the destructor stops
  const std::string after = hook_state(ns.name(), "lo");
  EXPECT_NE(after.find("clsact"), std::string::npos) << after;
  EXPECT_EQ(after, before);
}

// tcx and clsact side by side: a tracer on tcx hands every packet on (TCX_NEXT, never a verdict),
// so a second tracer on a clsact filter behind it still sees every SYN. (This kernel has no u32,
// flower or matchall classifier to stand in for "someone else's filter"; cls_bpf is what it has.)
TEST(TraceNetns, TcxHandsEveryPacketOnToClsactFilters) {
  SKIP_UNLESS_TRACE();
  TestNetns ns("tr-co");
  const std::string before = hook_state(ns.name(), "lo");
  {
    live::trace::SynTracer on_tcx(trace_options(ns.name(), live::trace::TcHook::Auto, 8083));
    on_tcx.start();
    if (on_tcx.probe().tc_hook != "tcx") GTEST_SKIP() << "kernel without tcx";
    live::trace::SynTracer on_clsact(trace_options(ns.name(), live::trace::TcHook::Clsact, 8083));
    on_clsact.start();
    Fds fds;
    listen_in(ns.name(), fds, "127.0.0.1", 8083, 4);
    connect_in(ns.name(), fds, "127.0.0.1", 8083, 2);
    auto admitted = [](live::trace::SynTracer& t) {
      std::vector<live::trace::TraceEvent> events;
      const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(400);
      while (std::chrono::steady_clock::now() < end)
        for (auto& e : t.poll(50)) events.push_back(std::move(e));
      for (auto& e : t.stop()) events.push_back(std::move(e));
      return std::count_if(events.begin(), events.end(), [](const auto& e) {
        return e.kind == live::trace::SegmentKind::Syn && !e.dropped() && e.confirmation == Confirmation::Confirmed;
      });
    };
    EXPECT_EQ(admitted(on_tcx), 2);
    EXPECT_EQ(admitted(on_clsact), 2);
  }
  EXPECT_EQ(hook_state(ns.name(), "lo"), before);
}

// On lo only syn_ingress_lo is attached (docs/trace.md, "Hooks"): it sees the SYNs and ACKs on
// their way in and this host's answers as they come back in from lo's egress. Every kind of answer
// is still confirmed from the wire: a SYN-ACK (its request sock found by lookup: the device orphaned
// the skb, so skb->sk is not the request at ingress), a cookie SYN-ACK (only the listener behind it,
// §10), an RST for a port nobody listens on (§2 step 3), and a drop (nothing came back, §3.1 step 3,
// §6.1), and the cookie ACK and final ACKs still find their handshakes. The same run with both
// programs attached (TraceOptions::loopback_egress, the two-hook design other devices keep) and on
// clsact shows the same events.
struct LoopbackRun {
  live::trace::TcHook hook;
  bool loopback_egress;
  const char* tag;
};

void trace_every_answer_on_lo(const LoopbackRun& variant) {
  TestNetns ns(variant.tag);
  const std::string before = hook_state(ns.name(), "lo");
  auto opt = trace_options(ns.name(), variant.hook);
  opt.loopback_egress = variant.loopback_egress;
  live::trace::SynTracer tracer(opt);
  tracer.start();
  if (variant.hook == live::trace::TcHook::Auto && tracer.probe().tc_hook != "tcx") GTEST_SKIP() << "kernel without tcx";
  EXPECT_EQ(tracer.probe().ingress_only,
            variant.loopback_egress ? std::vector<std::string>{} : std::vector<std::string>{"lo"});
  if (variant.hook == live::trace::TcHook::Clsact)
    expect_programs_on_clsact(ns.name(), hook_state(ns.name(), "lo"), variant.loopback_egress);
  else
    expect_programs_on_tcx(hook_state(ns.name(), "lo"), variant.loopback_egress);

  std::vector<live::trace::TraceEvent> events;
  auto poll_for = [&](int ms) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (std::chrono::steady_clock::now() < end)
      for (auto& e : tracer.poll(50)) events.push_back(std::move(e));
  };
  {
    Fds fds;
    listen_in(ns.name(), fds, "127.0.0.1", 8090, 1);  // holds A = 2 > B = 1: the third SYN is dropped (§6.1)
    {
      Fds clients;
      connect_in(ns.name(), clients, "127.0.0.1", 8090, 3);
      connect_in(ns.name(), clients, "127.0.0.1", 8092, 1);  // nobody listens: RST (§2 step 3)
      poll_for(500);
    }  // closed before the sysctl changes: no SYN retransmission (§9) races the tracer's re-read
    // tcp_syncookies=2: every SYN is answered with a cookie, no request kept (§10). The tracer
    // re-reads the namespace's sysctls every 200 ms.
    ns.sysctl("net.ipv4.tcp_syncookies=2");
    poll_for(500);
    listen_in(ns.name(), fds, "127.0.0.1", 8091, 8);
    connect_in(ns.name(), fds, "127.0.0.1", 8091, 2);
    poll_for(600);
    for (auto& e : tracer.stop()) events.push_back(std::move(e));
  }
  std::map<std::string, int> seen;  // "port kind predicted observed confirmation"
  for (const auto& e : events) {
    EXPECT_NE(e.confirmation, Confirmation::Contradicted) << e.summary() << " " << e.note;
    seen[fmt::format("{} {} {} {} {}", e.local.port, live::trace::to_string(e.kind), model::to_string(e.predicted.action),
                     live::trace::to_string(e.observed), live::trace::to_string(e.confirmation))]++;
  }
  std::string all;
  for (const auto& [k, n] : seen) all += fmt::format("{} x{}\n", k, n);
  auto count = [&](const std::string& k) { return seen.count(k) ? seen.at(k) : 0; };
  const std::string synack(model::to_string(model::Action::SynAck)), cookie(model::to_string(model::Action::CookieSynAck));
  const std::string drop(model::to_string(model::Action::Drop)), rst(model::to_string(model::Action::Rst));
  const std::string child(model::to_string(model::Action::ChildCreated));
  EXPECT_EQ(count("8090 SYN " + synack + " SYN-ACK confirmed"), 2) << all;
  EXPECT_EQ(count("8090 final ACK " + child + " nothing confirmed"), 2) << all;
  // The third client's SYN (and its retransmission 1 s later, §9, if the machine is slow).
  EXPECT_GE(count("8090 SYN " + drop + " nothing confirmed"), 1) << all;
  EXPECT_EQ(count("8092 SYN " + rst + " RST confirmed"), 1) << all;
  EXPECT_EQ(count("8091 SYN " + cookie + " cookie SYN-ACK confirmed"), 2) << all;
  EXPECT_EQ(count("8091 cookie ACK " + child + " nothing confirmed"), 2) << all;
  for (const auto& e : events)
    if (e.dropped()) {
      EXPECT_EQ(e.cause(), "accept_queue_full") << e.summary();
    }
  for (const auto& c : tracer.counter_checks()) EXPECT_TRUE(c.agrees()) << model::counter_info(c.counter).field << "\n" << all;
  EXPECT_EQ(tracer.lost(), 0u);
  EXPECT_EQ(hook_state(ns.name(), "lo"), before);
}

TEST(TraceNetns, LoopbackIngressOnlyConfirmsSynAckCookieSynAckRstAndDrop_S10_S2) {
  SKIP_UNLESS_TRACE();
  trace_every_answer_on_lo({live::trace::TcHook::Auto, false, "tr-lo"});
}

TEST(TraceNetns, LoopbackIngressOnlyOnClsactConfirmsTheSame) {
  SKIP_UNLESS_TRACE();
  trace_every_answer_on_lo({live::trace::TcHook::Clsact, false, "tr-locl"});
}

TEST(TraceNetns, LoopbackWithBothHooksConfirmsTheSame) {
  SKIP_UNLESS_TRACE();
  trace_every_answer_on_lo({live::trace::TcHook::Auto, true, "tr-lo2"});
}

// `synscope trace --netns NS ARGS...` in a child process, its output discarded; the child's pid.
pid_t spawn_trace(const std::string& ns, std::vector<std::string> args) {
  args.insert(args.begin(), {SYNSCOPE_BINARY, "trace", "--netns", ns});
  pid_t pid = fork();
  if (pid == 0) {
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    dup2(devnull, 2);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(SYNSCOPE_BINARY, argv.data());
    _exit(127);
  }
  return pid;
}

// Waits up to 5 s until `state` shows our ingress program on lo. False when it never did, or when
// the child exited first (then `exited` is set).
bool wait_attached(const std::string& ns, pid_t pid, std::string (*state)(const std::string&, const std::string&),
                   bool* exited = nullptr) {
  for (int i = 0; i < 100; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (state(ns, "lo").find("syn_ingress") != std::string::npos) return true;
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      if (exited) *exited = true;
      return false;
    }
  }
  return false;
}

// The CLI under a signal: it prints its summary, exits 0, and leaves tc/tcx as it found them.
void signal_ends_cleanly(int sig, const char* tc_hook) {
  TestNetns ns(sig == SIGINT ? "tr-int" : "tr-term");
  const std::string before = hook_state(ns.name(), "lo");
  pid_t pid = spawn_trace(ns.name(), {"--port", "8080", "--tc-hook", tc_hook});
  ASSERT_GE(pid, 0);
  EXPECT_TRUE(wait_attached(ns.name(), pid, hook_state));
  kill(pid, sig);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(hook_state(ns.name(), "lo"), before);
}

TEST(TraceNetns, SigintLeavesNoTcState) {
  SKIP_UNLESS_TRACE();
  signal_ends_cleanly(SIGINT, "auto");
}

TEST(TraceNetns, SigtermLeavesNoTcState) {
  SKIP_UNLESS_TRACE();
  signal_ends_cleanly(SIGTERM, "clsact");
}

// tcx links live as long as their fds: even SIGKILL, which runs none of our clean-up, leaves no
// program attached (a clsact filter would stay; that is why tcx is preferred).
TEST(TraceNetns, SigkillLeavesNoTcxLinks) {
  SKIP_UNLESS_TRACE();
  TestNetns ns("tr-kill");
  const std::string before = hook_state(ns.name(), "lo");
  pid_t pid = spawn_trace(ns.name(), {"--tc-hook", "tcx"});
  ASSERT_GE(pid, 0);
  bool exited = false;
  const bool attached = wait_attached(ns.name(), pid, tcx_state, &exited);
  if (exited) GTEST_SKIP() << "kernel without tcx (trace exited)";
  ASSERT_TRUE(attached);
  kill(pid, SIGKILL);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status));
  // The kernel releases the links with the process's files; give it a moment.
  std::string after;
  for (int i = 0; i < 40; ++i) {
    after = hook_state(ns.name(), "lo");
    if (after == before) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(after, before);
}

// The records `synscope trace --json` printed: everything but its start-up line, which is text.
std::vector<nlohmann::json> json_records(const std::string& log) {
  std::vector<nlohmann::json> records;
  for (const auto& line : split_lines(log))
    if (!line.starts_with("synscope trace:")) records.push_back(nlohmann::json::parse(line));
  return records;
}

TEST(TraceNetns, JsonEventsAndSummary) {
  SKIP_UNLESS_TRACE();
  TestNetns ns("tr-js");
  TempDir dir;
  Fds fds;
  listen_in(ns.name(), fds, "127.0.0.1", 8081, 0);  // listen(fd, 0) admits one child (§6.1)
  // The clients start once the tracer says it is attached (loading the programs can take seconds
  // on a loaded machine); --duration counts from then.
  BackgroundCommand trace(synscope_binary() + " trace --json --duration 3s --netns " + ns.name(), dir.file("trace.out"));
  ASSERT_FALSE(trace.wait_for_line("synscope trace: TC ingress", 60).empty()) << trace.log();
  connect_in(ns.name(), fds, "127.0.0.1", 8081, 2);
  ASSERT_EQ(trace.wait_for_exit(30), 0) << trace.log();
  const std::vector<nlohmann::json> lines = json_records(trace.log());
  ASSERT_FALSE(lines.empty());
  const auto& summary = lines.back();
  EXPECT_EQ(summary["type"], "summary");
  EXPECT_EQ(summary["schema"], "synscope.trace/1");
  EXPECT_EQ(summary["contradicted"], 0);
  // The hook in use, the same in the start-up line and the summary.
  const std::string hook = summary["tc_hook"];
  EXPECT_TRUE(hook == "tcx" || hook == "clsact") << hook;
  EXPECT_NE(trace.log().find("synscope trace: TC ingress only (" + hook + "; loopback: egress seen at ingress) on lo +"),
            std::string::npos)
      << trace.log();
  EXPECT_EQ(summary["ingress_only"], nlohmann::json::array({"lo"})) << summary.dump();
  int dropped = 0;
  for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
    EXPECT_EQ(lines[i]["type"], "event");
    if (lines[i]["dropped"].get<bool>()) {
      ++dropped;
      EXPECT_EQ(lines[i]["cause"], "accept_queue_full");
      EXPECT_EQ(lines[i]["queues"]["accept_queue"], 1);
      EXPECT_EQ(lines[i]["queues"]["backlog"], 0);
      EXPECT_EQ(lines[i]["listener"], "127.0.0.1:8081");
    }
  }
  EXPECT_GE(dropped, 2);  // the second client: its SYN and the retransmission at 1 s (§9)
  ASSERT_FALSE(summary["drops_by_cause"].empty()) << summary.dump();
  EXPECT_EQ(summary["drops_by_cause"][0]["cause"], "accept_queue_full");
  EXPECT_EQ(summary["drops_by_cause"][0]["count"], dropped);
}

// A SYN's TSval (§8) is read straight from the packet where a Linux client puts it, and by walking
// the options otherwise: raw SYNs with a Linux layout, a macOS layout (timestamps after window scale,
// SACK-permitted last), a layout that hides the timestamp behind an unknown option, and none at all.
TEST(TraceNetns, SynTsvalIsReadFromEveryOptionLayout_S8) {
  SKIP_UNLESS_TRACE();
  TestNetns ns("tr-ts");
  TempDir dir;
  Fds fds;
  listen_in(ns.name(), fds, "127.0.0.1", 8083, 16);
  BackgroundCommand trace(synscope_binary() + " trace --json --duration 2s --port 8083 --netns " + ns.name(),
                          dir.file("trace.out"));
  ASSERT_FALSE(trace.wait_for_line("synscope trace: TC ingress", 60).empty()) << trace.log();
  auto ts = [](std::uint32_t v) {
    return std::vector<std::uint8_t>{8, 10, std::uint8_t(v >> 24), std::uint8_t(v >> 16), std::uint8_t(v >> 8),
                                     std::uint8_t(v), 0, 0, 0, 0};
  };
  auto cat = [](std::vector<std::vector<std::uint8_t>> parts) {
    std::vector<std::uint8_t> out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
  };
  const std::vector<std::uint8_t> mss{2, 4, 0x05, 0xb4}, sack{4, 2}, nop{1}, ws{3, 3, 7}, eol{0};
  const std::map<std::uint32_t, std::optional<std::uint32_t>> want{
      {1001, 0x11223344}, {1002, 0x55667788}, {1003, 0x0a0b0c0d}, {1004, std::nullopt}};
  SynSender syn(ns.name(), fds);
  syn.send("127.0.0.2", 40001, "127.0.0.1", 8083, 1001, cat({mss, sack, ts(0x11223344), nop, ws}));       // Linux
  syn.send("127.0.0.3", 40002, "127.0.0.1", 8083, 1002, cat({mss, nop, ws, nop, nop, ts(0x55667788), sack, eol, eol}));  // macOS
  syn.send("127.0.0.4", 40003, "127.0.0.1", 8083, 1003,
           cat({{30, 6, 1, 2, 3, 4}, nop, nop, ts(0x0a0b0c0d), mss, eol, eol}));  // an unknown option (30, MPTCP) first
  syn.send("127.0.0.5", 40004, "127.0.0.1", 8083, 1004, cat({mss, nop, ws, nop, nop, sack}));  // no timestamps
  ASSERT_EQ(trace.wait_for_exit(30), 0) << trace.log();
  std::map<std::uint32_t, std::optional<std::uint32_t>> got;
  for (const auto& j : json_records(trace.log())) {
    if (j["type"] != "event" || j["segment"] != "SYN") continue;
    const auto seq = j["seq"].get<std::uint32_t>();
    if (!want.count(seq) || got.count(seq)) continue;
    got[seq] = j.contains("tsval") ? std::optional<std::uint32_t>(j["tsval"].get<std::uint32_t>()) : std::nullopt;
  }
  EXPECT_EQ(got, want) << trace.log();
}

TEST(TraceNetns, FallbackCountsDropsFromCounters_S3_8) {
  if (!is_root()) GTEST_SKIP() << "needs root: creates network namespaces";
  TestNetns ns("tr-fb");
  TempDir dir;
  Fds fds;
  listen_in(ns.name(), fds, "127.0.0.1", 8082, 0);
  std::thread later([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    connect_in(ns.name(), fds, "127.0.0.1", 8082, 2);
  });
  auto r = run_command(synscope_binary() + " trace --fallback --duration 2500ms --netns " + ns.name(), dir);
  later.join();
  ASSERT_EQ(r.exit_status, 0) << r.err;
  EXPECT_NE(r.err.find("fallback mode"), std::string::npos) << r.err;
  // One refused connect(): its SYN and its retransmissions 1 s apart (§9), each ListenOverflows +1
  // (§3.8, §17): 2 or 3 of them inside the 2.5 s, depending on when the client started.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex("accept_queue_full +([0-9]+) "))) << r.out;
  EXPECT_GE(std::stoi(m[1]), 2) << r.out;
  EXPECT_LE(std::stoi(m[1]), 3) << r.out;
}

void expect_refusal(const std::string& args, const std::string& needle) {
  TempDir dir;
  auto r = run_command(synscope_binary() + " trace " + args, dir);
  EXPECT_EQ(r.exit_status, 2) << r.out << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST(TraceNetns, RefusesWhatCannotBeTraced) {
  SKIP_UNLESS_TRACE();
  expect_refusal("--netns synscope-no-such-ns --duration 1s", "synscope-no-such-ns");
  TestNetns ns("tr-if");
  expect_refusal("--netns " + ns.name() + " --iface nope0 --duration 1s", "--iface nope0: no such interface");
  expect_refusal("--duration soon", "duration 'soon'");
  expect_refusal("--port 70000 --duration 1s", "--port 70000");
  expect_refusal("--tc-hook tc --duration 1s", "--tc-hook: tc not in {auto,tcx,clsact}");
  EXPECT_EQ(hook_state(ns.name(), "lo").find("clsact"), std::string::npos);
  EXPECT_EQ(hook_state(ns.name(), "lo").find("syn_"), std::string::npos);
}

TEST(TraceNetns, RefusesWithoutRootAndSaysWhatToDo) {
  if (!is_root()) GTEST_SKIP() << "needs root to drop to another user";
  TempDir dir;
  auto r = run_command("setpriv --reuid=65534 --regid=65534 --clear-groups " + synscope_binary() + " trace --duration 1s", dir);
  EXPECT_EQ(r.exit_status, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("needs root"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--fallback"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

}  // namespace
}  // namespace synscope::testing

namespace synscope::testing {
namespace {

TEST(TraceNetns, DoctorTraceAddsDropsByCauseAsEvidence) {
  SKIP_UNLESS_TRACE();
  TestNetns ns("tr-doc");
  TempDir dir;
  Fds fds;
  listen_in(ns.name(), fds, "127.0.0.1", 8083, 0);  // admits one child (§6.1)
  // A new client every 200 ms for as long as the doctor runs: whenever its tracer is attached
  // (loading the programs can take seconds on a loaded machine), SYNs are being dropped.
  std::atomic<bool> done{false};
  std::thread clients([&] {
    while (!done) {
      connect_in(ns.name(), fds, "127.0.0.1", 8083, 1);
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  });
  auto r = run_command(synscope_binary() + " doctor --json --interval 2 --trace 2500ms --netns " + ns.name(), dir);
  done = true;
  clients.join();
  ASSERT_EQ(r.exit_status, 0) << r.err;
  auto doc = nlohmann::json::parse(r.out);
  const nlohmann::json* traced = nullptr;
  for (const auto& f : doc["findings"])
    if (f["id"] == "traced-drops") traced = &f;
  ASSERT_NE(traced, nullptr) << doc["findings"].dump();
  EXPECT_EQ((*traced)["severity"], "critical");
  const std::string evidence = (*traced)["evidence"].dump();
  EXPECT_TRUE(std::regex_search(evidence, std::regex("accept_queue_full: [0-9]+ \\(§3.1 step 3, §6.1\\)"))) << evidence;
  EXPECT_NE(evidence.find("127.0.0.1:8083"), std::string::npos) << evidence;
  EXPECT_NE(evidence.find("0 contradicted"), std::string::npos) << evidence;
  // With --from there is no live host to trace.
  auto bad = run_command(synscope_binary() + " doctor --from nothing.tar.gz --trace 1s", dir);
  EXPECT_EQ(bad.exit_status, 2);
  EXPECT_NE(bad.err.find("--trace"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace synscope::testing

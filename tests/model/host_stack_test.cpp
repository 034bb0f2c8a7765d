// HostStack driven through a recording StackEnv (tests/model/model_test_support.h): handshakes,
// RSTs, accept/SYN queue overflows, SYN cookies and per-host PAWS against fact sheet §2, §3, §5,
// §6, §7, §10 and the 6.18 measurements of §17.
#include <cmath>
#include <stdexcept>

#include "model_test_support.h"

namespace synscope::model::testing {
namespace {

using namespace tcp_flag;

constexpr const char* kSrv = "10.0.0.2";
constexpr const char* kCli = "10.0.0.1";

bool cookie_counts_listen_drops(const std::string& name) {
  return name == "3.10" || name == "el7" || name == "4.4.0" || name == "4.4";  // §3.8
}

std::uint16_t local_port(HostStack& h, ConnId c) { return h.tuple_of(c)->local.port; }

auto to_port(std::uint16_t port, std::uint8_t flags_exact) {
  return [port, flags_exact](const Segment& s) { return s.dst.port == port && s.flags == flags_exact; };
}

Endpoint spoofed(std::uint32_t k, std::uint16_t port = 40000) {
  return Endpoint{Ipv4Addr{0x0a090000u + k}, port};
}

// ---------------------------------------------------------------------------------------------

TEST(HostStackHandshake, FullHandshakeAndTeardown_PerProfile_S2_S5_1_S7_4) {
  for (const auto& name : all_profile_names()) {
    SCOPED_TRACE(name + " §2/§5.1 handshake, §7.1/§7.4 TIME_WAIT on the active closer");
    const auto& p = find_profile(name);
    auto s = Sysctls::defaults_for(p);
    Net net;
    int srv = net.add_host(p, s, kSrv);
    int cli = net.add_host(p, s, kCli);
    auto lid = net.host(srv).listen(80, 128, 7, SimTime{});
    ConnId c = net.host(cli).connect(ep("10.0.0.2:80"), net.go(0.1), 1);
    net.run_until(at_s(0.5));

    const auto& w = net.wire;
    ASSERT_GE(w.size(), 3u);
    EXPECT_EQ(w[0].from, cli);
    EXPECT_EQ(w[0].seg.flags, SYN);
    EXPECT_TRUE(w[0].seg.options.ts().has_value()) << "tcp_timestamps=1: SYN carries TS";
    EXPECT_EQ(w[0].seg.dst, ep("10.0.0.2:80"));
    EXPECT_EQ(w[1].from, srv);
    EXPECT_EQ(w[1].seg.flags, SYN | ACK);
    EXPECT_EQ(w[1].seg.ack, w[0].seg.seq + 1);
    ASSERT_TRUE(w[1].seg.options.ts().has_value());
    EXPECT_EQ(w[1].seg.options.ts()->ecr, w[0].seg.options.ts()->val) << "§8 TSecr echoes ts_recent";
    EXPECT_EQ(w[2].from, cli);
    EXPECT_EQ(w[2].seg.flags, ACK);
    EXPECT_EQ(w[2].seg.seq, w[0].seg.seq + 1);
    EXPECT_EQ(w[2].seg.ack, w[1].seg.seq + 1);

    EXPECT_EQ(net.node(cli).connected.size(), 1u);
    EXPECT_EQ(net.node(srv).acceptable, 1);
    EXPECT_EQ(net.host(srv).listener_snapshot(lid).a, 1);
    EXPECT_EQ(net.host(srv).listener_snapshot(lid).q, 0);
    auto child = net.host(srv).accept(lid);
    ASSERT_TRUE(child.has_value());
    EXPECT_EQ(net.host(srv).state_of(*child), TcpState::Established);
    EXPECT_EQ(net.host(cli).state_of(c), TcpState::Established);
    EXPECT_EQ(net.host(cli).counters()[Counter::ActiveOpens], 1u);
    EXPECT_EQ(net.host(srv).counters()[Counter::PassiveOpens], 1u);
    EXPECT_EQ(net.host(srv).counters()[Counter::ListenDrops], 0u);

    // Client closes first (active closer), server second.
    net.host(cli).close(c, net.go(1.0));
    net.run_until(at_s(1.5));
    EXPECT_EQ(net.host(cli).state_of(c), TcpState::FinWait2);
    EXPECT_EQ(net.host(srv).state_of(*child), TcpState::CloseWait);
    EXPECT_EQ(net.node(srv).peer_closed.size(), 1u);
    net.host(srv).close(*child, net.go(2.0));
    net.run_until(at_s(2.5));
    EXPECT_FALSE(net.host(srv).state_of(*child).has_value()) << "passive closer fully closed";
    EXPECT_EQ(net.host(srv).timewait_count(), 0u) << "§7.1 only the active closer enters TIME_WAIT";
    EXPECT_EQ(net.host(cli).timewait_count(), 1u);
    EXPECT_EQ(net.host(cli).live_sockets(), 1u) << "the TIME_WAIT bucket";
    EXPECT_EQ(net.host(srv).live_sockets(), 0u);
    // TIME_WAIT lasts TCP_TIMEWAIT_LEN = 60 s (§7.4; 3.10/EL7 wheel adds ≤ 7.5 s).
    net.run_until(at_s(61.9));
    EXPECT_EQ(net.host(cli).timewait_count(), 1u) << "still in TIME_WAIT before 60 s";
    net.run_until(at_s(80));
    EXPECT_EQ(net.host(cli).timewait_count(), 0u);
    EXPECT_EQ(net.host(cli).counters()[Counter::TW], 1u) << "§4 notes: 60 s TIME_WAIT expiry counts TW";
    EXPECT_EQ(net.host(cli).live_sockets(), 0u);
  }
}

TEST(HostStackRst, SynToClosedPortGetsRst_PerProfile_S2_step3) {
  for (const auto& name : all_profile_names()) {
    SCOPED_TRACE(name + " §2 step 3: no socket → RST; §9 RST in SYN_SENT → ECONNREFUSED");
    const auto& p = find_profile(name);
    auto s = Sysctls::defaults_for(p);
    Net net;
    int srv = net.add_host(p, s, kSrv);
    int cli = net.add_host(p, s, kCli);
    net.host(srv).listen(80, 128, 0, SimTime{});
    ConnId c = net.host(cli).connect(ep("10.0.0.2:81"), net.go(0.1), 1);
    net.run_until(at_s(0.5));
    auto rsts = net.sent(srv, is_rst);
    ASSERT_EQ(rsts.size(), 1u);
    const auto& syn = net.wire.front().seg;
    EXPECT_EQ(rsts[0].seg.flags, RST | ACK);
    EXPECT_EQ(rsts[0].seg.ack, syn.seq + 1);
    EXPECT_EQ(rsts[0].seg.src, ep("10.0.0.2:81"));
    EXPECT_EQ(net.host(srv).counters()[Counter::OutRsts], 1u);
    ASSERT_EQ(net.node(cli).failed.size(), 1u);
    EXPECT_EQ(net.node(cli).failed[0].second, ConnectError::Refused);
    EXPECT_FALSE(net.host(cli).state_of(c).has_value());
    EXPECT_EQ(net.host(srv).counters()[Counter::ListenDrops], 0u);
  }
}

TEST(HostStackRst, StrayAckToListener_PerProfile_S2_step8_S10) {
  // §2 step 8: ACK to LISTEN → RST (seq = ack). §10: 3.10/EL7 count SyncookiesFailed for stray ACKs
  // even without a recent overflow; 4.4+ do not.
  for (const auto& name : all_profile_names()) {
    SCOPED_TRACE(name + " §2 step 8, §10");
    const auto& p = find_profile(name);
    auto s = Sysctls::defaults_for(p);
    Net net;
    int srv = net.add_host(p, s, kSrv);
    net.host(srv).listen(80, 128, 0, SimTime{});
    Segment ack;
    ack.src = ep("10.9.9.9:5555");
    ack.dst = ep("10.0.0.2:80");
    ack.seq = 1000;
    ack.ack = 0x55667788;
    ack.flags = ACK;
    net.inject(at_s(0.1), ack);
    net.run_until(at_s(0.5));
    auto rsts = net.sent(srv, is_rst);
    ASSERT_EQ(rsts.size(), 1u);
    EXPECT_EQ(rsts[0].seg.flags & (RST | ACK), RST);
    EXPECT_EQ(rsts[0].seg.seq, 0x55667788u);
    bool old = name == "3.10" || name == "el7";
    EXPECT_EQ(net.host(srv).counters()[Counter::SyncookiesFailed], old ? 1u : 0u);
  }
}

// ---------------------------------------------------------------------------------------------
// §3.5/§3.7 step 3, §6.1, §17: A > B drops the SYN itself (6.13+).

TEST(HostStackAcceptQueue, OverflowAtSyn_6_13_6_18_S3_7_S6_1_S17) {
  for (const char* name : {"6.13", "6.18"}) {
    SCOPED_TRACE(std::string(name) + " §3.7 step 3 / §17 accept queue full drops the SYN");
    const auto& p = P(name);
    auto s = Sysctls::defaults_for(p);
    Net net;
    int srv = net.add_host(p, s, kSrv);
    int cli = net.add_host(p, s, kCli);
    auto lid = net.host(srv).listen(80, 2, 0, SimTime{});
    for (int i = 0; i < 3; ++i) {
      net.host(cli).connect(ep("10.0.0.2:80"), net.go(0.1 * i), i);
      net.run_until(at_s(0.1 * i + 0.05));
    }
    net.run_until(at_s(0.5));
    EXPECT_EQ(net.node(cli).connected.size(), 3u);
    EXPECT_EQ(net.host(srv).listener_snapshot(lid).a, 3) << "§17 Recv-Q reaches backlog+1";

    ConnId c4 = net.host(cli).connect(ep("10.0.0.2:80"), net.go(1.0), 4);
    auto port4 = local_port(net.host(cli), c4);
    net.run_until(at_s(1.5));
    const auto& cs = net.host(srv).counters();
    EXPECT_EQ(cs[Counter::ListenOverflows], 1u);
    EXPECT_EQ(cs[Counter::ListenDrops], 1u);
    EXPECT_EQ(net.host(srv).listener_snapshot(lid).drops, 1u) << "§17 skmem d +1 per SYN";
    EXPECT_TRUE(net.sent(srv, to_port(port4, SYN | ACK)).empty()) << "no SYN-ACK";
    EXPECT_TRUE(net.sent(srv, [&](const Segment& x) { return x.dst.port == port4; }).empty()) << "silent drop";

    net.run_until(at_s(2.5));  // retransmitted SYN at +1 s (6.5+ linear) dropped too
    EXPECT_EQ(net.sent(cli, [&](const Segment& x) { return x.src.port == port4 && x.is_syn(); }).size(), 2u);
    EXPECT_EQ(cs[Counter::ListenOverflows], 2u);
    EXPECT_EQ(cs[Counter::ListenDrops], 2u);
    EXPECT_EQ(net.host(srv).listener_snapshot(lid).drops, 2u);
    EXPECT_TRUE(net.sent(srv, to_port(port4, SYN | ACK)).empty());

    // accept() one: the next retransmission (at +2 s) gets through.
    ASSERT_TRUE(net.host(srv).accept(lid).has_value());
    net.run_until(at_s(3.5));
    EXPECT_EQ(net.sent(srv, to_port(port4, SYN | ACK)).size(), 1u);
    EXPECT_EQ(net.node(cli).connected.size(), 4u);
    EXPECT_EQ(net.host(srv).listener_snapshot(lid).a, 3);
    EXPECT_EQ(cs[Counter::ListenOverflows], 2u);
  }
}

// §3.3 step 3, §15.4: EL7 keeps `A > B && Y > 1`: with no young request the SYN gets a SYN-ACK,
// the final ACK is dropped at syn_recv_sock (§5.1 step 7, §5.2) and the SYN-ACK retransmitted.
TEST(HostStackAcceptQueue, El7YoungRule_S3_3_step3_S5_2) {
  const auto& p = P("el7");
  auto s = Sysctls::defaults_for(p);
  Net net;
  int srv = net.add_host(p, s, kSrv);
  int cli = net.add_host(p, s, kCli);
  auto lid = net.host(srv).listen(80, 2, 0, SimTime{});
  for (int i = 0; i < 3; ++i) {
    net.host(cli).connect(ep("10.0.0.2:80"), net.go(0.1 * i), i);
    net.run_until(at_s(0.1 * i + 0.05));
  }
  net.run_until(at_s(0.5));
  ASSERT_EQ(net.host(srv).listener_snapshot(lid).a, 3);

  ConnId c4 = net.host(cli).connect(ep("10.0.0.2:80"), net.go(1.0), 4);
  auto port4 = local_port(net.host(cli), c4);
  net.run_until(at_s(1.5));
  const auto& cs = net.host(srv).counters();
  auto synacks = net.sent(srv, to_port(port4, SYN | ACK));
  ASSERT_EQ(synacks.size(), 1u) << "Y=0 ⇒ SYN-ACK still sent";
  EXPECT_EQ(net.node(cli).connected.size(), 4u) << "client believes it is ESTABLISHED";
  EXPECT_EQ(cs[Counter::ListenOverflows], 1u) << "final ACK dropped at syn_recv_sock";
  EXPECT_EQ(cs[Counter::ListenDrops], 1u);
  EXPECT_EQ(net.host(srv).listener_snapshot(lid).q, 1) << "§5.2 request stays in the SYN queue";
  EXPECT_EQ(net.host(srv).listener_snapshot(lid).a, 3);
  EXPECT_TRUE(net.sent(srv, [&](const Segment& x) { return x.dst.port == port4 && (x.flags & RST); }).empty());

  net.run_until(at_s(3.0));
  synacks = net.sent(srv, to_port(port4, SYN | ACK));
  ASSERT_GE(synacks.size(), 2u) << "§5.3 SYN-ACK retransmitted after ≈1 s";
  auto gap = synacks[1].at - synacks[0].at;
  EXPECT_GE(gap, seconds(1));
  EXPECT_LE(gap, seconds(1) + millis(400)) << "§5.3 200 ms scan quantisation";
  EXPECT_EQ(cs[Counter::ListenOverflows], 2u) << "the re-ACK is dropped again";
  EXPECT_EQ(cs[Counter::ListenDrops], 2u);

  // The young half of the rule: two spoofed SYNs become young requests (Y = 1, then 2); a third
  // SYN sees A=3 > B=2 and Y=2 > 1 and is dropped.
  auto overflows_before = cs[Counter::ListenOverflows];
  net.inject(at_s(3.0), make_syn(spoofed(1), ep("10.0.0.2:80"), 111));
  net.inject(at_s(3.01), make_syn(spoofed(2), ep("10.0.0.2:80"), 222));
  net.run_until(at_s(3.015));
  EXPECT_EQ(net.sent(srv, [](const Segment& x) { return x.dst.addr.value >= 0x0a090000u && x.is_synack(); }).size(), 2u);
  EXPECT_EQ(cs[Counter::ListenOverflows], overflows_before);
  net.inject(at_s(3.02), make_syn(spoofed(3), ep("10.0.0.2:80"), 333));
  net.run_until(at_s(3.03));
  EXPECT_EQ(cs[Counter::ListenOverflows], overflows_before + 1) << "A > B && Y > 1";
  EXPECT_TRUE(net.sent(srv, [](const Segment& x) { return x.dst == spoofed(3); }).empty());
}

// Fills the accept queue of a listen(fd, 2) socket while client X's final ACK is lost, so that X's
// re-ACK (drawn by the SYN-ACK retransmission) meets A = 3 > B = 2 at syn_recv_sock.
struct HeldAckSetup {
  Net net;
  int srv = 0, cli = 0;
  ListenerId lid = 0;
  ConnId x;
  std::uint16_t xport = 0;
  SimTime first_synack{};

  HeldAckSetup(const KernelProfile& p, const Sysctls& s) {
    srv = net.add_host(p, s, kSrv);
    cli = net.add_host(p, s, kCli);
    lid = net.host(srv).listen(80, 2, 0, SimTime{});
    auto dropped = std::make_shared<int>(0);
    net.drop_filter = [this, dropped](const Sent& w) {
      if (w.from == cli && w.seg.src.port == xport && w.seg.flags == ACK && *dropped == 0) {
        ++*dropped;
        return true;
      }
      return false;
    };
    x = net.host(cli).connect(ep("10.0.0.2:80"), SimTime{}, 99);
    xport = local_port(net.host(cli), x);
    net.run_until(at_s(0.05));
    for (int i = 1; i <= 3; ++i) {
      net.host(cli).connect(ep("10.0.0.2:80"), net.go(0.1 * i), i);
      net.run_until(at_s(0.1 * i + 0.05));
    }
    net.run_until(at_s(0.5));
    first_synack = net.sent(srv, to_port(xport, SYN | ACK)).at(0).at;
  }
};

TEST(HostStackAcceptQueue, AbortOnOverflowRstsFinalAck_6_18_S5_2_S17) {
  const auto& p = P("6.18");
  auto s = Sysctls::defaults_for(p);
  s.set(p, "net.ipv4.tcp_abort_on_overflow", 1);
  HeldAckSetup h(p, s);
  auto& net = h.net;
  ASSERT_EQ(net.host(h.srv).listener_snapshot(h.lid).a, 3);
  ASSERT_EQ(net.host(h.srv).listener_snapshot(h.lid).q, 1);
  const auto before = net.host(h.srv).counters();
  net.run_until(at_s(1.5));
  auto rst = net.sent(h.srv, [&](const Segment& x) { return x.dst.port == h.xport && (x.flags & RST); });
  ASSERT_EQ(rst.size(), 1u) << "§5.2 tcp_abort_on_overflow=1 ⇒ RST to the client";
  auto d = net.host(h.srv).counters() - before;
  EXPECT_EQ(d[Counter::EmbryonicRsts], 1u) << "§5.2/§17";
  EXPECT_EQ(d[Counter::OutRsts], 1u) << "§17";
  EXPECT_EQ(d[Counter::ListenOverflows], 1u) << "§5.1 step 7";
  EXPECT_EQ(d[Counter::ListenDrops], 1u);
  EXPECT_EQ(net.host(h.srv).listener_snapshot(h.lid).q, 0) << "request removed";
  EXPECT_EQ(net.node(h.cli).resets.size(), 1u) << "client connection reset";
}

// §17: "When the queue fills between SYN and final ACK, the ACK is dropped (ListenOverflows/ListenDrops
// +1 each, skmem d +2) and the server retransmits the SYN-ACK at ≈+1, +3, +7, +15 s (exponential),
// each drawing a fresh ACK from the client that is dropped again."
TEST(HostStackAcceptQueue, FinalAckOverflowSynAckRetransmits_6_18_S5_2_S17) {
  const auto& p = P("6.18");
  auto s = Sysctls::defaults_for(p);
  HeldAckSetup h(p, s);
  auto& net = h.net;
  const auto before = net.host(h.srv).counters();
  const auto drops_before = net.host(h.srv).listener_snapshot(h.lid).drops;
  net.run_until(at_s(16.0));
  auto synacks = net.sent(h.srv, to_port(h.xport, SYN | ACK));
  ASSERT_EQ(synacks.size(), 5u) << "original + retransmissions at +1, +3, +7, +15 s";
  const double want[] = {1, 3, 7, 15};
  for (int i = 0; i < 4; ++i) {
    double rel = to_seconds(synacks[i + 1].at - h.first_synack);
    EXPECT_NEAR(rel, want[i], 0.01) << "retransmission " << i + 1;
  }
  auto d = net.host(h.srv).counters() - before;
  EXPECT_EQ(d[Counter::ListenOverflows], 4u);
  EXPECT_EQ(d[Counter::ListenDrops], 4u);
  EXPECT_EQ(net.host(h.srv).listener_snapshot(h.lid).drops - drops_before, 8u) << "§17 skmem d +2 per dropped ACK";
  EXPECT_EQ(net.host(h.srv).listener_snapshot(h.lid).q, 1) << "§5.2 request stays (acked)";
  EXPECT_TRUE(net.sent(h.srv, [&](const Segment& x) { return x.dst.port == h.xport && (x.flags & RST); }).empty());
}

// ---------------------------------------------------------------------------------------------
// SYN floods: §3.1 step 2, §6.2, §6.3, §10, §17.

struct FloodRow {
  const char* profile;
  int held;  // requests a listen(fd, 8) socket holds: 3.10/EL7 N = 16, 4.4…6.12 B = 8, 6.13+ B+1 = 9
  const char* log_drop;  // expected flood log line with syncookies off ("" = only check the core text)
};
const FloodRow kFloodRows[] = {
    {"3.10", 16, "TCP: TCP: Possible SYN flooding on port 80. Dropping request.  Check SNMP counters."},
    {"el7", 16, "TCP: request_sock_TCP: Possible SYN flooding on port 80. Dropping request.  Check SNMP counters."},
    {"4.4.0", 8, "TCP: request_sock_TCP: Possible SYN flooding on port 80. Dropping request.  Check SNMP counters."},
    {"4.4", 8, "TCP: request_sock_TCP: Possible SYN flooding on port 80. Dropping request.  Check SNMP counters."},
    {"4.10.0", 8, ""},
    {"4.10", 8, ""},
    {"4.12", 8, ""},
    {"5.4", 8, ""},
    {"6.5", 8, ""},
    {"6.13", 9, "TCP: request_sock_TCP: Possible SYN flooding on port 10.0.0.2:80. Dropping request."},
    {"6.18", 9, "TCP: request_sock_TCP: Possible SYN flooding on port 10.0.0.2:80. Dropping request."},
    {"7.0", 9, "TCP: request_sock_TCP: Possible SYN flooding on port 10.0.0.2:80. Dropping request."},
};

TEST(HostStackSynFlood, NoCookies_PerProfile_S3_1_step2_S6_2_S6_3_S17) {
  for (const auto& r : kFloodRows) {
    SCOPED_TRACE(std::string(r.profile) + " §3.1 step 2 / §6.2 / §6.3 / §17 flood, syncookies=0");
    const auto& p = P(r.profile);
    auto s = Sysctls::defaults_for(p);
    s.set(p, "tcp_syncookies", 0);
    s.set(p, "tcp_max_syn_backlog", 1024);
    Net net;
    int srv = net.add_host(p, s, kSrv);
    auto lid = net.host(srv).listen(80, 8, 0, SimTime{});
    const int n = 20;
    for (int k = 0; k < n; ++k) net.inject(at_s(0.01 * k), make_syn(spoofed(k + 1), ep("10.0.0.2:80"), 1000 + k));
    net.run_until(at_s(0.5));
    const auto& cs = net.host(srv).counters();
    EXPECT_EQ(net.host(srv).listener_snapshot(lid).q, r.held);
    EXPECT_EQ(net.sent(srv, is_synack).size(), static_cast<std::size_t>(r.held));
    EXPECT_EQ(cs[Counter::TCPReqQFullDrop], static_cast<std::uint64_t>(n - r.held));
    EXPECT_EQ(cs[Counter::ListenDrops], static_cast<std::uint64_t>(n - r.held)) << "§17 TCPReqQFullDrop = ListenDrops";
    EXPECT_EQ(cs[Counter::TCPReqQFullDoCookies], 0u);
    EXPECT_EQ(cs[Counter::SyncookiesSent], 0u);
    if (!cookie_counts_listen_drops(r.profile) && std::string(r.profile) != "4.10.0" &&
        std::string(r.profile) != "4.10") {
      // §3 / §13: tcp_listendrop() (≈4.7+) also counts the listener's sk_drops (skmem d); checked
      // from 4.12 on (trees read with it: 4.12, 6.19).
      EXPECT_EQ(net.host(srv).listener_snapshot(lid).drops, static_cast<std::uint64_t>(n - r.held));
    }
    const auto& logs = net.node(srv).logs;
    ASSERT_EQ(logs.size(), 1u) << "§3.1 step 2: logged once per listener";
    EXPECT_NE(logs[0].find("Possible SYN flooding on port"), std::string::npos) << logs[0];
    EXPECT_NE(logs[0].find("Dropping request."), std::string::npos) << logs[0];
    if (*r.log_drop) {
      EXPECT_EQ(logs[0], r.log_drop);
    }
  }
}

TEST(HostStackSynFlood, CookiesLetLegitimateClientIn_PerProfile_S10_S3_8_S17) {
  for (const auto& r : kFloodRows) {
    const std::string name = r.profile;
    SCOPED_TRACE(name + " §10 / §3.8 / §17 flood, syncookies=1, legitimate client");
    const auto& p = P(r.profile);
    auto s = Sysctls::defaults_for(p);
    s.set(p, "tcp_max_syn_backlog", 1024);
    ASSERT_EQ(s.tcp_syncookies, 1);
    Net net;
    int srv = net.add_host(p, s, kSrv);
    int cli = net.add_host(p, s, kCli);
    auto lid = net.host(srv).listen(80, 8, 0, SimTime{});
    const int n = 20;
    for (int k = 0; k < n; ++k) net.inject(at_s(0.01 * k), make_syn(spoofed(k + 1), ep("10.0.0.2:80"), 1000 + k));
    net.run_until(at_s(0.4));
    ConnId c = net.host(cli).connect(ep("10.0.0.2:80"), net.go(0.5), 1);
    net.run_until(at_s(0.8));

    const auto& cs = net.host(srv).counters();
    const std::uint64_t cookies = static_cast<std::uint64_t>(n - r.held + 1);
    EXPECT_EQ(cs[Counter::TCPReqQFullDoCookies], cookies);
    EXPECT_EQ(cs[Counter::SyncookiesSent], cookies) << "§17 TCPReqQFullDoCookies = SyncookiesSent";
    EXPECT_EQ(cs[Counter::SyncookiesRecv], 1u);
    EXPECT_EQ(cs[Counter::SyncookiesFailed], 0u);
    EXPECT_EQ(cs[Counter::PassiveOpens], 1u);
    EXPECT_EQ(cs[Counter::TCPReqQFullDrop], 0u);
    EXPECT_EQ(cs[Counter::ListenDrops], cookie_counts_listen_drops(name) ? cookies : 0u)
        << "§3.8 ListenDrops per cookie only in 3.10/EL7/4.4";
    EXPECT_EQ(net.node(cli).connected.size(), 1u);
    EXPECT_EQ(net.host(cli).state_of(c), TcpState::Established);
    EXPECT_EQ(net.host(srv).listener_snapshot(lid).q, r.held) << "§6.3 cookie SYNs never enter Q";
    if (!cookie_counts_listen_drops(name)) {
      // §3.5 / §3.7 step 6: 4.10+ free the cookie request and return without ListenDrops, i.e. without
      // tcp_listendrop(), so the listener's sk_drops (skmem d, §13) does not move either.
      EXPECT_EQ(net.host(srv).listener_snapshot(lid).drops, 0u) << "no listener drops for cookie SYN-ACKs";
    }
    auto child = net.host(srv).accept(lid);
    ASSERT_TRUE(child.has_value());
    EXPECT_EQ(net.host(srv).state_of(*child), TcpState::Established);
    const auto& logs = net.node(srv).logs;
    ASSERT_EQ(logs.size(), 1u);
    EXPECT_NE(logs[0].find("Sending cookies."), std::string::npos) << logs[0];
  }
}

// §17 + §5.3: "Queued requests of a spoofed flood expire after ≈7 s (2–3 SYN-ACK retransmissions
// under queue pressure)", listen(fd, 8) on 6.18; a continuing flood (one spoofed SYN every 10 ms).
TEST(HostStackSynFlood, SpoofedFloodRequestsExpireAfter7s_6_18_S17_S5_3) {
  for (int sc : {0, 1}) {
    SCOPED_TRACE("6.18 §17 flood expiry, syncookies=" + std::to_string(sc));
    const auto& p = P("6.18");
    auto s = Sysctls::defaults_for(p);
    s.set(p, "tcp_syncookies", sc);
    Net net;
    int srv = net.add_host(p, s, kSrv);
    auto lid = net.host(srv).listen(80, 8, 0, SimTime{});
    const int n = 3000;  // 30 s of flood
    for (int k = 0; k < n; ++k) net.inject(at_s(0.01 * k), make_syn(spoofed(k + 1), ep("10.0.0.2:80"), 7 * k + 1));
    int max_q = 0;
    for (int step = 1; step <= 400; ++step) {
      net.run_until(at_s(0.1 * step));
      max_q = std::max(max_q, net.host(srv).listener_snapshot(lid).q);
    }
    EXPECT_EQ(max_q, 9) << "§17 listen(fd, 8) holds 9 half-open requests";

    // Lifetime of each queued request: first SYN-ACK to that source → expiry decision.
    std::map<std::uint32_t, SimTime> first_synack;
    std::map<std::uint32_t, int> synack_count;
    for (const auto& w : net.wire) {
      if (w.from != srv || !w.seg.is_synack() || w.seg.dst.addr.value < 0x0a090000u) continue;
      first_synack.emplace(w.seg.dst.addr.value, w.at);
      ++synack_count[w.seg.dst.addr.value];
    }
    std::vector<double> lives;
    bool first = true;
    for (const auto& d : net.node(srv).decisions) {
      if (d.verdict.rule != Rule::SynAckTimeoutExpired) continue;
      auto src = d.tuple.remote.addr.value;
      ASSERT_TRUE(first_synack.count(src));
      double life = to_seconds(d.at - first_synack[src]);
      int rtx = synack_count[src] - 1;
      if (first) {
        EXPECT_NEAR(life, 7.0, 0.01) << "§17 first queued request expires after ≈7 s";
        EXPECT_EQ(rtx, 2) << "§17 after 2 SYN-ACK retransmissions";
        first = false;
      }
      // §5.3: pruned after 2, 3 or 4 retransmissions (1, 2 or 3 young requests), never the full 5.
      EXPECT_GE(rtx, 2);
      EXPECT_LE(rtx, 4);
      EXPECT_TRUE(std::abs(life - 7.0) < 0.01 || std::abs(life - 15.0) < 0.01 || std::abs(life - 31.0) < 0.01)
          << "lifetime " << life << " s";
      lives.push_back(life);
    }
    ASSERT_GE(lives.size(), 10u);
    std::sort(lives.begin(), lives.end());
    EXPECT_NEAR(lives[lives.size() / 2], 7.0, 0.01) << "§17 typical lifetime ≈7 s";
  }
}

// ---------------------------------------------------------------------------------------------
// §2 last paragraph / §5.1 step 2: a retransmitted SYN (same ISN) finds its request: SYN-ACK resent,
// TCPSynRetrans and RetransSegs, no new request. §2 step 8: SYN+FIN to a listener is discarded.

TEST(HostStackRequest, RetransmittedSynResendsSynAck_PerProfile_S2_S5_1_step2) {
  for (const auto& name : all_profile_names()) {
    SCOPED_TRACE(name + " §2 retransmitted SYN → tcp_check_req → SYN-ACK resent");
    const auto& p = find_profile(name);
    auto s = Sysctls::defaults_for(p);
    Net net;
    int srv = net.add_host(p, s, kSrv);
    auto lid = net.host(srv).listen(80, 128, 0, SimTime{});
    net.inject(at_s(0.0), make_syn(spoofed(1), ep("10.0.0.2:80"), 5000, 100));
    net.inject(at_s(0.6), make_syn(spoofed(1), ep("10.0.0.2:80"), 5000, 700));
    net.run_until(at_s(0.9));
    auto synacks = net.sent(srv, is_synack);
    ASSERT_EQ(synacks.size(), 2u);
    EXPECT_EQ(synacks[0].seg.seq, synacks[1].seg.seq) << "same request, same ISN";
    const auto& cs = net.host(srv).counters();
    EXPECT_EQ(cs[Counter::TCPSynRetrans], 1u);
    EXPECT_EQ(cs[Counter::RetransSegs], 1u);
    EXPECT_EQ(net.host(srv).listener_snapshot(lid).q, 1);
    EXPECT_EQ(cs[Counter::ListenDrops], 0u);

    Segment synfin = make_syn(spoofed(2), ep("10.0.0.2:80"), 6000);
    synfin.flags = SYN | FIN;
    net.inject(at_s(0.95), synfin);
    net.run_until(at_s(0.99));
    EXPECT_TRUE(net.sent(srv, [](const Segment& x) { return x.dst == spoofed(2); }).empty()) << "§2 step 8 SYN+FIN";
    EXPECT_EQ(net.host(srv).listener_snapshot(lid).q, 1);
  }
}

// §7.5: a SYN that hits the server's TIME_WAIT bucket (server closed first) with a sequence number
// after tw_rcv_nxt is accepted as a new connection with ISN = tw_snd_nxt + 65535 + 2, and it skips
// the SYN-queue-full test (§3.7 step 1).
TEST(HostStackTimeWait, SynOnTimeWaitBucketGetsIsnFromSndNxt_PerProfile_S7_5) {
  for (const auto& name : all_profile_names()) {
    SCOPED_TRACE(name + " §7.5 TW-recycled SYN");
    const auto& p = find_profile(name);
    auto s = Sysctls::defaults_for(p);
    s.set(p, "tcp_syncookies", 0);
    Net net;
    int srv = net.add_host(p, s, kSrv);
    int cli = net.add_host(p, s, kCli);
    auto lid = net.host(srv).listen(80, 1, 0, SimTime{});
    ConnId c = net.host(cli).connect(ep("10.0.0.2:80"), net.go(0.1), 1, std::uint16_t{45000});
    net.run_until(at_s(0.5));
    auto child = net.host(srv).accept(lid);
    ASSERT_TRUE(child.has_value());
    net.host(srv).close(*child, net.go(1.0));  // server = active closer ⇒ server TIME_WAIT
    net.run_until(at_s(1.5));
    net.host(cli).close(c, net.go(1.5));
    net.run_until(at_s(2.0));
    ASSERT_EQ(net.host(srv).timewait_count(), 1u);
    auto fins = net.sent(srv, [](const Segment& x) { return (x.flags & FIN) != 0; });
    ASSERT_EQ(fins.size(), 1u);
    const std::uint32_t tw_snd_nxt = fins[0].seg.seq + 1;

    // Fill the SYN queue with spoofed SYNs so that an ordinary SYN would be dropped.
    for (int k = 0; k < 20; ++k) net.inject(at_s(2.5 + 0.001 * k), make_syn(spoofed(k + 1), ep("10.0.0.2:80"), 9000 + k));
    net.run_until(at_s(2.9));
    const auto before = net.host(srv).counters();
    ASSERT_GT(before[Counter::TCPReqQFullDrop], 0u);

    ConnId c2 = net.host(cli).connect(ep("10.0.0.2:80"), net.go(3.0), 2, std::uint16_t{45000});
    net.run_until(at_s(3.5));
    auto synacks = net.sent(srv, [](const Segment& x) { return x.dst.port == 45000 && x.is_synack(); });
    ASSERT_EQ(synacks.size(), 2u) << "first connection + the TW-recycled one";
    EXPECT_EQ(synacks[1].seg.seq, tw_snd_nxt + 65535 + 2);
    EXPECT_EQ(net.host(cli).state_of(c2), TcpState::Established);
    auto d = net.host(srv).counters() - before;
    EXPECT_EQ(d[Counter::TCPReqQFullDrop], 0u) << "isn != 0 skips the SYN-queue test";
    EXPECT_EQ(net.host(srv).timewait_count(), 0u);
  }
}

// ---------------------------------------------------------------------------------------------
// The seed (§7.1–§7.3, §3.3 step 7a): per-host PAWS on EL7 with tcp_tw_recycle=1.

struct SeedSetup {
  Net net;
  int S = 0, N = 0, M = 0;
  ListenerId s_lid = 0;
  std::uint32_t last_n_tsval = 0;
  SimTime last_n_at{};

  // server_closes_first: S (which opened the connection to N) closes first ⇒ S is the active closer.
  explicit SeedSetup(bool s_closes_first) {
    const auto& p = P("el7");
    auto ss = Sysctls::defaults_for(p);
    ss.set(p, "net.ipv4.tcp_tw_recycle", 1);
    auto sn = Sysctls::defaults_for(p);
    S = net.add_host(p, ss, "10.0.0.10", 5'000'000);
    N = net.add_host(p, sn, "10.0.0.20", 9'000'000);  // N's TS clock is far ahead …
    M = net.add_host(p, sn, "10.0.0.20", 1'000'000);  // … of M's, which later uses N's address
    net.reroute("10.0.0.20", N);
    s_lid = net.host(S).listen(22, 128, 0, SimTime{});
    auto n_lid = net.host(N).listen(80, 128, 0, SimTime{});
    ConnId sc = net.host(S).connect(ep("10.0.0.20:80"), net.go(0.1), 1);
    net.run_until(at_s(0.5));
    auto nc = net.host(N).accept(n_lid);
    if (!nc) throw std::runtime_error("N did not accept");
    if (s_closes_first) {
      net.host(S).close(sc, net.go(1.0));
      net.run_until(at_s(1.5));
      net.host(N).close(*nc, net.go(2.0));
    } else {
      net.host(N).close(*nc, net.go(1.0));
      net.run_until(at_s(1.5));
      net.host(S).close(sc, net.go(2.0));
    }
    net.run_until(at_s(4.0));
    for (const auto& w : net.wire)
      if (w.from == N && w.seg.dst.addr == ip("10.0.0.10") && w.seg.options.ts()) {
        last_n_tsval = w.seg.options.ts()->val;
        last_n_at = w.at;
      }
    // Another host behind N's address (e.g. the same NAT) takes over 10.0.0.20.
    net.reroute("10.0.0.20", M);
  }
};

TEST(HostStackPerHostPaws, El7ActiveCloserRejectsLaggingSyns_S7_1_S7_2_S7_3_S3_3) {
  SeedSetup h(true);
  auto& net = h.net;
  auto& S = net.host(h.S);
  const std::int64_t recv_sec = Net::kEpochSec + static_cast<std::int64_t>(to_seconds(h.last_n_at + net.latency));

  // §7.1/§7.2: S (active closer) remembered N's last TSval with the time it was received.
  auto entry = S.metrics().find(ip("10.0.0.10"), ip("10.0.0.20"));
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->ts, h.last_n_tsval);
  EXPECT_EQ(entry->stamp_sec, recv_sec);

  // A SYN from N's address whose TSval is far behind: dropped, PAWSPassive and ListenDrops +1 per SYN.
  const auto before = S.counters();
  ConnId m = net.host(h.M).connect(ep("10.0.0.10:22"), net.go(5.0), 7);
  auto mport = local_port(net.host(h.M), m);
  auto m_syns = [&] { return net.sent(h.M, [&](const Segment& x) { return x.src.port == mport && x.is_syn(); }); };
  auto to_m = [&] { return net.sent(h.S, [&](const Segment& x) { return x.dst.port == mport; }); };

  net.run_until(at_s(5.5));
  auto d = S.counters() - before;
  EXPECT_EQ(d[Counter::PAWSPassive], 1u);
  EXPECT_EQ(d[Counter::ListenDrops], 1u);
  EXPECT_TRUE(to_m().empty()) << "silent drop, no SYN-ACK/RST";

  net.run_until(at_s(6.5));  // retransmission at +1 s
  d = S.counters() - before;
  EXPECT_EQ(m_syns().size(), 2u);
  EXPECT_EQ(d[Counter::PAWSPassive], 2u);
  EXPECT_EQ(d[Counter::ListenDrops], 2u);

  net.run_until(at_s(8.5));  // retransmission after a further 2 s
  d = S.counters() - before;
  ASSERT_EQ(m_syns().size(), 3u);
  EXPECT_EQ(m_syns()[1].at - m_syns()[0].at, seconds(1)) << "client retransmission gap +1 s (§9)";
  EXPECT_EQ(m_syns()[2].at - m_syns()[1].at, seconds(2)) << "then +2 s (§9)";
  EXPECT_EQ(d[Counter::PAWSPassive], 3u);
  EXPECT_EQ(d[Counter::ListenDrops], 3u);
  EXPECT_TRUE(to_m().empty());

  // Every SYN inside the 60 s window is rejected; the first one after it is accepted (§7.3).
  net.run_until(at_s(80));
  ASSERT_EQ(net.node(h.M).connected.size(), 1u) << "accepted after the 60 s window";
  auto syns = m_syns();
  std::size_t inside = 0;
  for (const auto& w : syns)
    if (Net::kEpochSec + static_cast<std::int64_t>(to_seconds(w.at + net.latency)) - recv_sec < 60) ++inside;
  d = S.counters() - before;
  EXPECT_EQ(d[Counter::PAWSPassive], inside);
  EXPECT_EQ(d[Counter::ListenDrops], inside);
  EXPECT_EQ(syns.size(), inside + 1) << "the SYN after the window got through";
  auto synacks = net.sent(h.S, [&](const Segment& x) { return x.dst.port == mport && x.is_synack(); });
  ASSERT_EQ(synacks.size(), 1u);
  EXPECT_GE(Net::kEpochSec + static_cast<std::int64_t>(to_seconds(synacks[0].at)) - recv_sec, 60);
  EXPECT_EQ(S.listener_snapshot(h.s_lid).a, 1);
}

TEST(HostStackPerHostPaws, El7PassiveCloserRecordsNothing_S7_1_S15_5) {
  SeedSetup h(false);
  auto& net = h.net;
  auto& S = net.host(h.S);
  auto entry = S.metrics().find(ip("10.0.0.10"), ip("10.0.0.20"));
  EXPECT_TRUE(!entry || entry->stamp_sec == 0) << "§7.1 the passive closer records no timestamp";
  const auto before = S.counters();
  ConnId m = net.host(h.M).connect(ep("10.0.0.10:22"), net.go(5.0), 7);
  auto mport = local_port(net.host(h.M), m);
  net.run_until(at_s(5.5));
  auto d = S.counters() - before;
  EXPECT_EQ(d[Counter::PAWSPassive], 0u);
  EXPECT_EQ(d[Counter::ListenDrops], 0u);
  ASSERT_EQ(net.node(h.M).connected.size(), 1u) << "first SYN accepted";
  EXPECT_EQ(net.sent(h.M, [&](const Segment& x) { return x.src.port == mport && x.is_syn(); }).size(), 1u);
  EXPECT_EQ(S.listener_snapshot(h.s_lid).a, 1);
}

// docs/kernel-notes.md, "cookie SYN-ACK TSval": the option bits are encoded in the raw clock and the
// 4.12+ TS offset is added afterwards (measured in the lab on 6.18: the low 6 bits on the wire did
// not match the SYN's options). ≤ 4.11 (no cookie offset) the wire's low bits are the options.
TEST(HostStackSynFlood, CookieTsvalEncodesOptionsBeforeTheOffset_S10_S7_7) {
  for (const char* name : {"el7", "4.4", "6.18"}) {
    SCOPED_TRACE(name);
    const auto& p = P(name);
    auto s = Sysctls::defaults_for(p);
    s.set(p, "tcp_syncookies", 2);
    Net net;
    int srv = net.add_host(p, s, kSrv);
    net.host(srv).listen(80, 8, 0, SimTime{});
    const Endpoint client = spoofed(1);
    net.inject(at_s(0.1), make_syn(client, ep("10.0.0.2:80"), 4242, 777));
    net.run_until(at_s(0.5));
    const Segment* synack = nullptr;
    for (const auto& w : net.wire)
      if (w.seg.is_synack()) synack = &w.seg;
    ASSERT_NE(synack, nullptr);
    const std::uint32_t tsval = synack->options.ts()->val;
    const std::uint32_t want = 7u | 0x10u;  // make_syn offers wscale 7 and SACK
    const std::uint32_t off = p.cookie_ts_offset
                                  ? net.host(srv).ts_clock().offset(ep("10.0.0.2:80"), client, s.tcp_timestamps)
                                  : 0;
    EXPECT_EQ((tsval - off) & 0x3fu, want);
    if (off != 0 && ((off & 0x3fu) != 0)) {
      EXPECT_NE(tsval & 0x3fu, want) << "the offset hides the bits on the wire";
    }
  }
}

}  // namespace
}  // namespace synscope::model::testing

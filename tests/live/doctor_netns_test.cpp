// `synscope doctor --netns` against the real kernel, in network namespaces the test creates:
// an accept-queue overflow and a SYN flood without syncookies must each produce their finding,
// naming the right listener and carrying the kernel's numbers (fact sheet §6, §10, §17).
#include <gtest/gtest.h>

#include <atomic>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <thread>

#include "live_test_support.h"
#include "support/process.h"

namespace synscope::testing {
namespace {

using nlohmann::json;

#define REQUIRE_ROOT() \
  if (!is_root()) GTEST_SKIP() << "needs root: creates network namespaces (ip netns add) and raw sockets"

json doctor_json(const std::string& ns, double interval, const TempDir& dir) {
  auto r = run_command(synscope_binary() + " doctor --json --interval " + std::to_string(interval) + " --netns " + ns, dir);
  EXPECT_EQ(r.exit_status, 0) << r.err;
  return json::parse(r.out);
}

const json* finding(const json& doc, const std::string& id) {
  for (const auto& f : doc["findings"])
    if (f["id"] == id) return &f;
  return nullptr;
}

const json* counter(const json& doc, const std::string& name) {
  for (const auto& c : doc["counters"])
    if (c["name"] == name) return &c;
  return nullptr;
}

const json* listener(const json& doc, const std::string& address, int port) {
  for (const auto& l : doc["listeners"])
    if (l["address"] == address && l["port"] == port) return &l;
  return nullptr;
}

TEST(DoctorNetns, AcceptQueueOverflowNamesTheListenerAndProcess) {
  REQUIRE_ROOT();
  TestNetns ns("aq");
  TempDir dir;
  {
    Fds fds;
    listen_in(ns.name(), fds, "127.0.0.1", 8080, 2);  // listen(fd, 2), never accept()ed
    connect_in(ns.name(), fds, "127.0.0.1", 8080, 6);  // 3 fill the queue (B+1, §6.1); 3 keep retrying (§9)
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    auto doc = doctor_json(ns.name(), 2.5, dir);

    const auto* l = listener(doc, "127.0.0.1", 8080);
    ASSERT_NE(l, nullptr) << doc["listeners"].dump();
    EXPECT_EQ((*l)["backlog"], 2);
    EXPECT_EQ((*l)["accept_queue"], 3);  // §6.1, §17: Recv-Q reaches backlog+1
    EXPECT_GT((*l)["drops_delta"].get<int>(), 0);
    ASSERT_EQ((*l)["owners"].size(), 1u);
    EXPECT_EQ((*l)["owners"][0]["pid"], getpid());

    const auto* f = finding(doc, "accept-queue-overflow");
    ASSERT_NE(f, nullptr) << doc["findings"].dump(2);
    EXPECT_EQ((*f)["severity"], "critical");
    EXPECT_EQ((*f)["listener"], "127.0.0.1:8080");
    EXPECT_NE((*f)["process"].get<std::string>().find("pid " + std::to_string(getpid())), std::string::npos);
    EXPECT_NE((*f)["evidence"][0].get<std::string>().find("Recv-Q (accept queue) 3 > backlog 2"), std::string::npos);
    // Each retransmitted SYN of the 3 waiting clients is dropped: ListenOverflows and ListenDrops move together (§17).
    const auto* lo = counter(doc, "ListenOverflows");
    const auto* ld = counter(doc, "ListenDrops");
    EXPECT_GE((*lo)["delta"].get<int>(), 3);
    EXPECT_EQ((*lo)["delta"], (*ld)["delta"]);
    EXPECT_NE((*f)["evidence"][1].get<std::string>().find("ListenOverflows +" + std::to_string((*lo)["delta"].get<int>())),
              std::string::npos);
    // The same namespace's clients retransmit their SYNs: the client-side finding shows it too.
    EXPECT_EQ(doc["syn_sent"], 3);
    EXPECT_NE(finding(doc, "syn-retransmissions"), nullptr);
  }
}

TEST(DoctorNetns, SynFloodWithoutSyncookiesGivesTheSynQueueFinding) {
  REQUIRE_ROOT();
  TestNetns srv("srv"), cli("cli");
  const std::string vsrv = "vsrv" + std::to_string(getpid() % 100000), vcli = "vcli" + std::to_string(getpid() % 100000);
  must_run("ip link add " + vsrv + " netns " + srv.name() + " type veth peer name " + vcli + " netns " + cli.name());
  must_run("ip -n " + srv.name() + " addr add 10.77.0.1/24 dev " + vsrv);
  must_run("ip -n " + srv.name() + " link set " + vsrv + " up");
  must_run("ip -n " + cli.name() + " addr add 10.77.0.2/24 dev " + vcli);
  must_run("ip -n " + cli.name() + " link set " + vcli + " up");
  srv.sysctl("net.ipv4.tcp_syncookies=0");
  TempDir dir;
  {
    Fds fds;
    listen_in(srv.name(), fds, "10.77.0.1", 9090, 8);
    SynSender flood(cli.name(), fds);
    // Spoofed sources on the link that nobody answers ARP for: the SYN-ACKs go nowhere, so the
    // requests stay in the SYN queue (§5.3, §17) and further SYNs find it full.
    std::atomic<bool> stop{false};
    std::atomic<int> sent{0};
    std::thread sender([&] {
      std::uint32_t n = 0;
      while (!stop) {
        for (int k = 0; k < 5; ++k, ++n) {
          const auto src = "10.77.0." + std::to_string(100 + n % 100);
          flood.send(src.c_str(), static_cast<std::uint16_t>(20000 + n % 40000), "10.77.0.1", 9090, 1000 + n * 7919);
          ++sent;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    json doc;
    try {
      doc = doctor_json(srv.name(), 2, dir);
    } catch (...) {
      stop = true;
      sender.join();
      throw;
    }
    stop = true;
    sender.join();

    const auto* l = listener(doc, "10.77.0.1", 9090);
    ASSERT_NE(l, nullptr) << doc["listeners"].dump();
    EXPECT_EQ((*l)["backlog"], 8);
    EXPECT_EQ((*l)["syn_recv"], 9);  // §6.3, §17: 6.13+ holds B+1 requests (Q > B)
    EXPECT_EQ(doc["sysctls"]["net.ipv4.tcp_syncookies"], 0);

    const auto* f = finding(doc, "syn-queue-overflow");
    ASSERT_NE(f, nullptr) << doc["findings"].dump(2);
    EXPECT_EQ((*f)["severity"], "critical");
    EXPECT_EQ((*f)["listener"], "10.77.0.1:9090");
    EXPECT_EQ((*f)["title"], "SYN queue overflowing without syncookies: SYNs are dropped on 10.77.0.1:9090");
    const auto* drop = counter(doc, "TCPReqQFullDrop");
    const auto* ld = counter(doc, "ListenDrops");
    EXPECT_GE((*drop)["delta"].get<int>(), 20);  // ≈50 SYNs/s for 2 s, all refused (margin for a busy machine)
    EXPECT_EQ((*drop)["delta"], (*ld)["delta"]);  // §17: TCPReqQFullDrop = ListenDrops
    EXPECT_EQ(finding(doc, "syncookies-firing"), nullptr);

    // §13: request socks (TCP_NEW_SYN_RECV inside 6.18) answer the SYN_RECV state filter and are
    // reported with state SYN_RECV (3).
    live::SocketDump dump;
    live::run_in_netns(srv.name(), [&] { dump = live::dump_tcp_sockets(); });
    ASSERT_FALSE(dump.requests.empty());
    for (const auto& r : dump.requests) {
      EXPECT_EQ(r.state, 3);
      EXPECT_EQ(r.port, 9090);
    }
    EXPECT_EQ(finding(doc, "accept-queue-overflow"), nullptr);
    // The SYN-ACK retransmissions of the queued requests move TCPSynRetrans, but nothing here
    // connect()s: no client-side finding.
    EXPECT_EQ(doc["syn_sent"], 0);
    EXPECT_GT((*counter(doc, "TCPSynRetrans"))["delta"].get<int>(), 0);
    EXPECT_EQ(finding(doc, "syn-retransmissions"), nullptr);
  }
}

// A busy host: 200 listeners, one of them overflowing. The text lists the notable one with its owner
// and counts the idle rest; --all-listeners and --json give every listener with its owners.
TEST(DoctorNetns, ManyListenersListTheNotableOneWithItsOwnerAndCountTheRest) {
  REQUIRE_ROOT();
  TestNetns ns("many");
  TempDir dir;
  HeldListeners holder(ns.name(), 200, dir);

  auto text = run_command(synscope_binary() + " doctor --interval 0 --netns " + ns.name(), dir);
  ASSERT_EQ(text.exit_status, 0) << text.err;
  EXPECT_NE(text.out.find("Listeners (200, IPv4 and IPv6):"), std::string::npos) << text.out;
  bool row = false;
  for (const auto& line : split_lines(text.out))
    row = row || (line.find("127.0.0.1:20000") != std::string::npos && line.find("hold_listeners (pid") != std::string::npos &&
                  line.find("127.0.0.1:20000 ") != std::string::npos);
  EXPECT_TRUE(row) << text.out;
  EXPECT_NE(text.out.find("… and 199 idle listeners"), std::string::npos) << text.out;
  EXPECT_EQ(text.out.find("127.0.0.1:20001 "), std::string::npos) << "idle listeners are not listed by default";

  auto all = run_command(synscope_binary() + " doctor --interval 0 --all-listeners --netns " + ns.name(), dir);
  int rows = 0;
  for (const auto& line : split_lines(all.out))
    rows += line.starts_with("  127.0.0.1:") && line.find("hold_listeners (pid") != std::string::npos ? 1 : 0;
  EXPECT_EQ(rows, 200) << all.out;

  auto doc = doctor_json(ns.name(), 0, dir);
  EXPECT_EQ(doc["listeners"].size(), 200u);
  EXPECT_EQ(doc["owners_looked_up"], "all");
  for (const auto& l : doc["listeners"]) EXPECT_EQ(l["owners"].size(), 1u) << l.dump();
}

TEST(DoctorNetns, UnknownNamespaceIsAOneLineError) {
  TempDir dir;
  auto r = run_command(synscope_binary() + " doctor --interval 0 --netns synscope-no-such-ns", dir);
  EXPECT_EQ(r.exit_status, 2);
  EXPECT_EQ(r.err, "synscope: --netns synscope-no-such-ns: cannot open /run/netns/synscope-no-such-ns: No such file or directory\n");
}

}  // namespace
}  // namespace synscope::testing

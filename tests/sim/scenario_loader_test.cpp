#include "sim/scenario_loader.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "core/error.h"

namespace synscope::sim {
namespace {

// Every key of the schema, with non-default values.
constexpr const char* kFull = R"([scenario]
name = "seed-nat-recycle-server-close"
description = "Clients behind a NAT reach a tcp_tw_recycle server"
seed = 7
start = "2019-06-03 22:45:10.5"
duration = "90s"
kernel = "el7"
latency = "0.3ms"
notes = ["first note", "second note"]

[[host]]
name = "client1"
addr = "10.85.3.10"

[[host]]
name = "nat"
addr = "10.85.3.51"

[[host]]
name = "server"
addr = "10.85.3.111"
kernel = "el6"
sysctl = { tcp_tw_recycle = 1, "net.core.somaxconn" = 128 }
ts_clock = 2630890245
hz = 1000
mss = 1260
syn_window = 25200
synack_window = 24960
wscale = 6
window = 197

[[link]]
a = "client1"
b = "nat"
latency = "0.5ms"

[[nat]]
host = "nat"
  [[nat.dnat]]
  daddr = "10.85.3.51"
  dport = 29090
  to = "10.85.3.111:19090"
  [[nat.snat]]
  daddr = "10.85.3.111"
  dport = 19090
  to = "10.85.3.51"

[[server]]
host = "server"
port = 19090
backlog = 64
accept = "rate"
accept_rate = 10.5
close_after = "5s"
banner = "SSH-2.0-OpenSSH_7.4\r\n"
banner_delay = "7ms"
eof_close_delay = "2.112ms"

[[server]]
host = "server"
port = 22
accept = "stalled"

[[client]]
name = "c1"
host = "client1"
connect = "10.85.3.51:29090"
at = ["1s", "2.09s"]
close_after = "1s"
syn_retries = 6

[[client]]
host = "client1"
connect = "10.85.3.51:29090"
rate = 100.0
count = 1000
start = "1s"

[[connect_close]]
host = "server"
target = "10.85.3.51:22"
at = "0s"
close_after = "5.633s"

[[proxy]]
host = "nat"
listen = 8080
upstream = "10.85.3.111:19090"
backlog = 1024

[[flood]]
source = "198.51.100.0/24"
target = "10.85.3.111:19090"
rate = 1000.0
start = "1s"
duration = "10s"
timestamps = false

[[capture]]
host = "server"

[[capture]]
host = "nat"
name = "nat-box"

[sweep]
trials = 400
)";

Ipv4Addr ip(const char* s) { return *Ipv4Addr::parse(s); }
Endpoint ep(const char* s) { return *Endpoint::parse(s); }

TEST(ScenarioLoader, LoadsFullScenario) {
  const Scenario sc = load_scenario_text(kFull, "scenarios/full.toml");
  EXPECT_EQ(sc.source, "scenarios/full.toml");
  EXPECT_EQ(sc.name, "seed-nat-recycle-server-close");
  EXPECT_EQ(sc.description, "Clients behind a NAT reach a tcp_tw_recycle server");
  EXPECT_EQ(sc.seed, 7u);
  EXPECT_EQ(sc.start.unix_ns, 1559601910'500000000LL);  // 2019-06-03 22:45:10.5 UTC
  EXPECT_EQ(sc.duration, seconds(90));
  EXPECT_EQ(sc.default_kernel, "el7");
  EXPECT_EQ(sc.default_latency, micros(300));
  EXPECT_EQ(sc.notes, (std::vector<std::string>{"first note", "second note"}));

  ASSERT_EQ(sc.hosts.size(), 3u);
  EXPECT_EQ(sc.hosts[0].name, "client1");
  EXPECT_EQ(sc.hosts[0].addr, ip("10.85.3.10"));
  EXPECT_EQ(sc.hosts[0].kernel, "");
  EXPECT_EQ(sc.hosts[0].mss, 1460);  // defaults kept
  EXPECT_EQ(sc.hosts[0].line_no, 11);
  EXPECT_EQ(sc.hosts[1].line_no, 15);
  const HostSpec& srv = sc.hosts[2];
  EXPECT_EQ(srv.line_no, 19);
  EXPECT_EQ(srv.kernel, "el6");
  EXPECT_EQ(srv.sysctls, (std::map<std::string, std::int64_t>{{"somaxconn", 128}, {"tcp_tw_recycle", 1}}));
  EXPECT_EQ(srv.ts_clock_at_start, 2630890245u);
  EXPECT_EQ(srv.hz, 1000);
  EXPECT_EQ(srv.mss, 1260);
  EXPECT_EQ(srv.syn_window, 25200);
  EXPECT_EQ(srv.synack_window, 24960);
  EXPECT_EQ(srv.wscale, 6);
  EXPECT_EQ(srv.window, 197);

  ASSERT_EQ(sc.links.size(), 1u);
  EXPECT_EQ(sc.links[0].a, "client1");
  EXPECT_EQ(sc.links[0].b, "nat");
  EXPECT_EQ(sc.links[0].latency, micros(500));

  ASSERT_EQ(sc.nats.size(), 1u);
  EXPECT_EQ(sc.nats[0].host, "nat");
  ASSERT_EQ(sc.nats[0].dnat.size(), 1u);
  EXPECT_EQ(sc.nats[0].dnat[0].match_daddr, ip("10.85.3.51"));
  EXPECT_EQ(sc.nats[0].dnat[0].match_dport, 29090);
  EXPECT_EQ(sc.nats[0].dnat[0].to, ep("10.85.3.111:19090"));
  ASSERT_EQ(sc.nats[0].snat.size(), 1u);
  EXPECT_EQ(sc.nats[0].snat[0].match_daddr, ip("10.85.3.111"));
  EXPECT_EQ(sc.nats[0].snat[0].match_dport, 19090);
  EXPECT_EQ(sc.nats[0].snat[0].to, ip("10.85.3.51"));

  ASSERT_EQ(sc.servers.size(), 2u);
  const ServerAppSpec& s0 = sc.servers[0];
  EXPECT_EQ(s0.host, "server");
  EXPECT_EQ(s0.port, 19090);
  EXPECT_EQ(s0.backlog, 64);
  EXPECT_EQ(s0.accept, AcceptMode::Rate);
  EXPECT_DOUBLE_EQ(s0.accept_rate, 10.5);
  EXPECT_EQ(s0.close_after, seconds(5));
  EXPECT_EQ(s0.banner, "SSH-2.0-OpenSSH_7.4\r\n");
  EXPECT_EQ(s0.banner_delay, millis(7));
  EXPECT_EQ(s0.eof_close_delay, micros(2112));
  EXPECT_EQ(sc.servers[1].accept, AcceptMode::Stalled);
  EXPECT_EQ(sc.servers[1].backlog, 128);
  EXPECT_FALSE(sc.servers[1].close_after);

  ASSERT_EQ(sc.clients.size(), 2u);
  const ClientAppSpec& c0 = sc.clients[0];
  EXPECT_EQ(c0.name, "c1");
  EXPECT_EQ(c0.host, "client1");
  EXPECT_EQ(c0.connect_to, ep("10.85.3.51:29090"));
  EXPECT_EQ(c0.at, (std::vector<Duration>{seconds(1), millis(2090)}));
  EXPECT_EQ(c0.close_after, seconds(1));
  EXPECT_EQ(c0.syn_retries, 6);
  const ClientAppSpec& c1 = sc.clients[1];
  EXPECT_EQ(c1.name, "client1");  // defaults to the host
  EXPECT_TRUE(c1.at.empty());
  EXPECT_DOUBLE_EQ(c1.rate, 100.0);
  EXPECT_EQ(c1.count, 1000);
  EXPECT_EQ(c1.start, seconds(1));
  EXPECT_FALSE(c1.syn_retries);

  ASSERT_EQ(sc.connect_close.size(), 1u);
  EXPECT_EQ(sc.connect_close[0].host, "server");
  EXPECT_EQ(sc.connect_close[0].target, ep("10.85.3.51:22"));
  EXPECT_EQ(sc.connect_close[0].at, Duration{0});
  EXPECT_EQ(sc.connect_close[0].close_after, millis(5633));

  ASSERT_EQ(sc.proxies.size(), 1u);
  EXPECT_EQ(sc.proxies[0].host, "nat");
  EXPECT_EQ(sc.proxies[0].listen_port, 8080);
  EXPECT_EQ(sc.proxies[0].upstream, ep("10.85.3.111:19090"));
  EXPECT_EQ(sc.proxies[0].backlog, 1024);

  ASSERT_EQ(sc.floods.size(), 1u);
  EXPECT_EQ(sc.floods[0].source_net, ip("198.51.100.0"));
  EXPECT_EQ(sc.floods[0].source_prefix, 24);
  EXPECT_EQ(sc.floods[0].target, ep("10.85.3.111:19090"));
  EXPECT_DOUBLE_EQ(sc.floods[0].rate, 1000.0);
  EXPECT_EQ(sc.floods[0].start, seconds(1));
  EXPECT_EQ(sc.floods[0].duration, seconds(10));
  EXPECT_FALSE(sc.floods[0].timestamps);

  ASSERT_EQ(sc.captures.size(), 2u);
  EXPECT_EQ(sc.captures[0].host, "server");
  EXPECT_EQ(sc.captures[0].name, "server");
  EXPECT_EQ(sc.captures[1].name, "nat-box");

  ASSERT_TRUE(sc.sweep);
  EXPECT_EQ(sc.sweep->trials, 400);
}

TEST(ScenarioLoader, MinimalScenarioGetsDefaults) {
  const Scenario sc = load_scenario_text("[scenario]\nname = \"m\"\n", "m.toml");
  EXPECT_EQ(sc.seed, 1u);
  EXPECT_EQ(sc.duration, seconds(120));
  EXPECT_EQ(sc.default_kernel, "el7");
  EXPECT_EQ(sc.default_latency, micros(300));
  EXPECT_TRUE(sc.hosts.empty());
  EXPECT_FALSE(sc.sweep);
}

TEST(ScenarioLoader, AcceptsTomlNativeValues) {
  const Scenario sc = load_scenario_text(R"([scenario]
name = "native"
start = 2019-06-03T22:45:10Z
duration = 120
latency = 0.0003
[[host]]
name = "a"
addr = "10.0.0.1"
[[host]]
name = "b"
addr = "10.0.0.2"
[host.sysctl]
net.ipv4.tcp_tw_recycle = 1
[[link]]
a = "a"
b = "b"
[[client]]
host = "a"
connect = "10.0.0.2:80"
at = 1.5
)",
                                         "n.toml");
  EXPECT_EQ(sc.start.unix_ns, 1559601910'000000000LL);
  EXPECT_EQ(sc.duration, seconds(120));
  EXPECT_EQ(sc.default_latency, micros(300));
  EXPECT_EQ(sc.hosts[1].sysctls.at("tcp_tw_recycle"), 1);  // dotted name stored short
  EXPECT_EQ(sc.links[0].latency, micros(300));               // scenario default
  EXPECT_EQ(sc.clients[0].at, std::vector<Duration>{millis(1500)});
}

TEST(ScenarioLoader, StartAcceptsIsoFormWithFraction) {
  const Scenario sc =
      load_scenario_text("[scenario]\nname = \"s\"\nstart = \"2019-06-03T22:45:10.25Z\"\n", "s.toml");
  EXPECT_EQ(sc.start.unix_ns, 1559601910'250000000LL);
}

TEST(ScenarioLoader, LoadsFromFile) {
  const auto path = std::filesystem::temp_directory_path() / "synscope_loader_test.toml";
  {
    std::ofstream(path) << kFull;
  }
  const Scenario sc = load_scenario_file(path.string());
  EXPECT_EQ(sc.source, path.string());
  EXPECT_EQ(sc.hosts.size(), 3u);
  std::filesystem::remove(path);
}

// ---- errors -----------------------------------------------------------------------------------

// Lines 1-10; snippets appended by tests start on line 11.
constexpr const char* kBase = R"([scenario]
name = "t"

[[host]]
name = "client1"
addr = "10.0.0.1"

[[host]]
name = "server"
addr = "10.0.0.2"
)";

std::string error_of(const std::string& text) {
  try {
    load_scenario_text(text, "scenarios/x.toml");
  } catch (const UsageError& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    return msg;
  }
  return "(no error)";
}
std::string error_with(const std::string& snippet) { return error_of(std::string(kBase) + snippet); }

TEST(ScenarioLoaderErrors, BadAddress) {
  EXPECT_EQ(error_of("[scenario]\nname = \"t\"\n# hosts\n[[host]]\nname = \"a\"\naddr = \"10.0.0.1\"\n"
                     "[[host]]\nname = \"b\"\naddr = \"10.0.0.2\"\n[[host]]\nname = \"c\"\naddr = \"10.0.0.300\"\n"),
            "scenarios/x.toml:12: host[2].addr: \"10.0.0.300\" is not an IPv4 address");
  EXPECT_EQ(error_with("[[nat]]\nhost = \"server\"\n[[nat.snat]]\nto = \"somewhere\"\n"),
            "scenarios/x.toml:14: nat[0].snat[0].to: \"somewhere\" is not an IPv4 address");
}

TEST(ScenarioLoaderErrors, BadEndpoint) {
  EXPECT_EQ(error_with("[[client]]\nhost = \"client1\"\nconnect = \"10.0.0.2\"\nat = \"1s\"\n"),
            "scenarios/x.toml:13: client[0].connect: \"10.0.0.2\" is not an ADDR:PORT endpoint");
  EXPECT_EQ(error_with("[[client]]\nhost = \"client1\"\nconnect = \"10.0.0.2:0\"\nat = \"1s\"\n"),
            "scenarios/x.toml:13: client[0].connect: \"10.0.0.2:0\": port 0 is out of range (1..65535)");
}

TEST(ScenarioLoaderErrors, UnknownKeyWithSuggestion) {
  EXPECT_EQ(error_with("\n[[host]]\nname = \"c\"\nadr = \"10.0.0.3\"\n"),
            "scenarios/x.toml:14: host[2].adr: unknown key (did you mean \"addr\"?)");
  EXPECT_EQ(error_with("[[client]]\nhost = \"client1\"\nconnect = \"10.0.0.2:80\"\nat = \"1s\"\nsyn_retires = 3\n"),
            "scenarios/x.toml:15: client[0].syn_retires: unknown key (did you mean \"syn_retries\"?)");
  EXPECT_EQ(error_with("[[hosts]]\nname = \"c\"\n"),
            "scenarios/x.toml:11: hosts: unknown key (did you mean \"host\"?)");
  EXPECT_EQ(error_of("[scenario]\nname = \"t\"\nlantency = \"1ms\"\n"),
            "scenarios/x.toml:3: scenario.lantency: unknown key (did you mean \"latency\"?)");
}

TEST(ScenarioLoaderErrors, UnknownKeyWithoutSuggestion) {
  EXPECT_EQ(error_with("[[server]]\nhost = \"server\"\nport = 80\ncolour = \"red\"\n"),
            "scenarios/x.toml:14: server[0].colour: unknown key (expected one of: host, port, backlog, accept, "
            "accept_rate, close_after, banner, banner_delay, eof_close_delay)");
  // A scenario key written before [scenario] ends up at the top level.
  EXPECT_EQ(error_of("seed = 3\n[scenario]\nname = \"t\"\n"),
            "scenarios/x.toml:1: seed: unknown key (did you mean to put \"seed\" under [scenario]?)");
}

TEST(ScenarioLoaderErrors, FirstUnknownKeyInFileOrderIsReported) {
  EXPECT_EQ(error_with("[[server]]\nhost = \"server\"\nzzz = 1\naaa = 2\nport = 80\n"),
            "scenarios/x.toml:13: server[0].zzz: unknown key (expected one of: host, port, backlog, accept, "
            "accept_rate, close_after, banner, banner_delay, eof_close_delay)");
}

TEST(ScenarioLoaderErrors, MissingKeys) {
  EXPECT_EQ(error_of("[[host]]\nname = \"a\"\naddr = \"10.0.0.1\"\n"),
            "scenarios/x.toml:1: scenario: missing required table [scenario]");
  EXPECT_EQ(error_of("[scenario]\ndescription = \"d\"\n"), "scenarios/x.toml:1: scenario.name: missing required key");
  EXPECT_EQ(error_with("\n[[link]]\na = \"client1\"\n"), "scenarios/x.toml:12: link[0].b: missing required key");
  EXPECT_EQ(error_with("[[flood]]\nsource = \"198.51.100.0/24\"\ntarget = \"10.0.0.2:80\"\n"),
            "scenarios/x.toml:11: flood[0].duration: missing required key");
}

TEST(ScenarioLoaderErrors, WrongTypes) {
  EXPECT_EQ(error_with("[[server]]\nhost = \"server\"\nport = \"19090\"\n"),
            "scenarios/x.toml:13: server[0].port: expected an integer, got \"19090\"");
  EXPECT_EQ(error_with("[[flood]]\nsource = \"198.51.100.0/24\"\ntarget = \"10.0.0.2:80\"\nduration = \"1s\"\n"
                       "timestamps = \"yes\"\n"),
            "scenarios/x.toml:15: flood[0].timestamps: expected true or false, got \"yes\"");
  EXPECT_EQ(error_of("[scenario]\nname = \"t\"\n[host]\nname = \"x\"\n"),
            "scenarios/x.toml:3: host: expected an array of tables ([[host]]), got a table");
  EXPECT_EQ(error_of("[scenario]\nname = \"t\"\n[[host]]\nname = \"a\"\naddr = \"10.0.0.1\"\nsysctl = 1\n"),
            "scenarios/x.toml:6: host[0].sysctl: expected a table such as { tcp_tw_recycle = 1 }, got 1");
  EXPECT_EQ(error_of("[scenario]\nname = \"t\"\n[[host]]\nname = \"a\"\naddr = \"10.0.0.1\"\n"
                     "sysctl = { tcp_tw_recycle = true }\n"),
            "scenarios/x.toml:6: host[0].sysctl.tcp_tw_recycle: expected an integer, got true");
}

TEST(ScenarioLoaderErrors, OutOfRange) {
  EXPECT_EQ(error_with("[[server]]\nhost = \"server\"\nport = 70000\n"),
            "scenarios/x.toml:13: server[0].port: 70000 is out of range (1..65535)");
  EXPECT_EQ(error_with("[[server]]\nhost = \"server\"\nport = 0\n"),
            "scenarios/x.toml:13: server[0].port: 0 is out of range (1..65535)");
  EXPECT_EQ(error_of("[scenario]\nname = \"t\"\n[[host]]\nname = \"a\"\naddr = \"10.0.0.1\"\nts_clock = 4294967296\n"),
            "scenarios/x.toml:6: host[0].ts_clock: 4294967296 is out of range (0..4294967295)");
  EXPECT_EQ(error_of("[scenario]\nname = \"t\"\n[[host]]\nname = \"a\"\naddr = \"10.0.0.1\"\nwscale = 15\n"),
            "scenarios/x.toml:6: host[0].wscale: 15 is out of range (0..14)");
  EXPECT_EQ(error_with("[[client]]\nhost = \"client1\"\nconnect = \"10.0.0.2:80\"\nrate = 0.0\ncount = 5\n"),
            "scenarios/x.toml:14: client[0].rate: must be a positive number, got 0");
  EXPECT_EQ(error_with("[[client]]\nhost = \"client1\"\nconnect = \"10.0.0.2:80\"\nat = 1\nsyn_retries = 0\n"),
            "scenarios/x.toml:15: client[0].syn_retries: 0 is out of range (1..127)");
  EXPECT_EQ(error_of("[scenario]\nname = \"t\"\nseed = -1\n"),
            "scenarios/x.toml:3: scenario.seed: -1 is out of range (0..9223372036854775807)");
}

TEST(ScenarioLoaderErrors, BadReferences) {
  EXPECT_EQ(error_with("[[client]]\nhost = \"clinet1\"\nconnect = \"10.0.0.2:80\"\nat = \"1s\"\n"),
            "scenarios/x.toml:12: client[0].host: no host named \"clinet1\" (did you mean \"client1\"?)");
  EXPECT_EQ(error_with("[[link]]\na = \"client1\"\nb = \"router\"\n"),
            "scenarios/x.toml:13: link[0].b: no host named \"router\"");
  EXPECT_EQ(error_with("[[link]]\na = \"server\"\nb = \"server\"\n"),
            "scenarios/x.toml:13: link[0].b: a link needs two different hosts, got \"server\" twice");
  EXPECT_EQ(error_with("[[link]]\na = \"server\"\nb = \"client1\"\n[[link]]\na = \"client1\"\nb = \"server\"\n"),
            "scenarios/x.toml:14: link[1]: duplicate link between \"client1\" and \"server\"");
  EXPECT_EQ(error_with("[[capture]]\nhost = \"nat\"\n"),
            "scenarios/x.toml:12: capture[0].host: no host named \"nat\"");
}

TEST(ScenarioLoaderErrors, Duplicates) {
  EXPECT_EQ(error_with("[[host]]\nname = \"server\"\naddr = \"10.0.0.3\"\n"),
            "scenarios/x.toml:12: host[2].name: duplicate host name \"server\" (first declared on line 8)");
  EXPECT_EQ(error_with("[[host]]\nname = \"other\"\naddr = \"10.0.0.2\"\n"),
            "scenarios/x.toml:13: host[2].addr: address 10.0.0.2 is already used by host \"server\" (line 8)");
  EXPECT_EQ(error_with("[[server]]\nhost = \"server\"\nport = 80\n[[server]]\nhost = \"server\"\nport = 80\n"),
            "scenarios/x.toml:16: server[1].port: host \"server\" already has a server on port 80");
  EXPECT_EQ(error_with("[[capture]]\nhost = \"server\"\n[[capture]]\nhost = \"client1\"\nname = \"server\"\n"),
            "scenarios/x.toml:15: capture[1].name: duplicate capture name \"server\" (two captures would write "
            "the same file)");
}

TEST(ScenarioLoaderErrors, ClientSchedule) {
  EXPECT_EQ(error_with("[[client]]\nhost = \"client1\"\nconnect = \"10.0.0.2:80\"\n"),
            "scenarios/x.toml:11: client[0]: needs either \"at\" or both \"rate\" and \"count\"");
  EXPECT_EQ(error_with("[[client]]\nhost = \"client1\"\nconnect = \"10.0.0.2:80\"\nrate = 5.0\n"),
            "scenarios/x.toml:11: client[0]: \"rate\" needs \"count\" (how many connections)");
  EXPECT_EQ(error_with("[[client]]\nhost = \"client1\"\nconnect = \"10.0.0.2:80\"\nat = \"1s\"\nrate = 5.0\n"),
            "scenarios/x.toml:15: client[0].rate: cannot be combined with \"at\"");
}

TEST(ScenarioLoaderErrors, ServerAcceptMode) {
  EXPECT_EQ(error_with("[[server]]\nhost = \"server\"\nport = 80\naccept = \"rat\"\n"),
            "scenarios/x.toml:14: server[0].accept: \"rat\" is not one of \"immediate\", \"stalled\", \"rate\" "
            "(did you mean \"rate\"?)");
  EXPECT_EQ(error_with("[[server]]\nhost = \"server\"\nport = 80\naccept = \"rate\"\n"),
            "scenarios/x.toml:11: server[0]: accept = \"rate\" needs accept_rate (accepts per second)");
  EXPECT_EQ(error_with("[[server]]\nhost = \"server\"\nport = 80\naccept_rate = 3\n"),
            "scenarios/x.toml:14: server[0].accept_rate: only allowed with accept = \"rate\"");
}

TEST(ScenarioLoaderErrors, FloodSource) {
  EXPECT_EQ(error_with("[[flood]]\nsource = \"198.51.100.7/24\"\ntarget = \"10.0.0.2:80\"\nduration = 1\n"),
            "scenarios/x.toml:12: flood[0].source: \"198.51.100.7/24\" has host bits set (network is "
            "198.51.100.0/24)");
  EXPECT_EQ(error_with("[[flood]]\nsource = \"198.51.100.0/33\"\ntarget = \"10.0.0.2:80\"\nduration = 1\n"),
            "scenarios/x.toml:12: flood[0].source: \"198.51.100.0/33\" is not an IPv4 prefix such as "
            "\"198.51.100.0/24\"");
}

// Hostile sizes: every rate has a representable interval and no scenario asks for an endless run.
TEST(ScenarioLoaderErrors, RatesAndCountsAreBounded) {
  EXPECT_EQ(error_with("[[client]]\nhost = \"client1\"\nconnect = \"10.0.0.2:80\"\nrate = 1e-300\ncount = 5\n"),
            "scenarios/x.toml:14: client[0].rate: 1e-300 per second is outside 1e-06 … 10000000");
  EXPECT_EQ(error_with("[[client]]\nhost = \"client1\"\nconnect = \"10.0.0.2:80\"\nrate = 1.0\ncount = 2000000000\n"),
            "scenarios/x.toml:15: client[0].count: 2000000000 is out of range (1..100000000)");
  EXPECT_EQ(error_with("[[flood]]\nsource = \"198.51.100.0/24\"\ntarget = \"10.0.0.2:80\"\nrate = 1e6\n"
                       "duration = \"1000s\"\n"),
            "scenarios/x.toml:15: flood[0].duration: 1000000 SYNs/s for 1000 s is more than 100000000 SYNs");
  EXPECT_EQ(error_with("[[server]]\nhost = \"server\"\nport = 80\naccept = \"rate\"\naccept_rate = 1e9\n"),
            "scenarios/x.toml:15: server[0].accept_rate: 1000000000 per second is outside 1e-06 … 10000000");
}

TEST(ScenarioLoaderErrors, BadDurations) {
  EXPECT_EQ(error_with("[[server]]\nhost = \"server\"\nport = 80\nclose_after = \"5 parsecs\"\n"),
            "scenarios/x.toml:14: server[0].close_after: \"5 parsecs\" is not a duration (use e.g. \"300us\", "
            "\"0.3ms\", \"1.5s\", \"2m\" or seconds)");
  EXPECT_EQ(error_with("[[server]]\nhost = \"server\"\nport = 80\nbanner_delay = \"-7ms\"\n"),
            "scenarios/x.toml:14: server[0].banner_delay: \"-7ms\" is negative (durations must be >= 0)");
  EXPECT_EQ(error_of("[scenario]\nname = \"t\"\nduration = -3\n"),
            "scenarios/x.toml:3: scenario.duration: -3 is negative (durations must be >= 0)");
  EXPECT_EQ(error_of("[scenario]\nname = \"t\"\nlatency = true\n"),
            "scenarios/x.toml:3: scenario.latency: expected a duration such as \"1.5s\" or a number of seconds, "
            "got true");
  EXPECT_EQ(error_with("[[client]]\nhost = \"client1\"\nconnect = \"10.0.0.2:80\"\nat = [\"1s\",\n  \"2x\"]\n"),
            "scenarios/x.toml:15: client[0].at[1]: \"2x\" is not a duration (use e.g. \"300us\", \"0.3ms\", "
            "\"1.5s\", \"2m\" or seconds)");
  EXPECT_EQ(error_of("[scenario]\nname = \"t\"\nstart = \"2019-13-03 22:45:10\"\n"),
            "scenarios/x.toml:3: scenario.start: \"2019-13-03 22:45:10\" is not a UTC date-time (use "
            "\"YYYY-MM-DD HH:MM:SS[.frac]\")");
}

TEST(ScenarioLoaderErrors, SyntaxErrorNamesLine) {
  const std::string msg = error_of("[scenario]\nname = \"t\"\n\n[[host]]\nname = \"a\naddr = \"10.0.0.1\"\n");
  EXPECT_EQ(msg.rfind("scenarios/x.toml:5: syntax error: ", 0), 0u) << msg;
  const std::string dup = error_of("[scenario]\nname = \"t\"\nname = \"u\"\n");
  EXPECT_EQ(dup.rfind("scenarios/x.toml:3: syntax error: ", 0), 0u) << dup;
}

TEST(ScenarioLoaderErrors, QuotesControlCharactersOnOneLine) {
  EXPECT_EQ(error_of("[scenario]\nname = \"t\"\n[[host]]\nname = \"a\"\naddr = \"10.0.0.1\\n\"\n"),
            "scenarios/x.toml:5: host[0].addr: \"10.0.0.1\\n\" is not an IPv4 address");
}

TEST(ScenarioLoaderErrors, MissingFile) {
  try {
    load_scenario_file("/nonexistent/dir/s.toml");
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_EQ(std::string(e.what()), "/nonexistent/dir/s.toml: cannot read scenario file: No such file or directory");
  }
}

// ---- durations --------------------------------------------------------------------------------

TEST(ParseDuration, AcceptsUnits) {
  EXPECT_EQ(parse_duration("0.3ms"), micros(300));
  EXPECT_EQ(parse_duration("300us"), micros(300));
  EXPECT_EQ(parse_duration("300\xc2\xb5s"), micros(300));
  EXPECT_EQ(parse_duration("1.5s"), millis(1500));
  EXPECT_EQ(parse_duration("2m"), seconds(120));
  EXPECT_EQ(parse_duration("1h"), seconds(3600));
  EXPECT_EQ(parse_duration("120"), seconds(120));
  EXPECT_EQ(parse_duration("10ns"), nanos(10));
  EXPECT_EQ(parse_duration("2.09s"), nanos(2'090'000'000));  // exact, no binary rounding
  EXPECT_EQ(parse_duration("5.633s"), millis(5633));
  EXPECT_EQ(parse_duration(".5s"), millis(500));
  EXPECT_EQ(parse_duration(" 7 ms "), millis(7));
  EXPECT_EQ(parse_duration("0"), Duration{0});
  EXPECT_EQ(parse_duration("1.0000000004s"), nanos(1'000'000'000));  // rounds to the nearest ns
  EXPECT_EQ(parse_duration("1.0000000005s"), nanos(1'000'000'001));
}

TEST(ParseDuration, RejectsMalformed) {
  for (const char* bad : {"", "s", "ms", "1.5 parsecs", "1s2", "--1s", "1e3s", "1,5s", "abc", "1S"})
    EXPECT_FALSE(try_parse_duration(bad)) << bad;
  EXPECT_FALSE(try_parse_duration("-1s"));
  EXPECT_FALSE(try_parse_duration("300000000000h"));  // overflows int64 ns
  // Found by fuzz/scenario_fuzzer.cpp: 31 digits of hours overflowed the 128-bit intermediate
  // (undefined behaviour, caught under the sanitizer build); now simply too large.
  EXPECT_FALSE(try_parse_duration("4444444444444444444444444477657h"));
  EXPECT_FALSE(try_parse_duration("18446744073709551616ns"));  // 2^64
  EXPECT_EQ(try_parse_duration("9223372036854775807ns"), Duration{INT64_MAX});
  try {
    parse_duration("-1s");
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "\"-1s\" is negative (durations must be >= 0)");
  }
  try {
    parse_duration("1x");
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(),
                 "\"1x\" is not a duration (use e.g. \"300us\", \"0.3ms\", \"1.5s\", \"2m\" or seconds)");
  }
}

// ---- sport / sweep.clients ---------------------------------------------------------------------

constexpr const char* kClientC1 = "[[client]]\nname = \"c1\"\nhost = \"client1\"\nconnect = \"10.0.0.2:80\"\nat = \"1s\"\n";

TEST(ScenarioLoader, ClientSport) {
  const Scenario sc = load_scenario_text(std::string(kBase) + kClientC1 + "sport = 40000\n", "x.toml");
  ASSERT_EQ(sc.clients.size(), 1u);
  EXPECT_EQ(sc.clients[0].sport, std::optional<std::uint16_t>(40000));
  EXPECT_FALSE(load_scenario_text(std::string(kBase) + kClientC1, "x.toml").clients[0].sport);
  EXPECT_EQ(error_with(std::string(kClientC1) + "sport = 0\n"),
            "scenarios/x.toml:16: client[0].sport: 0 is out of range (1..65535)");
}

TEST(ScenarioLoader, ConnectCloseSport) {
  const std::string cc = "[[connect_close]]\nhost = \"server\"\ntarget = \"10.0.0.1:22\"\n";
  const Scenario sc = load_scenario_text(std::string(kBase) + cc + "sport = 1022\n", "x.toml");
  ASSERT_EQ(sc.connect_close.size(), 1u);
  EXPECT_EQ(sc.connect_close[0].sport, std::optional<std::uint16_t>(1022));
  EXPECT_EQ(error_with(cc + "sport = 70000\n"),
            "scenarios/x.toml:14: connect_close[0].sport: 70000 is out of range (1..65535)");
}

TEST(ScenarioLoader, SweepClients) {
  const Scenario sc =
      load_scenario_text(std::string(kBase) + kClientC1 + "[sweep]\ntrials = 10\nclients = [\"c1\"]\n", "x.toml");
  ASSERT_TRUE(sc.sweep);
  EXPECT_EQ(sc.sweep->clients, std::vector<std::string>{"c1"});
  EXPECT_EQ(error_with(std::string(kClientC1) + "[sweep]\ntrials = 10\nclients = [\"c2\"]\n"),
            "scenarios/x.toml:18: sweep.clients[0]: no client named \"c2\" (did you mean \"c1\"?)");
}

TEST(ScenarioLoader, Variants) {
  const Scenario sc = load_scenario_text(std::string(kBase) +
                                             "[[variant]]\nname = \"4.10\"\nkernel = \"4.10\"\n"
                                             "[[variant]]\nname = \"cookies\"\n"
                                             "sysctl = [\"server:tcp_syncookies=2\", \"tcp_abort_on_overflow=1\"]\n",
                                         "x.toml");
  ASSERT_EQ(sc.variants.size(), 2u);
  EXPECT_EQ(sc.variants[0].name, "4.10");
  EXPECT_EQ(sc.variants[0].kernel, "4.10");
  EXPECT_TRUE(sc.variants[0].sysctls.empty());
  EXPECT_FALSE(sc.variants[1].kernel);
  EXPECT_EQ(sc.variants[1].sysctls,
            (std::vector<std::string>{"server:tcp_syncookies=2", "tcp_abort_on_overflow=1"}));

  EXPECT_EQ(error_with("[[variant]]\nname = \"v\"\nsysctl = [\"srever:tcp_syncookies=2\"]\n"),
            "scenarios/x.toml:13: variant[0].sysctl[0]: no host named \"srever\" (did you mean \"server\"?)");
  EXPECT_EQ(error_with("[[variant]]\nname = \"v\"\nsysctl = [\"tcp_syncookies\"]\n"),
            "scenarios/x.toml:13: variant[0].sysctl[0]: \"tcp_syncookies\" is not NAME=VALUE or HOST:NAME=VALUE "
            "with an integer value");
  EXPECT_EQ(error_with("[[variant]]\nname = \"v\"\nsysctl = [\"tcp_syncookies=on\"]\n"),
            "scenarios/x.toml:13: variant[0].sysctl[0]: \"tcp_syncookies=on\" is not NAME=VALUE or "
            "HOST:NAME=VALUE with an integer value");
  EXPECT_EQ(error_with("[[variant]]\nname = \"v\"\n"),
            "scenarios/x.toml:11: variant[0]: changes nothing (set kernel and/or sysctl)");
  EXPECT_EQ(error_with("[[variant]]\nname = \"v\"\nkernel = \"el6\"\n[[variant]]\nname = \"v\"\nkernel = \"el7\"\n"),
            "scenarios/x.toml:15: variant[1].name: duplicate variant name \"v\"");
}

// Any scenario shipped in scenarios/ must load.
TEST(ScenarioLoader, ShippedScenariosLoad) {
  const std::filesystem::path dir = std::filesystem::path(SYNSCOPE_SOURCE_DIR) / "scenarios";
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << "no scenarios directory";
  int n = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir)) {
    if (f.path().extension() != ".toml") continue;
    ++n;
    EXPECT_NO_THROW({
      try {
        load_scenario_file(f.path().string());
      } catch (const UsageError& e) {
        ADD_FAILURE() << e.what();
        throw;
      }
    }) << f.path();
  }
  if (n == 0) GTEST_SKIP() << "no scenarios yet";
}

}  // namespace
}  // namespace synscope::sim

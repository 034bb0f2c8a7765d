#pragma once
// A simulation scenario: hosts, links, NAT rules, proxies, applications and capture points.
// Loaded from TOML (sim/scenario_loader.h, schema in docs/scenario-schema.md). Plain data only:
// the simulator (sim/simulator.h) gives it behaviour.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/ipv4.h"
#include "core/time.h"

namespace synscope::sim {

struct HostSpec {
  std::string name;
  Ipv4Addr addr;
  std::string kernel;                             // profile name; empty = scenario default
  std::map<std::string, std::int64_t> sysctls;    // net.ipv4.* short names → value
  std::optional<std::uint32_t> ts_clock_at_start; // raw TS clock value at t=0 (before offsets); default random
  std::optional<int> hz;                          // jiffies rate for tick-based TS clocks; default per profile
  std::uint16_t mss = 1460;                       // MSS this host advertises
  std::uint16_t syn_window = 64240;               // window field of its SYN / SYN-ACK
  std::uint16_t synack_window = 0;                // 0 = same as syn_window
  std::uint8_t wscale = 7;
  std::uint16_t window = 502;                     // scaled window field once established
  int line_no = 0;                                // where it was declared, for messages
};

struct LinkSpec {
  std::string a, b;    // host names
  Duration latency{};  // one way
};

struct DnatRule {              // iptables -t nat PREROUTING -d <match_daddr> --dport <match_dport> -j DNAT --to <to>
  std::optional<Ipv4Addr> match_daddr;
  std::uint16_t match_dport = 0;
  Endpoint to;
};
struct SnatRule {              // iptables -t nat POSTROUTING -d <match_daddr> --dport <match_dport> -j SNAT --to <to>
  std::optional<Ipv4Addr> match_daddr;
  std::uint16_t match_dport = 0;  // 0 = any
  Ipv4Addr to;
};
struct NatSpec {
  std::string host;  // the box doing NAT (it is also a host with its own stack)
  std::vector<DnatRule> dnat;
  std::vector<SnatRule> snat;
};

enum class AcceptMode { Immediate, Stalled, Rate };

struct ServerAppSpec {
  std::string host;
  std::uint16_t port = 0;
  int backlog = 128;                      // argument to listen(); capped by somaxconn (§6.1)
  AcceptMode accept = AcceptMode::Immediate;
  double accept_rate = 0;                 // accepts per second, AcceptMode::Rate
  std::optional<Duration> close_after;    // server closes first this long after accept
  std::string banner;                     // bytes written right after accept (e.g. an SSH banner)
  Duration banner_delay{};
  Duration eof_close_delay{};             // time between reading the peer's FIN and close()
};

struct ClientAppSpec {
  std::string name;                       // label used in reports; default = host name
  std::string host;
  Endpoint connect_to;
  std::vector<Duration> at;               // explicit connect times
  double rate = 0;                        // or: connections per second ...
  int count = 0;                          // ... this many, starting at `start`
  Duration start{};
  std::optional<Duration> close_after;    // client closes first this long after established
  std::optional<int> syn_retries;         // per-socket TCP_SYNCNT
  std::optional<std::uint16_t> sport;     // fixed source port (one connection at a time); default ephemeral
};

// The seed's telnet step: `host` connects to `target`, reads what it is sent, and closes first.
struct ConnectCloseSpec {
  std::string host;
  Endpoint target;
  Duration at{};
  Duration close_after{};
  std::optional<std::uint16_t> sport;     // fixed source port; default ephemeral
};

// An L7 proxy (the seed's nginx): terminates client connections on `listen_port` and opens its own
// upstream connection from its own address and TS clock for each.
struct ProxySpec {
  std::string host;
  std::uint16_t listen_port = 0;
  Endpoint upstream;
  int backlog = 511;
};

// Spoofed SYN flood: SYNs from random addresses in a prefix that never answer.
struct FloodSpec {
  Ipv4Addr source_net;
  int source_prefix = 24;
  Endpoint target;
  double rate = 1000;  // SYNs per second
  Duration start{};
  Duration duration{};
  bool timestamps = true;
};

struct CaptureSpec {
  std::string host;  // capture point: every segment this host sends or receives
  std::string name;  // output file stem; default = host name
};

// Many clients behind one NAT with random TS clocks, after a server-side close (seed 003's claim).
struct SweepSpec {
  int trials = 0;
  std::vector<std::string> clients;  // client names whose attempts are counted (default: all)
};

// A what-if run of the same scenario with another kernel and/or sysctls; `synscope sim` runs the
// base scenario and every variant and compares them.
struct VariantSpec {
  std::string name;
  std::optional<std::string> kernel;   // override every host's kernel
  std::vector<std::string> sysctls;    // "name=value" (all hosts) or "host:name=value"
};

// How `synscope lab` runs the scenario on the real kernel (docs/lab.md): the lab runs in real time,
// so it usually needs a shorter span; and it may run without a sysctl the running kernel lacks.
struct LabSpec {
  std::optional<Duration> duration;     // replaces `duration` for the lab (and its simulation)
  std::vector<std::string> without;     // sysctls the lab may drop when the kernel lacks them
};

struct Scenario {
  std::string name;
  std::string description;
  std::string source;  // file name or "builtin:<name>", used in messages
  std::uint64_t seed = 1;
  WallTime start{};    // wall clock at t=0
  Duration duration = seconds(120);
  std::string default_kernel = "el7";
  std::vector<HostSpec> hosts;
  std::vector<LinkSpec> links;
  Duration default_latency = micros(300);
  std::vector<NatSpec> nats;
  std::vector<ServerAppSpec> servers;
  std::vector<ClientAppSpec> clients;
  std::vector<ConnectCloseSpec> connect_close;
  std::vector<ProxySpec> proxies;
  std::vector<FloodSpec> floods;
  std::vector<CaptureSpec> captures;
  std::optional<SweepSpec> sweep;
  std::vector<VariantSpec> variants;
  std::optional<LabSpec> lab;
  std::vector<std::string> notes;  // free text shown with the explanation
};

}  // namespace synscope::sim

#include "lab/topology.h"

#include <fmt/format.h>
#include <sys/utsname.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "capture/pcap_writer.h"
#include "model/kernel_profile.h"
#include "model/sysctls.h"

namespace synscope::lab {
namespace {

constexpr const char* kFloodMac = "02:ff:00:00:00:01";
constexpr const char* kFloodNextHop = "169.254.255.1";

std::string mac_text(Ipv4Addr a) {
  auto m = capture::mac_for(a);
  return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5]);
}

std::string full_sysctl_name(const std::string& name) {
  if (name.find('.') != std::string::npos) return name;
  for (const auto& info : model::known_sysctls())
    if (info.name == name) return std::string(info.full_name);
  return "net.ipv4." + name;
}

std::string short_sysctl_name(const std::string& name) {
  for (const char* p : {"net.ipv4.", "net.core."})
    if (name.rfind(p, 0) == 0) return name.substr(std::string(p).size());
  return name;
}

// Inside a namespace: "path=value" lines in, "path ok|missing|error:..." lines out.
std::string write_sysctls(const std::vector<std::pair<std::string, std::int64_t>>& items) {
  std::string out;
  for (const auto& [path, value] : items) {
    if (!std::filesystem::exists(path)) {
      out += path + " missing\n";
      continue;
    }
    std::ofstream f(path);
    f << value << "\n";
    f.flush();
    out += path + (f ? " ok\n" : " error\n");
  }
  return out;
}

std::string read_sysctls(const std::vector<std::string>& paths) {
  std::string out;
  for (const auto& path : paths) {
    std::ifstream f(path);
    std::int64_t v;
    if (f >> v) out += fmt::format("{} {}\n", path, v);
  }
  return out;
}

}  // namespace

std::string sysctl_path(const std::string& name) {
  std::string p = "/proc/sys/" + full_sysctl_name(name);
  std::replace(p.begin() + 10, p.end(), '.', '/');
  return p;
}

NetnsSet::~NetnsSet() {
  for (auto it = names_.rbegin(); it != names_.rend(); ++it) remove_netns(*it);
}

void NetnsSet::create(const std::string& name) {
  run_tool_checked({"ip", "netns", "add", name});
  names_.push_back(name);
}

LabTopology::LabTopology(const sim::Scenario& sc, NetnsPrefix prefix) : prefix_(std::move(prefix)) {
  // The bridge: every host's veth ends here. It has no uplink, so traffic never leaves the lab.
  bridge_netns_ = prefix_.name("bridge");
  owned_.create(bridge_netns_);
  run_tool_checked({"ip", "-n", bridge_netns_, "link", "add", "br0", "type", "bridge"});
  run_tool_checked({"ip", "-n", bridge_netns_, "link", "set", "br0", "up"});

  for (const auto& h : sc.hosts) {
    const std::string ns = prefix_.name("h-" + h.name);
    owned_.create(ns);
    host_netns_[h.name] = ns;
    add_port(ns, fmt::format("p{}", ports_++), mac_text(h.addr));
    run_tool_checked({"ip", "-n", ns, "addr", "add", h.addr.str() + "/32", "dev", kInterface});
    // Every address is on-link: hosts reach each other by the scenario's addresses over the bridge.
    run_tool_checked({"ip", "-n", ns, "route", "add", "default", "dev", kInterface});
  }
  if (!sc.floods.empty()) {
    // Spoofed sources have no host: the flood namespace has no address; it knows the targets'
    // MACs statically, and the SYN-ACKs to its spoofed sources find no one (ARP fails).
    flood_netns_ = prefix_.name("flood");
    owned_.create(flood_netns_);
    add_port(flood_netns_, fmt::format("p{}", ports_++), kFloodMac);
    run_tool_checked({"ip", "-n", flood_netns_, "route", "add", "default", "dev", kInterface});
    for (const auto& f : sc.floods)
      run_tool({"ip", "-n", flood_netns_, "neigh", "replace", f.target.addr.str(), "lladdr", mac_text(f.target.addr),
                "dev", kInterface, "nud", "permanent"});
    // The target routes the spoofed prefix back to the flood namespace (a link-local next hop with
    // a static MAC), so its SYN-ACKs appear on its wire (the capture, and analyze's view of the SYN
    // queue) instead of waiting on ARP; the flood namespace, which forwards nothing, drops them.
    for (const auto& f : sc.floods)
      for (const auto& [host, ns] : host_netns_)
        // `name` rather than the binding itself in the lambda: clang before 16 cannot capture a structured binding.
        if (const auto& name = host; std::any_of(sc.hosts.begin(), sc.hosts.end(),
                                                 [&](const auto& h) { return h.name == name && h.addr == f.target.addr; })) {
          run_tool_checked({"ip", "-n", ns, "neigh", "replace", kFloodNextHop, "lladdr", kFloodMac, "dev", kInterface,
                            "nud", "permanent"});
          run_tool({"ip", "-n", ns, "route", "replace", fmt::format("{}/{}", f.source_net.str(), f.source_prefix), "via",
                    kFloodNextHop, "dev", kInterface, "onlink"});
        }
  }
  for (const auto& h : sc.hosts) apply_sysctls(sc, h);
  for (const auto& n : sc.nats) apply_nat(n);
  apply_latency(sc);
}

void LabTopology::add_port(const std::string& netns, const std::string& port, const std::string& mac) {
  run_tool_checked({"ip", "-n", bridge_netns_, "link", "add", port, "type", "veth", "peer", "name", kInterface,
                    "netns", netns});
  run_tool_checked({"ip", "-n", bridge_netns_, "link", "set", port, "master", "br0", "up"});
  run_tool_checked({"ip", "-n", netns, "link", "set", kInterface, "address", mac, "up"});
  run_tool_checked({"ip", "-n", netns, "link", "set", "lo", "up"});
}

void LabTopology::apply_sysctls(const sim::Scenario& sc, const sim::HostSpec& h) {
  const std::string& ns = host_netns_.at(h.name);
  std::vector<std::pair<std::string, std::int64_t>> items;
  std::vector<std::string> names;
  for (const auto& [name, value] : h.sysctls) {
    items.emplace_back(sysctl_path(name), value);
    names.push_back(name);
  }
  std::istringstream res(run_in_netns(ns, [&] { return write_sysctls(items); }));
  std::string path, status;
  utsname u{};
  ::uname(&u);
  std::string release = u.release;
  const auto* named = model::try_find_profile(release.substr(0, release.find('.', release.find('.') + 1)));
  const auto& profile = named ? *named : model::newest_profile();
  for (std::size_t i = 0; res >> path >> status; ++i) {
    AppliedSysctl a{h.name, short_sysctl_name(names[i]), items[i].second, status == "missing", ""};
    if (status == "error") throw LabError(fmt::format("host {}: cannot set {}={}", h.name, names[i], items[i].second));
    if (a.missing) {
      a.why = sysctl_unavailable_reason(profile, a.name).value_or("");
      const bool allowed = sc.lab && std::find(sc.lab->without.begin(), sc.lab->without.end(), a.name) != sc.lab->without.end();
      const std::string what = fmt::format("{} does not exist on this kernel{}", a.name, a.why.empty() ? "" : " (" + a.why + ")");
      if (a.value != 0 && !allowed)
        throw LabUnavailable(fmt::format("host {}: the scenario sets {}={}, but {}; the scenario depends on it "
                                         "(add it to [lab] without = [...] to run without it)",
                                         h.name, a.name, a.value, what));
      std::string consequence;
      if (a.name == "tcp_tw_recycle" && a.value != 0)
        consequence = " So there is no per-host PAWS check on SYNs (§7.7): nothing compares a SYN's TSval with an "
                      "earlier connection's from the same address, and a SYN from behind a NAT is not dropped for a TS "
                      "clock that is behind (the seed's drop needs tcp_tw_recycle=1, kernels before 4.12).";
      notes_.push_back(fmt::format("host {}: {}: the lab runs without {}={}.{}", h.name, what, a.name, a.value, consequence));
    }
    sysctls_.push_back(std::move(a));
  }
  // What the namespace really has, for the simulation (a new namespace starts from the kernel's
  // compiled-in defaults, §6.1, not the parent's values).
  std::vector<std::string> paths;
  for (const auto& info : model::known_sysctls()) paths.push_back(sysctl_path(std::string(info.full_name)));
  std::istringstream eff(run_in_netns(ns, [&] { return read_sysctls(paths); }));
  std::int64_t v;
  while (eff >> path >> v) {
    for (const auto& info : model::known_sysctls())
      if (sysctl_path(std::string(info.full_name)) == path) effective_[h.name][std::string(info.name)] = v;
  }
}

void LabTopology::apply_nat(const sim::NatSpec& nat) {
  const std::string& ns = host_netns_.at(nat.host);
  run_in_netns(ns, [] {
    return write_sysctls({{"/proc/sys/net/ipv4/ip_forward", 1},
                          {"/proc/sys/net/ipv4/conf/all/send_redirects", 0},
                          {"/proc/sys/net/ipv4/conf/eth0/send_redirects", 0}});
  });
  // The seed's iptables rules (seed-experiments.md), as one nftables table.
  std::string rules = "table ip synscope_lab {\n  chain prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n";
  for (const auto& d : nat.dnat) {
    rules += "    ";
    if (d.match_daddr) rules += "ip daddr " + d.match_daddr->str() + " ";
    rules += fmt::format("tcp dport {} dnat to {}\n", d.match_dport, d.to.port ? d.to.str() : d.to.addr.str());
  }
  rules += "  }\n  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n";
  for (const auto& s : nat.snat) {
    rules += "    ";
    if (s.match_daddr) rules += "ip daddr " + s.match_daddr->str() + " ";
    if (s.match_dport) rules += fmt::format("tcp dport {} ", s.match_dport);
    else rules += "meta l4proto tcp ";
    rules += "snat to " + s.to.str() + "\n";
  }
  rules += "  }\n}\n";
  run_tool_checked({"ip", "netns", "exec", ns, "nft", "-f", "-"}, rules);
}

void LabTopology::apply_latency(const sim::Scenario& sc) {
  // One-way latency as an egress delay on every host. §17: this kernel has no sch_netem, so this
  // usually fails; the lab then runs at veth speed (tens of µs), which changes no outcome here.
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(sc.default_latency).count();
  if (us <= 0 || sc.hosts.empty()) return;
  const std::string& first = host_netns_.at(sc.hosts.front().name);
  ToolResult r = run_tool({"ip", "netns", "exec", first, "tc", "qdisc", "add", "dev", kInterface, "root", "netem",
                           "delay", fmt::format("{}us", us)});
  if (r.status != 0) {
    notes_.push_back(fmt::format("latency {} µs not applied: `tc netem` is not available on this kernel (no sch_netem, §17)", us));
    return;
  }
  latency_applied_ = true;
  for (std::size_t i = 1; i < sc.hosts.size(); ++i)
    run_tool({"ip", "netns", "exec", host_netns_.at(sc.hosts[i].name), "tc", "qdisc", "add", "dev", kInterface, "root",
              "netem", "delay", fmt::format("{}us", us)});
  if (!sc.links.empty()) notes_.push_back("per-link latencies ([[link]]) are not reproduced: every host gets the default latency");
}

std::vector<std::string> cleanup_leftovers(bool include_live_runs) {
  auto names = leftover_lab_netns(include_live_runs);
  for (const auto& n : names) remove_netns(n);
  return names;
}

}  // namespace synscope::lab

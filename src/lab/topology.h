#pragma once
// A scenario's hosts on the real kernel: one network namespace per host, all joined to a bridge
// that lives in its own namespace (no uplink: nothing the lab sends can leave), a NAT host with an
// nftables table translated from [[nat]], and a namespace for spoofed SYN floods. Everything is
// removed when the LabTopology goes away (deleting a namespace deletes its veths and nft tables).
#include <map>
#include <string>
#include <vector>

#include "lab/netns.h"
#include "sim/scenario.h"

namespace synscope::lab {

// Owns a set of namespaces: deletes them, newest first, when destroyed.
class NetnsSet {
 public:
  NetnsSet() = default;
  ~NetnsSet();
  NetnsSet(const NetnsSet&) = delete;
  NetnsSet& operator=(const NetnsSet&) = delete;
  void create(const std::string& name);  // `ip netns add`; owned from then on
  const std::vector<std::string>& names() const { return names_; }

 private:
  std::vector<std::string> names_;
};

// One sysctl as the lab applied it in a host's namespace.
struct AppliedSysctl {
  std::string host;
  std::string name;      // short name, as in the scenario
  std::int64_t value = 0;
  bool missing = false;  // the running kernel has no such sysctl
  std::string why;       // for a missing one: the model's reason ("removed in 4.12"), if it knows one
};

class LabTopology {
 public:
  // Builds everything; throws LabError (a step failed) or LabUnavailable (the scenario needs a sysctl
  // this kernel lacks and does not allow the lab to drop it, `[lab] without`).
  LabTopology(const sim::Scenario& scenario, NetnsPrefix prefix);

  const std::string& netns_of(const std::string& host) const { return host_netns_.at(host); }
  const std::string& flood_netns() const { return flood_netns_; }
  const std::vector<AppliedSysctl>& sysctls() const { return sysctls_; }
  // Every model-known sysctl of each host's namespace as the kernel reports it after setup.
  const std::map<std::string, std::map<std::string, std::int64_t>>& effective_sysctls() const { return effective_; }
  const std::vector<std::string>& notes() const { return notes_; }
  const NetnsPrefix& prefix() const { return prefix_; }
  // Whether the scenario's latency could be applied (`tc netem`); if not, hosts talk at veth speed.
  bool latency_applied() const { return latency_applied_; }
  static constexpr const char* kInterface = "eth0";  // every host's interface, inside its namespace

 private:
  void add_port(const std::string& netns, const std::string& port, const std::string& mac);
  void apply_sysctls(const sim::Scenario& sc, const sim::HostSpec& h);
  void apply_nat(const sim::NatSpec& nat);
  void apply_latency(const sim::Scenario& sc);

  NetnsPrefix prefix_;
  NetnsSet owned_;  // declared before everything that refers to the namespaces
  std::string bridge_netns_;
  std::string flood_netns_;
  int ports_ = 0;
  bool latency_applied_ = false;
  std::map<std::string, std::string> host_netns_;
  std::vector<AppliedSysctl> sysctls_;
  std::map<std::string, std::map<std::string, std::int64_t>> effective_;
  std::vector<std::string> notes_;
};

// /proc/sys path of a sysctl given by its short or full name ("tcp_syncookies", "somaxconn").
std::string sysctl_path(const std::string& name);

// Removes the namespaces of lab runs whose process is gone (or all lab namespaces); returns them.
std::vector<std::string> cleanup_leftovers(bool include_live_runs);

}  // namespace synscope::lab

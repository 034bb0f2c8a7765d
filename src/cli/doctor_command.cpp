// `synscope doctor`: diagnose this host's (or a network namespace's, or a support bundle's) listen
// path from the kernel's own numbers; `synscope collect -o FILE` saves those numbers as a bundle.
// Thin: parse the arguments, call live::, print. Exit 0 when the input was read, 2 on bad input.
#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/error.h"
#include "live/bundle.h"
#include "live/findings.h"
#include "live/snapshot.h"
#include "live/trace/trace_findings.h"

namespace synscope::cli {
namespace {

struct DoctorArgs {
  std::string netns;
  double interval = 5;
  std::string from;
  bool json = false;
  std::string trace;  // --trace D: also trace SYNs for D (docs/trace.md)
  bool all_listeners = false;
  std::string owners = "auto";
};

// auto: every listener's owners for --json and --all-listeners (complete data), otherwise only the
// listeners the text shows (the /proc/*/fd scan is the doctor's most expensive step at scale).
live::OwnerLookup owner_lookup(const std::string& choice, bool complete) {
  if (choice == "all") return live::OwnerLookup::All;
  if (choice == "shown") return live::OwnerLookup::Shown;
  if (choice == "none") return live::OwnerLookup::None;
  return complete ? live::OwnerLookup::All : live::OwnerLookup::Shown;
}

void check_interval(double interval) {
  if (interval < 0 || interval > 3600) throw UsageError(fmt::format("--interval {}: expected 0 … 3600 seconds", interval));
}

int run_doctor(const DoctorArgs& a) {
  live::HostSnapshot snap;
  std::unique_ptr<live::trace::TraceWindow> traced;  // --trace: runs while the samples are taken
  if (!a.from.empty()) {
    if (!a.netns.empty()) throw UsageError("--from and --netns do not go together: a bundle is already one namespace");
    if (!a.trace.empty()) throw UsageError("--trace traces this host live: it does not go with --from");
    snap = live::read_bundle(a.from);
  } else {
    check_interval(a.interval);
    if (!a.trace.empty()) traced = std::make_unique<live::trace::TraceWindow>(a.trace, a.netns);
    snap = live::take_snapshot({a.netns, a.interval, owner_lookup(a.owners, a.json || a.all_listeners)});
  }
  auto d = live::diagnose(snap);
  if (traced) live::trace::add_finding(d, traced->finish());
  if (a.json) std::cout << live::render_doctor_json(snap, d).dump(2) << '\n';
  else std::cout << live::render_doctor_text(snap, d, a.all_listeners);
  return 0;
}

struct CollectArgs {
  std::string out;
  std::string netns;
  double interval = 5;
};

int run_collect(const CollectArgs& a) {
  check_interval(a.interval);
  auto snap = live::take_snapshot({a.netns, a.interval, live::OwnerLookup::All});
  live::write_bundle(a.out, snap);
  std::cerr << fmt::format("synscope collect: wrote {} ({} listeners, {} counter samples{})\n", a.out,
                           snap.listeners.size(), snap.samples.size(),
                           snap.unreadable.empty() ? "" : "; some things could not be read, see the manifest");
  return 0;
}

}  // namespace

Command add_doctor_command(CLI::App& app) {
  auto args = std::make_shared<DoctorArgs>();
  auto* cmd = app.add_subcommand("doctor", "diagnose why this host may be dropping SYNs, from its live counters, "
                                           "sysctls and listeners (or a support bundle)");
  cmd->add_option("--netns", args->netns, "inspect the network namespace /run/netns/NAME (needs root)");
  cmd->add_option("--interval", args->interval, "seconds between the two counter samples; 0 for one sample")
      ->capture_default_str();
  cmd->add_option("--from", args->from, "diagnose a bundle written by `synscope collect` instead of this host");
  cmd->add_flag("--json", args->json, "print the diagnosis as JSON (schema synscope.doctor/1)");
  cmd->add_option("--trace", args->trace, "also trace every SYN for this long (5s, 500ms) with eBPF and report the "
                                         "drops by cause as a finding (synscope trace; needs root and BTF)");
  cmd->add_flag("--all-listeners", args->all_listeners,
                fmt::format("list every listener (above {} only the notable ones are listed)", live::kShowAllListenersUpTo));
  cmd->add_option("--owners", args->owners,
                  "whose owning processes to look up in /proc/*/fd: auto (the listeners shown; all with --json or "
                  "--all-listeners), shown, all, none")
      ->check(CLI::IsMember({"auto", "shown", "all", "none"}))
      ->capture_default_str();
  return {cmd, [args] { return run_doctor(*args); }};
}

Command add_collect_command(CLI::App& app) {
  auto args = std::make_shared<CollectArgs>();
  auto* cmd = app.add_subcommand("collect", "write a support bundle (release, sysctls, two counter samples, "
                                            "listeners) for `synscope doctor --from`");
  cmd->add_option("-o,--out", args->out, "bundle file to write (tar.gz)")->required();
  cmd->add_option("--netns", args->netns, "collect from the network namespace /run/netns/NAME (needs root)");
  cmd->add_option("--interval", args->interval, "seconds between the two counter samples; 0 for one sample")
      ->capture_default_str();
  return {cmd, [args] { return run_collect(*args); }};
}

}  // namespace synscope::cli

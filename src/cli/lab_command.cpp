// `synscope lab SCENARIO...`: reproduce scenarios on the real kernel in network namespaces and hold
// the model to them (src/lab/, docs/lab.md). Thin: parse the arguments, call lab::run_lab(), print
// the side-by-side tables. Exit 0 when the model agrees, 1 when it disagrees or a run failed,
// 2 when the lab cannot run here (not root, no netns, a sysctl the scenario needs is missing),
// 130 when interrupted.
#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>

#include "cli/commands.h"
#include "core/error.h"
#include "lab/lab_run.h"
#include "lab/lab_scenarios.h"
#include "lab/netns.h"
#include "lab/topology.h"
#include "report/builders.h"
#include "sim/scenario_loader.h"

namespace synscope::cli {
namespace {

struct LabArgs {
  std::vector<std::string> scenarios;
  std::string out_dir;
  bool keep_going = false;
  bool cleanup = false;
  bool list = false;
  std::string html;
};

sim::Scenario load(const std::string& name) {
  if (std::filesystem::exists(name)) return sim::load_scenario_file(name);
  if (const auto* s = lab::find_lab_scenario(name)) return sim::load_scenario_text(s->toml, "lab:" + std::string(s->name));
  throw UsageError(fmt::format("no lab scenario or file named \"{}\" (see synscope lab --list)", name));
}

// The lab's server capture, analysed like `synscope analyze` would, plus the comparison with the model.
void write_lab_html(const lab::LabReport& lab, const std::string& path) {
  report::Report analysed;
  if (!lab.captures.empty()) {
    auto source = analyze::PacketSource::open(lab.captures.front(), {});
    report::AnalysisCollector collector([&source](const capture::IpAddress& x) { return source.display(x); });
    analyze::AnalysisOptions opt;
    opt.on_attempt = [&collector](const analyze::Attempt& at) { collector.add(at); };
    auto result = analyze::analyze_source(source, opt);
    analysed = collector.finish(result);
  }
  auto rep = report::from_lab(lab, std::move(analysed));
  report::write_html(rep, path);
  std::cerr << "wrote " << path << "\n";
}

int run_lab_command(const LabArgs& a) {
  if (a.list) {
    for (const auto& s : lab::lab_scenarios()) {
      auto sc = sim::load_scenario_text(s.toml, "lab:" + std::string(s.name));
      std::cout << fmt::format("{:<28} {}\n", s.name, sc.description);
    }
    return 0;
  }
  if (!a.html.empty()) {
    if (a.scenarios.size() != 1 || a.scenarios[0] == "all") throw UsageError("--html draws one lab run: name exactly one scenario");
    report::check_html_path(a.html);
  }
  if (auto why = lab::lab_unavailable_reason(); !why.empty()) {
    std::cerr << "synscope lab: " << why << "\n";
    return 2;
  }
  if (a.cleanup) {
    auto removed = lab::cleanup_leftovers(false);
    std::cout << fmt::format("synscope lab: removed {} leftover namespace(s){}\n", removed.size(), removed.empty() ? "" : ":");
    for (const auto& n : removed) std::cout << "  " << n << "\n";
    if (a.scenarios.empty()) return 0;
  }
  if (a.scenarios.empty()) {
    std::cerr << "synscope lab: name a scenario (synscope lab --list)\n";
    return 2;
  }
  std::vector<std::string> names;
  for (const auto& s : a.scenarios) {
    if (s == "all")
      for (const auto& l : lab::lab_scenarios()) names.emplace_back(l.name);
    else
      names.push_back(s);
  }
  lab::install_lab_signal_handlers();
  int worst = 0;
  for (const auto& name : names) {
    sim::Scenario sc = load(name);  // a bad file is a usage error (exit 2), before anything is built
    lab::LabOptions o;
    std::string tmp;
    if (a.out_dir.empty()) {
      std::string t = (std::filesystem::temp_directory_path() / "synscope-lab-XXXXXX").string();
      if (!::mkdtemp(t.data())) throw std::runtime_error("mkdtemp failed");
      tmp = t;
      o.out_dir = t;
    } else {
      o.out_dir = names.size() > 1 ? (std::filesystem::path(a.out_dir) / sc.name).string() : a.out_dir;
    }
    o.progress = [](const std::string& s) { std::cerr << "synscope lab: " << s << "\n"; };
    int status = 0;
    try {
      auto report = lab::run_lab(sc, o);
      std::cout << report.text();
      if (!a.out_dir.empty())
        for (const auto& c : report.captures) std::cout << "capture: " << c << "\n";
      if (!a.html.empty()) write_lab_html(report, a.html);
      status = report.agrees() ? 0 : 1;
    } catch (const lab::LabInterrupted& e) {
      std::cerr << "synscope lab: " << e.what() << "\n";
      if (!tmp.empty()) std::filesystem::remove_all(tmp);
      return 130;
    } catch (const lab::LabUnavailable& e) {
      std::cerr << "synscope lab: " << sc.name << ": " << e.what() << "\n";
      status = 2;
    } catch (const lab::LabError& e) {
      std::cerr << "synscope lab: " << sc.name << ": " << e.what() << "\n";
      status = 1;
    }
    if (!tmp.empty()) std::filesystem::remove_all(tmp);
    worst = std::max(worst, status);
    if (status != 0 && !a.keep_going) return status;
  }
  return worst;
}

}  // namespace

Command add_lab_command(CLI::App& app) {
  auto args = std::make_shared<LabArgs>();
  CLI::App* cmd = app.add_subcommand("lab", "Reproduce scenarios on the real kernel in network namespaces and compare with the model (needs root)");
  cmd->add_option("scenario", args->scenarios, "Lab scenario name (see --list), \"all\", or a scenario TOML file");
  cmd->add_option("-o,--output", args->out_dir, "Write captures (<capture>.pcap) to this directory");
  cmd->add_flag("--keep-going", args->keep_going, "With several scenarios, run the rest after one fails or disagrees");
  cmd->add_flag("--cleanup", args->cleanup, "Remove namespaces left behind by lab runs that are no longer running");
  cmd->add_flag("--list", args->list, "List the lab scenarios");
  cmd->add_option("--html", args->html, "Also write a self-contained HTML report of the run to FILE");
  return Command{cmd, [args] { return run_lab_command(*args); }};
}

}  // namespace synscope::cli

// synscope: the command-line front-end. Thin by design: parse arguments, call the library, print.
// Exit codes: 0 success, 2 bad input (unknown scenario/profile/sysctl, malformed file).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fmt/format.h>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/error.h"
#include "model/explain_chain.h"
#include "model/kernel_profile.h"
#include "model/sysctls.h"
#include "report/builders.h"
#include "sim/builtin_scenarios.h"
#include "sim/scenario_loader.h"
#include "sim/sim_report.h"
#include "sim/simulator.h"
#include "sim/sweep.h"

namespace {

using namespace synscope;

constexpr const char* kDefaultScenario = "seed-nat-recycle-server-close";

sim::Scenario load(const std::string& what) {
  if (const auto* b = sim::find_builtin(what)) return sim::load_scenario_text(b->toml, "builtin:" + std::string(b->name));
  if (std::filesystem::exists(what)) return sim::load_scenario_file(what);
  std::string names;
  for (const auto& s : sim::builtin_scenarios()) names += (names.empty() ? "" : ", ") + std::string(s.name);
  throw UsageError(fmt::format("no built-in scenario or file named '{}' (built-in: {})", what, names));
}

struct SimArgs {
  std::string scenario = kDefaultScenario;
  bool list = false;
  bool json = false;
  bool verbose = false;
  bool no_variants = false;
  std::string out_dir;
  std::string kernel;
  std::vector<std::string> sysctls;
  std::optional<std::uint64_t> seed;
  std::string html;  // --html FILE: the self-contained HTML report (src/report/)
};

int run_sim(const SimArgs& a) {
  if (a.list) {
    for (const auto& b : sim::builtin_scenarios()) {
      auto sc = sim::load_scenario_text(b.toml, "builtin:" + std::string(b.name));
      fmt::print("{:<32} {}{}\n", b.name, sc.description, b.name == kDefaultScenario ? " (default)" : "");
    }
    return 0;
  }
  if (!a.html.empty()) report::check_html_path(a.html);
  sim::Scenario sc = load(a.scenario);
  if (sc.sweep && !a.html.empty())
    throw UsageError(fmt::format("--html: {} is a sweep of {} trials; the report draws one run (pick a scenario without [sweep])", sc.name, sc.sweep->trials));
  sim::SimOptions opt;
  if (!a.kernel.empty()) opt.kernel = a.kernel;
  opt.sysctls = a.sysctls;
  opt.seed = a.seed;
  if (sc.sweep) {
    auto r = sim::run_sweep(sc, opt);
    if (a.json) {
      nlohmann::json j = {{"schema", "synscope.sweep/1"}, {"scenario", sc.name}, {"trials", r.trials},
                          {"attempts", r.attempts}, {"first_syn_dropped", r.first_syn_dropped},
                          {"never_connected", r.never_connected}, {"fraction", r.fraction},
                          {"ci95", {r.ci_low, r.ci_high}}, {"mean_delay_s", to_seconds(r.mean_delay)}};
      std::cout << j.dump(2) << '\n';
    } else {
      std::cout << sim::render_sweep(sc, r);
    }
    return 0;
  }
  std::vector<sim::VariantRun> runs;
  sim::SimOptions base_opt = opt;
  base_opt.queue_samples = !a.html.empty();  // the report's queue-depth plot
  runs.push_back({a.kernel.empty() ? "base" : "base (--kernel " + a.kernel + ")", sim::simulate(sc, base_opt)});
  if (!a.no_variants && a.kernel.empty()) {
    for (const auto& v : sc.variants) {
      sim::SimOptions vo = opt;
      vo.kernel = v.kernel;
      vo.sysctls.insert(vo.sysctls.end(), v.sysctls.begin(), v.sysctls.end());
      runs.push_back({v.name, sim::simulate(sc, vo)});
    }
  }
  if (!a.out_dir.empty()) {
    for (std::size_t i = 0; i < runs.size(); ++i) {
      std::string dir = i == 0 ? a.out_dir : a.out_dir + "/variant-" + std::to_string(i);
      for (const auto& path : sim::write_outputs(runs[i].result, dir)) std::cerr << "wrote " << path << '\n';
    }
  }
  if (!a.html.empty()) {
    auto rep = report::from_sim(runs);
    report::write_html(rep, a.html);
    std::cerr << "wrote " << a.html << '\n';
  }
  if (a.json) {
    nlohmann::json j = sim::render_json(runs[0].result);
    if (runs.size() > 1) {
      j["variants"] = nlohmann::json::array();
      for (std::size_t i = 1; i < runs.size(); ++i) {
        auto vj = sim::render_json(runs[i].result);
        vj["variant"] = runs[i].name;
        j["variants"].push_back(std::move(vj));
      }
    }
    std::cout << j.dump(2) << '\n';
    return 0;
  }
  sim::TextOptions to;
  to.verbose = a.verbose;
  std::cout << sim::render_text(runs[0].result, to);
  if (runs.size() > 1) {
    std::cout << "\nVariants (same scenario, other kernel or sysctls):\n" << sim::render_variant_table(runs);
    for (std::size_t i = 1; i < runs.size(); ++i)
      std::cout << "\nWhy, " << runs[i].name << ":\n" << sim::render_explanation(runs[i].result);
  }
  return 0;
}

int run_explain(const std::string& kernel, const std::vector<std::string>& sysctls, int backlog) {
  const auto& p = model::find_profile(kernel);
  auto s = model::Sysctls::defaults_for(p);
  for (const auto& kv : sysctls) s.set_assignment(p, kv);
  std::cout << model::explain_chain(p, s, backlog);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"synscope: why clients keep retransmitting SYNs and the server never answers"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "synscope 0.1.0");

  SimArgs sim_args;
  auto* sim_cmd = app.add_subcommand("sim", "simulate a scenario (default: the seed's NAT + tw_recycle experiment)");
  sim_cmd->add_option("scenario", sim_args.scenario, "built-in scenario name or TOML file")->capture_default_str();
  sim_cmd->add_flag("--list", sim_args.list, "list the built-in scenarios");
  sim_cmd->add_option("--kernel", sim_args.kernel, "run every host with this kernel profile");
  sim_cmd->add_option("--sysctl", sim_args.sysctls, "NAME=VALUE for every host, or HOST:NAME=VALUE (repeatable)");
  sim_cmd->add_option("--seed", sim_args.seed, "override the scenario's random seed");
  sim_cmd->add_option("-o,--out", sim_args.out_dir, "write pcap, tcpdump text and result.json per capture point here");
  sim_cmd->add_flag("--json", sim_args.json, "print the result as JSON");
  sim_cmd->add_option("--html", sim_args.html, "also write a self-contained HTML report with the pictures to FILE");
  sim_cmd->add_flag("-v,--verbose", sim_args.verbose, "print every packet, verdict and attempt");
  sim_cmd->add_flag("--no-variants", sim_args.no_variants, "run only the base scenario");

  std::string kernel;
  std::vector<std::string> sysctls;
  int backlog = 128;
  auto* explain_cmd = app.add_subcommand("explain", "print the decision chain a SYN goes through on a kernel");
  explain_cmd->add_option("--kernel", kernel, "kernel profile (see `synscope profiles`)")->required();
  explain_cmd->add_option("--sysctl", sysctls, "NAME=VALUE (repeatable)");
  explain_cmd->add_option("--backlog", backlog, "listen() backlog to compute thresholds for")->capture_default_str();

  auto* profiles_cmd = app.add_subcommand("profiles", "list the kernel profiles and how they differ");

  const cli::Command commands[] = {cli::add_analyze_command(app), cli::add_replay_command(app), cli::add_lab_command(app),
                                   cli::add_doctor_command(app), cli::add_collect_command(app), cli::add_trace_command(app),
                                   cli::add_exporter_command(app)};

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "synscope: " << e.what() << " (see --help)\n";
    return 2;
  }
  try {
    if (sim_cmd->parsed()) return run_sim(sim_args);
    if (explain_cmd->parsed()) return run_explain(kernel, sysctls, backlog);
    for (const auto& c : commands)
      if (c.app->parsed()) return c.run();
    if (profiles_cmd->parsed()) {
      std::cout << model::profiles_table();
      return 0;
    }
  } catch (const synscope::UsageError& e) {
    std::cerr << "synscope: " << e.what() << '\n';
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "synscope: error: " << e.what() << '\n';
    return 1;
  }
  return 0;
}

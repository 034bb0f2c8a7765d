// `synscope replay FILE`: feed a capture's inbound segments through the kernel model and list which
// SYNs that kernel would have dropped, and by which rule, beside what the capture shows. Thin: parse
// the arguments, call analyze::replay(), print. Exit 0 when the input was read, 2 on bad input.
#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "analyze/replay.h"
#include "cli/commands.h"
#include "core/error.h"
#include "report/builders.h"

namespace synscope::cli {
namespace {

struct ReplayArgs {
  std::string file;
  std::string server;
  std::string kernel;
  std::vector<std::string> sysctls;
  std::optional<int> backlog;
  std::string accept = "immediate";
  std::string date;
  bool json = false;
  bool verbose = false;
  std::string html;
};

int run_replay(const ReplayArgs& a) {
  analyze::ReplayOptions o;
  o.kernel = a.kernel;
  o.sysctls = a.sysctls;
  o.server = a.server;
  o.backlog = a.backlog;
  auto mode = analyze::parse_accept_mode(a.accept);
  if (!mode) throw UsageError(fmt::format("--accept {}: expected immediate, first-action or never", a.accept));
  o.accept = *mode;
  if (!a.date.empty() && !parse_date_time(a.date + " 00:00:00", o.source.base_date))
    throw UsageError(fmt::format("--date {}: expected YYYY-MM-DD", a.date));

  if (!a.html.empty()) report::check_html_path(a.html);
  auto r = analyze::replay(a.file, o);
  if (!r.server_choice.empty())
    std::cerr << "synscope replay: no --server given: replaying " << r.server_choice << '\n';
  if (a.json) {
    std::cout << analyze::render_replay_json(r).dump(2) << '\n';
  } else {
    analyze::ReplayTextOptions to;
    to.verbose = a.verbose;
    std::cout << analyze::render_replay_text(r, to);
  }
  if (!a.html.empty()) {
    auto rep = report::from_replay(r);
    report::write_html(rep, a.html);
    std::cerr << "wrote " << a.html << '\n';
  }
  return 0;
}

}  // namespace

Command add_replay_command(CLI::App& app) {
  auto args = std::make_shared<ReplayArgs>();
  auto* cmd = app.add_subcommand(
      "replay", "replay a capture's SYNs through the kernel model: which would this kernel drop, and why");
  cmd->add_option("file", args->file, "pcap/pcapng (also .gz/.zst), tcpdump text, or - for standard input")->required();
  cmd->add_option("--server", args->server,
                  "ADDR[:PORT] of the server to model (default: the endpoint that received the most SYNs)");
  cmd->add_option("--kernel", args->kernel, "kernel profile (see `synscope profiles`; default: the newest)");
  cmd->add_option("--sysctl", args->sysctls, "NAME=VALUE, with or without net.ipv4. (repeatable)");
  cmd->add_option("--backlog", args->backlog, "the application's listen() backlog (default: somaxconn)");
  cmd->add_option("--accept", args->accept, "when the application calls accept(): immediate, first-action, never")
      ->capture_default_str();
  cmd->add_option("--date", args->date, "YYYY-MM-DD of a tcpdump printout whose times carry no date (default 1970-01-01)");
  cmd->add_flag("--json", args->json, "print the result as JSON (schema synscope.replay/1)");
  cmd->add_option("--html", args->html, "also write a self-contained HTML report with the pictures to FILE");
  cmd->add_flag("-v,--verbose", args->verbose, "every SYN, the model's other decisions and its counters");
  return {cmd, [args] { return run_replay(*args); }};
}

}  // namespace synscope::cli

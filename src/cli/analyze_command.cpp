// `synscope analyze FILE|-` and `synscope analyze -i IFACE [FILTER]`: explain every unanswered SYN.
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <fmt/format.h>
#include <iostream>
#include <optional>

#include "analyze/analysis.h"
#include "analyze/analysis_report.h"
#include "cli/commands.h"
#include "core/error.h"
#include "report/builders.h"

namespace synscope::cli {

namespace {

struct AnalyzeArgs {
  std::string input;
  std::string iface;
  std::string filter;
  std::uint64_t count = 0;
  double duration = 0;
  std::string date;
  bool json = false, csv = false, verbose = false, all = false;
  std::size_t max_listed = 50;
  std::string html;  // --html FILE (src/report/)
  std::size_t max_flows = analyze::TrackerOptions{}.max_flows;
};

analyze::PacketSource* g_live = nullptr;
void on_signal(int) {
  if (g_live) g_live->request_stop();
}

int run_analyze(const AnalyzeArgs& a) {
  if (a.json && a.csv) throw UsageError("choose one of --json and --csv");
  if (!a.html.empty()) report::check_html_path(a.html);
  analyze::PacketSource source = [&] {
    if (!a.iface.empty()) {
      if (!a.input.empty() && a.filter.empty()) throw UsageError("give either a FILE or -i IFACE, not both");
      capture::LiveLimits limits;
      limits.max_packets = a.count;
      limits.max_duration = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(a.duration));
      return analyze::PacketSource::open_live(a.iface, a.filter, limits);
    }
    if (a.input.empty()) throw UsageError("analyze needs a FILE (pcap, pcapng, .gz/.zst, tcpdump text, or - for stdin) or -i IFACE");
    analyze::SourceOptions so;
    if (!a.date.empty() && !parse_date_time(a.date + " 00:00:00", so.base_date))
      throw UsageError("--date wants YYYY-MM-DD, got '" + a.date + "'");
    return analyze::PacketSource::open(a.input, so);
  }();
  if (source.kind() == analyze::InputKind::Live) {
    g_live = &source;
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
  }

  analyze::AnalysisOptions opt;
  opt.keep_all = a.all;
  opt.tracker.max_flows = a.max_flows;
  std::string csv_buffer;
  // Built once: the source already knows the host names of a tcpdump text input.
  const analyze::AddressNamer namer = [&source](const capture::IpAddress& x) { return source.display(x); };
  if (a.csv) {
    std::fputs(analyze::csv_header().c_str(), stdout);
    opt.on_attempt = [&](const analyze::Attempt& at) {
      csv_buffer += analyze::csv_row(at, namer);
      if (csv_buffer.size() > (1 << 16)) {
        std::fwrite(csv_buffer.data(), 1, csv_buffer.size(), stdout);
        csv_buffer.clear();
      }
    };
  }
  // --html: every finished attempt also becomes a report row (the analysis itself keeps only the
  // failed and late ones).
  std::optional<report::AnalysisCollector> collector;
  if (!a.html.empty()) {
    collector.emplace(namer);
    opt.on_attempt = [&collector, csv = opt.on_attempt](const analyze::Attempt& at) {
      if (csv) csv(at);
      collector->add(at);
    };
  }
  // Progress on stderr, only for a person watching a terminal.
  const bool tty = isatty(STDERR_FILENO);
  const auto started = std::chrono::steady_clock::now();
  auto last = started;
  bool progressed = false;
  if (tty) {
    opt.on_progress = [&](std::uint64_t frames) {
      const auto now = std::chrono::steady_clock::now();
      if (now - last < std::chrono::milliseconds(500)) return;
      last = now;
      progressed = true;
      std::fprintf(stderr, "\ranalyze: %llu frames, %.1f s", static_cast<unsigned long long>(frames),
                   std::chrono::duration<double>(now - started).count());
    };
  }
  analyze::AnalysisResult r = analyze::analyze_source(source, opt);
  g_live = nullptr;
  if (progressed) std::fputs("\r\033[K", stderr);

  if (a.csv) {
    std::fwrite(csv_buffer.data(), 1, csv_buffer.size(), stdout);
  } else if (a.json) {
    std::cout << analyze::render_analysis_json(r).dump(2) << '\n';
  } else {
    analyze::AnalysisTextOptions to;
    to.verbose = a.verbose;
    to.max_listed = a.max_listed;
    std::cout << analyze::render_analysis_text(r, to);
  }
  std::cout.flush();
  if (collector) {
    auto rep = collector->finish(r);
    report::write_html(rep, a.html);
    std::cerr << "wrote " << a.html << '\n';
  }
  if (!r.stop_reason.empty()) {
    std::cerr << "synscope: " << (a.input == "-" ? "standard input" : a.input) << ": stopped early: " << r.stop_reason << '\n';
    return 2;
  }
  return 0;
}

}  // namespace

Command add_analyze_command(CLI::App& app) {
  auto args = std::make_shared<AnalyzeArgs>();
  auto* cmd = app.add_subcommand("analyze", "explain every unanswered SYN in a capture (pcap, pcapng, tcpdump text)");
  cmd->add_option("input", args->input, "capture file (.pcap, .pcapng, .gz, .zst), tcpdump text, or - for stdin");
  cmd->add_option("-i,--interface", args->iface, "capture live on this interface instead (needs root)");
  cmd->add_option("--filter", args->filter, "BPF filter for a live capture (e.g. 'tcp port 80')");
  cmd->add_option("-c,--count", args->count, "live: stop after this many packets");
  cmd->add_option("--duration", args->duration, "live: stop after this many seconds");
  cmd->add_option("--date", args->date, "tcpdump text without dates: the day its times are on (YYYY-MM-DD)");
  cmd->add_flag("--json", args->json, "print JSON (schema synscope.analyze/1, see docs/analyze.md)");
  cmd->add_flag("--csv", args->csv, "print one CSV row per attempt");
  cmd->add_option("--html", args->html, "also write a self-contained HTML report with the pictures to FILE");
  cmd->add_flag("--all", args->all, "--json: list every attempt, not only failed and late ones");
  cmd->add_flag("-v,--verbose", args->verbose, "show every SYN and SYN-ACK of the listed attempts");
  cmd->add_option("--max", args->max_listed, "attempts listed in detail in the text output")->capture_default_str();
  cmd->add_option("--max-flows", args->max_flows,
                  "open flows kept at once (bounds memory on floods; past it the oldest are finished early, with a note)")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 32));
  return {cmd, [args] { return run_analyze(*args); }};
}

}  // namespace synscope::cli

#pragma once
// synscope's HTML report: `--html FILE` on sim, analyze, replay and lab writes one self-contained
// file (inline CSS and JS, the data embedded as compact columnar JSON, no request at view time) with
// the pictures that make a diagnosis obvious (docs/report.md):
//   1. TSval against time per source address, one line per TS clock, the server's remembered
//      per-host TSval and its 60 s window as a band, the SYNs that fell below it;
//   2. a zoomable timeline of the attempts by outcome (aggregated into bins when dense);
//   3. SYN/accept-queue depth against the limits, counters, findings linked to their attempts;
//   4. a sortable, filterable, virtualized table of the attempts.
//
// Every front-end fills the same `Report` (report/builders.h), so the page has one shape whatever
// it was made from. Times are microseconds since Report::t0.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/time.h"

namespace synscope::report {

// Strings shared by many rows (addresses, outcomes, causes) are stored once.
class Strings {
 public:
  std::uint32_t id(std::string_view s);
  const std::vector<std::string>& all() const { return list_; }

 private:
  std::vector<std::string> list_;
  std::unordered_map<std::string, std::uint32_t> index_;
};

enum class Answer : std::uint8_t { None, SynAck, Rst, Icmp, CookieSynAck };

struct AttemptRow {
  std::uint64_t id = 0;
  std::int64_t start = 0;       // first SYN
  std::int64_t end = -1;        // established, refused, given up… (-1: the first SYN is all there is)
  std::int64_t answer_at = -1;  // first answer
  Answer answer = Answer::None;
  std::uint32_t lane = 0;       // Strings id of the timeline lane (an outcome group)
  std::uint32_t client = 0, server = 0, via = 0, outcome = 0, cause = 0, model = 0;  // Strings ids
  std::uint16_t client_port = 0;
  std::uint32_t syns = 0;       // SYN transmissions (may exceed the kept times)
  std::uint32_t unanswered = 0;
  std::int64_t after = -1;      // first SYN → established
  std::uint8_t kept = 0;        // SYN times kept
  std::uint8_t answered_mask = 0;  // bit i: SYN i was answered
  std::int64_t syn_at[8] = {};
  bool important = false;       // failed or late: kept first when rows must be capped
  void add_syn(std::int64_t t, bool answered) {
    if (kept < 8) {
      if (answered) answered_mask = static_cast<std::uint8_t>(answered_mask | (1u << kept));
      syn_at[kept++] = t;
    }
  }
};

// One point of the TSval picture.
struct TsPoint {
  std::int64_t t = 0;
  std::uint32_t ts = 0;
  std::uint8_t kind = 0;  // 0 SYN answered, 1 SYN not answered (dropped), 2 another segment
  std::int64_t attempt = -1;  // AttemptRow::id, -1 none
};
struct TsLine {
  std::string label;  // "client1 (10.85.1.2)", "TS clock 2"
  std::vector<TsPoint> points;
};
// What the server remembered about this address (tcp_metrics, §7.2): TSval `ts` from `from` until
// `until` (TCP_PAWS_MSL = 60 s later); SYNs from the address with a smaller TSval are dropped (§7.3).
struct TsBand {
  std::int64_t from = 0, until = 0;
  std::uint32_t ts = 0;
  std::string text;
};
struct TsAddress {
  std::string addr;
  std::string note;  // "behind a NAT: 2 hosts", "3 TS clocks"
  std::vector<TsLine> lines;
  std::vector<TsBand> bands;
};

struct QueueSeries {
  std::string host;
  std::uint16_t port = 0;
  int backlog = 0;         // B: the accept queue is full when A > B (§6.1)
  int syn_limit = 0;       // the SYN queue's limit for this kernel (B, or N on 3.10/EL7)
  std::string source;      // "simulation", "model (simulation of the lab scenario)"
  std::vector<std::int64_t> t;
  std::vector<int> q, a;
  std::optional<int> measured_a, measured_q;  // the lab's values at the end (ss)
};

struct CounterRow {
  std::string host, name;
  std::vector<std::optional<std::int64_t>> values;  // one per Report::counter_columns
};

struct Finding {
  std::string severity;  // "critical", "warning", "info"
  std::string title;
  std::string text;
  std::vector<std::string> evidence;
  std::vector<std::uint64_t> attempts;  // AttemptRow ids it explains (capped)
  std::uint64_t attempt_count = 0;      // all of them
};

struct Report {
  std::string kind;  // "sim", "analyze", "replay", "lab"
  std::string title, subtitle;
  WallTime t0{};
  std::vector<std::pair<std::string, std::string>> summary;
  std::vector<std::string> notes;  // what is aggregated, capped or missing: shown at the top

  std::vector<TsAddress> ts;
  std::string ts_note;

  Strings strings;
  std::vector<AttemptRow> attempts;
  std::uint64_t attempts_total = 0;  // before any cap
  std::vector<std::string> lanes;    // timeline lanes, top to bottom
  std::vector<std::pair<std::string, std::string>> column_labels;  // overrides: key → label

  std::vector<QueueSeries> queues;
  std::string queues_note;
  std::vector<std::string> counter_columns = {"delta"};
  std::string counters_title = "Counters";
  std::vector<CounterRow> counters;
  std::vector<Finding> findings;
  std::string explanation;  // preformatted ("Why" of the simulator)
  std::string extra_title, extra_text;  // preformatted tables (variants, the lab's comparison)

  std::int64_t rel(WallTime t) const { return (t.unix_ns - t0.unix_ns) / 1000; }
};

struct HtmlLimits {
  std::size_t max_rows = 400'000;        // attempts embedded (failed/late first, the rest sampled)
  std::size_t max_ts_addresses = 24;     // addresses in the TSval picture
  std::size_t max_ts_points = 20'000;    // points per address
  std::size_t max_finding_links = 5'000; // attempt ids per finding
};

// The page. Applies the limits (and says so in the page) before embedding.
std::string render_html(Report& r, const HtmlLimits& limits = {});
// Writes it; throws UsageError("--html PATH: <reason>") when the file cannot be written.
void write_html(Report& r, const std::string& path, const HtmlLimits& limits = {});
// Checks early (before a long run) that `path` can be created; same error as write_html.
void check_html_path(const std::string& path);

// The page's JS and CSS (report/html_assets.cpp).
std::string_view html_css();
std::string_view html_js();

}  // namespace synscope::report

// Embeds a Report into one HTML page. The data goes in as compact columnar JSON written by hand:
// a 2-million-packet capture has a few hundred thousand attempts, and a DOM-like JSON tree of them
// would cost more memory than the analysis itself; columns of integers also parse fast in the browser.
#include "report/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace synscope::report {

std::uint32_t Strings::id(std::string_view s) {
  if (list_.empty()) {  // id 0 is always the empty string: "no value" in every column
    list_.emplace_back();
    index_.emplace(std::string(), 0);
  }
  auto it = index_.find(std::string(s));
  if (it != index_.end()) return it->second;
  const auto n = static_cast<std::uint32_t>(list_.size());
  list_.emplace_back(s);
  index_.emplace(std::string(s), n);
  return n;
}

namespace {

class Json {
 public:
  std::string out;
  void raw(std::string_view s) { out += s; }
  void str(std::string_view s) {
    out += nlohmann::json(std::string(s)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  void num(std::int64_t v) { fmt::format_to(std::back_inserter(out), "{}", v); }
  void key(std::string_view k) {
    comma();
    str(k);
    out += ':';
  }
  void open(char c) {
    comma();
    out += c;
  }
  void close(char c) { out += c; }
  // Elements are written with array()'s own commas; objects' members with key()'s.
  template <typename Range, typename F>
  void array(std::string_view k, const Range& r, F f) {
    key(k);
    out += '[';
    bool first = true;
    for (const auto& x : r) {
      if (!first) out += ',';
      first = false;
      f(x);
    }
    out += ']';
  }
  void field(std::string_view k, std::string_view v) {
    key(k);
    str(v);
  }
  void field(std::string_view k, std::int64_t v) {
    key(k);
    num(v);
  }

 private:
  void comma() {
    if (!out.empty() && std::strchr("[{:,", out.back()) == nullptr) out += ',';
  }
};

// Failed and late attempts are what the report is about: they are all kept (up to the cap), the
// rest are sampled evenly over the capture so that the timeline's shape stays true.
void cap_rows(Report& r, std::size_t max_rows) {
  if (r.attempts.size() <= max_rows) return;
  std::vector<AttemptRow> kept;
  kept.reserve(max_rows);
  std::size_t important = 0;
  for (const auto& a : r.attempts) important += a.important;
  const std::size_t room = max_rows > important ? max_rows - important : 0;
  const std::size_t others = r.attempts.size() - important;
  std::size_t seen = 0, taken = 0;
  for (auto& a : r.attempts) {
    if (a.important) {
      if (kept.size() < max_rows) kept.push_back(std::move(a));
      continue;
    }
    // Evenly: take the k-th of the others when k·room/others crosses an integer.
    ++seen;
    if (taken < room && seen * room / others > taken) {
      kept.push_back(std::move(a));
      ++taken;
    }
  }
  r.notes.push_back(fmt::format(
      "The capture has {} attempts; the timeline and the table embed {} of them: every failed or late one{} "
      "and an even sample of {} of the {} that simply worked. Counts in the summary and the findings are over all attempts.",
      r.attempts_total, kept.size(), important > max_rows ? " (capped)" : "", taken, others));
  r.attempts = std::move(kept);
}

void cap_ts(Report& r, const HtmlLimits& lim) {
  if (r.ts.size() > lim.max_ts_addresses) {
    r.notes.push_back(fmt::format("The timestamp picture offers the {} most telling of {} source addresses.",
                                  lim.max_ts_addresses, r.ts.size()));
    r.ts.resize(lim.max_ts_addresses);
  }
  for (auto& a : r.ts) {
    std::size_t total = 0;
    for (const auto& l : a.lines) total += l.points.size();
    if (total <= lim.max_ts_points) continue;
    // Unanswered SYNs are kept; the rest thinned evenly.
    std::size_t dropped = 0;
    for (const auto& l : a.lines)
      for (const auto& p : l.points) dropped += p.kind == 1;
    const std::size_t room = lim.max_ts_points > dropped ? lim.max_ts_points - dropped : 1;
    const std::size_t stride = (total - dropped + room - 1) / room;
    std::size_t k = 0;
    for (auto& l : a.lines) {
      std::vector<TsPoint> keep;
      for (const auto& p : l.points)
        if (p.kind == 1 || (k++ % stride) == 0) keep.push_back(p);
      l.points = std::move(keep);
    }
    std::erase_if(a.lines, [](const TsLine& l) { return l.points.empty(); });
    a.note += (a.note.empty() ? "" : "; ") + fmt::format("{} points thinned to every {}th (unanswered SYNs all kept)", total, stride);
  }
}

// Columns are made small before they are written: sorted times and ids as deltas, the end and the
// answer relative to the first SYN, SYN counts instead of offsets (report.md, "Encoding").
void write_attempts(Json& j, const Report& r) {
  const auto& v = r.attempts;
  j.key("attempts");
  j.open('{');
  j.field("total", static_cast<std::int64_t>(r.attempts_total));
  j.array("strings", r.strings.all(), [&](const std::string& s) { j.str(s); });
  auto col = [&](std::string_view name, auto get) { j.array(name, v, [&](const AttemptRow& a) { j.num(get(a)); }); };
  std::int64_t prev = 0;
  col("idd", [&](const AttemptRow& a) {
    const auto d = static_cast<std::int64_t>(a.id) - prev;
    prev = static_cast<std::int64_t>(a.id);
    return d;
  });
  prev = 0;
  col("startd", [&](const AttemptRow& a) {
    const auto d = a.start - prev;
    prev = a.start;
    return d;
  });
  // End after the first SYN, ≥ 0 when the attempt was established (then it is also the time to
  // established), -(x+1) otherwise.
  col("endd", [](const AttemptRow& a) {
    const std::int64_t e = std::max<std::int64_t>(a.end >= 0 ? a.end - a.start : 0, 0);
    return a.after >= 0 ? a.after : -(e + 1);
  });
  col("ansd", [](const AttemptRow& a) { return a.answer_at >= 0 ? std::max<std::int64_t>(a.answer_at - a.start, 0) : -1; });
  col("ansk", [](const AttemptRow& a) { return static_cast<std::int64_t>(a.answer); });
  if (std::any_of(v.begin(), v.end(), [](const AttemptRow& a) { return a.lane != a.outcome; }))
    col("lane", [](const AttemptRow& a) { return a.lane; });
  col("client", [](const AttemptRow& a) { return a.client; });
  col("cport", [](const AttemptRow& a) { return a.client_port; });
  col("server", [](const AttemptRow& a) { return a.server; });
  col("syns", [](const AttemptRow& a) { return a.syns; });
  col("unans", [](const AttemptRow& a) { return a.unanswered; });
  col("outcome", [](const AttemptRow& a) { return a.outcome; });
  // Optional columns: only when some row has a value (the page hides absent ones).
  auto optional_col = [&](std::string_view name, std::uint32_t AttemptRow::*m) {
    if (std::any_of(v.begin(), v.end(), [&](const AttemptRow& a) { return a.*m != 0; }))
      col(name, [&](const AttemptRow& a) { return static_cast<std::int64_t>(a.*m); });
  };
  optional_col("via", &AttemptRow::via);
  optional_col("cause", &AttemptRow::cause);
  optional_col("model", &AttemptRow::model);
  // SYN times: row i has nsyn[i] of them in synt, each (µs after the first SYN)·2 + answered.
  col("nsyn", [](const AttemptRow& a) { return a.kept; });
  j.key("synt");
  j.raw("[");
  bool first = true;
  for (const auto& a : v)
    for (std::uint8_t i = 0; i < a.kept; ++i) {
      if (!first) j.raw(",");
      first = false;
      j.num((a.syn_at[i] - a.start) * 2 + ((a.answered_mask >> i) & 1));
    }
  j.raw("]");
  j.array("lanes", r.lanes, [&](const std::string& s) { j.str(s); });
  j.key("labels");
  j.open('{');
  for (const auto& [k, l] : r.column_labels) j.field(k, l);
  j.close('}');
  j.close('}');
}

// Per address: its lines' labels, then every point in time order (t as deltas) with its line.
void write_ts(Json& j, const Report& r) {
  j.field("ts_note", r.ts_note);
  j.array("ts", r.ts, [&](const TsAddress& a) {
    struct P {
      const TsPoint* p;
      std::uint32_t line;
    };
    std::vector<P> pts;
    for (std::size_t l = 0; l < a.lines.size(); ++l)
      for (const auto& p : a.lines[l].points) pts.push_back({&p, static_cast<std::uint32_t>(l)});
    std::stable_sort(pts.begin(), pts.end(), [](const P& x, const P& y) { return x.p->t < y.p->t; });
    j.open('{');
    j.field("addr", a.addr);
    j.field("note", a.note);
    j.array("labels", a.lines, [&](const TsLine& l) { j.str(l.label); });
    std::int64_t prev = 0;
    j.array("td", pts, [&](const P& p) {
      j.num(p.p->t - prev);
      prev = p.p->t;
    });
    j.array("v", pts, [&](const P& p) { j.num(p.p->ts); });
    j.array("k", pts, [&](const P& p) { j.num(p.p->kind); });
    j.array("l", pts, [&](const P& p) { j.num(p.line); });
    j.array("a", pts, [&](const P& p) { j.num(p.p->attempt); });
    j.field("band_text", a.bands.empty() ? std::string() : a.bands.back().text);
    j.array("bands", a.bands, [&](const TsBand& b) {
      j.raw("[");
      j.num(b.from);
      j.raw(",");
      j.num(b.until);
      j.raw(",");
      j.num(b.ts);
      j.raw("]");
    });
    j.close('}');
  });
}

void write_rest(Json& j, const Report& r) {
  j.field("queues_note", r.queues_note);
  j.array("queues", r.queues, [&](const QueueSeries& q) {
    j.open('{');
    j.field("host", q.host);
    j.field("port", q.port);
    j.field("backlog", q.backlog);
    j.field("syn_limit", q.syn_limit);
    j.field("source", q.source);
    if (q.measured_a) j.field("measured_a", *q.measured_a);
    if (q.measured_q) j.field("measured_q", *q.measured_q);
    j.array("t", q.t, [&](std::int64_t x) { j.num(x); });
    j.array("q", q.q, [&](int x) { j.num(x); });
    j.array("a", q.a, [&](int x) { j.num(x); });
    j.close('}');
  });
  j.field("counters_title", r.counters_title);
  j.array("counter_columns", r.counter_columns, [&](const std::string& s) { j.str(s); });
  j.array("counters", r.counters, [&](const CounterRow& c) {
    j.raw("[");
    j.str(c.host);
    j.raw(",");
    j.str(c.name);
    for (const auto& v : c.values) {
      j.raw(",");
      if (v)
        j.num(*v);
      else
        j.raw("null");
    }
    j.raw("]");
  });
  j.array("findings", r.findings, [&](const Finding& f) {
    j.open('{');
    j.field("severity", f.severity);
    j.field("title", f.title);
    j.field("text", f.text);
    j.array("evidence", f.evidence, [&](const std::string& s) { j.str(s); });
    j.array("attempts", f.attempts, [&](std::uint64_t x) { j.num(static_cast<std::int64_t>(x)); });
    j.field("count", static_cast<std::int64_t>(f.attempt_count));
    j.close('}');
  });
  j.field("explanation", r.explanation);
  j.field("extra_title", r.extra_title);
  j.field("extra_text", r.extra_text);
}

std::string html_escape(std::string_view s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '&': o += "&amp;"; break;
      case '"': o += "&quot;"; break;
      default: o += c;
    }
  }
  return o;
}

}  // namespace

std::string render_html(Report& r, const HtmlLimits& limits) {
  r.attempts_total = std::max<std::uint64_t>(r.attempts_total, r.attempts.size());
  cap_rows(r, limits.max_rows);
  std::sort(r.attempts.begin(), r.attempts.end(),
            [](const AttemptRow& x, const AttemptRow& y) { return x.start != y.start ? x.start < y.start : x.id < y.id; });
  cap_ts(r, limits);
  for (auto& f : r.findings) {
    f.attempt_count = std::max<std::uint64_t>(f.attempt_count, f.attempts.size());
    if (f.attempts.size() > limits.max_finding_links) f.attempts.resize(limits.max_finding_links);
  }

  Json j;
  j.open('{');
  j.field("schema", "synscope.report/1");
  j.field("kind", r.kind);
  j.field("title", r.title);
  j.field("subtitle", r.subtitle);
  j.field("t0", r.t0.unix_ns / 1000);  // µs since 1970: exact in a double up to year 2255
  j.array("summary", r.summary, [&](const auto& kv) {
    j.raw("[");
    j.str(kv.first);
    j.raw(",");
    j.str(kv.second);
    j.raw("]");
  });
  j.array("notes", r.notes, [&](const std::string& s) { j.str(s); });
  write_ts(j, r);
  write_attempts(j, r);
  write_rest(j, r);
  j.close('}');

  std::string page;
  page.reserve(j.out.size() + j.out.size() / 64 + html_js().size() + html_css().size() + 1024);
  page += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  // The page may fetch nothing: every resource is inline, and the policy makes the browser refuse
  // anything else (so a viewer can trust it works offline and leaks nothing).
  page +=
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
      "script-src 'unsafe-inline'; img-src data:\">\n";
  page += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  page += "<meta name=\"generator\" content=\"synscope 0.1.0\">\n";
  page += "<title>" + html_escape(r.title) + "</title>\n<style>\n";
  page += html_css();
  page += "</style>\n</head>\n<body>\n<div id=\"app\"><noscript>This report draws its pictures with JavaScript.</noscript></div>\n";
  page += "<script id=\"synscope-data\" type=\"application/json\">";
  // Inside <script>, "</" could end the element early; "<\/" is the same JSON string. Copied
  // straight into the page: the data is most of it, and another copy would be tens of MB.
  for (std::size_t i = 0; i < j.out.size(); ++i) {
    if (j.out[i] == '<' && i + 1 < j.out.size() && j.out[i + 1] == '/') {
      page += "<\\/";
      ++i;
    } else {
      page += j.out[i];
    }
  }
  std::string().swap(j.out);
  page += "</script>\n<script>\n";
  page += html_js();
  page += "</script>\n</body>\n</html>\n";
  return page;
}

void check_html_path(const std::string& path) {
  if (path.empty()) throw UsageError("--html needs a file name");
  std::error_code ec;
  const bool existed = std::filesystem::exists(path, ec);
  {
    std::ofstream out(path, std::ios::binary | std::ios::app);
    if (!out) throw UsageError(fmt::format("--html {}: cannot write: {}", path, std::strerror(errno)));
  }
  // Leave nothing behind if the run fails later.
  if (!existed) std::filesystem::remove(path, ec);
}

void write_html(Report& r, const std::string& path, const HtmlLimits& limits) {
  const std::string page = render_html(r, limits);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw UsageError(fmt::format("--html {}: cannot write: {}", path, std::strerror(errno)));
  out.write(page.data(), static_cast<std::streamsize>(page.size()));
  out.close();
  if (!out) throw UsageError(fmt::format("--html {}: write failed: {}", path, std::strerror(errno)));
}

}  // namespace synscope::report

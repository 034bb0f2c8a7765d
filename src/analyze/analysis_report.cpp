#include "analyze/analysis_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "analyze/schedule.h"
#include "capture/capture_reader.h"

namespace synscope::analyze {

namespace {

std::string clock(WallTime t) { return format_clock_time(t); }
std::string when(WallTime t) { return format_date_time(t); }

std::string plural(std::uint64_t n, std::string_view one, std::string_view many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

std::string gaps_text(const Attempt& a) {
  std::string s;
  for (double g : syn_gaps(a)) s += fmt::format("{}{:.2f} s", s.empty() ? "" : ", ", g);
  return s;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  const std::size_t i = std::min(static_cast<std::size_t>(std::lround(p * static_cast<double>(v.size() - 1))), v.size() - 1);
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(i), v.end());
  return v[i];
}

std::string duration_text(double s) {
  if (s < 0.001) return fmt::format("{:.0f} µs", s * 1e6);
  if (s < 1) return fmt::format("{:.1f} ms", s * 1e3);
  return fmt::format("{:.2f} s", s);
}

std::string outcome_text(const Attempt& a) {
  switch (a.outcome) {
    case Outcome::Established:
      return a.delayed() ? fmt::format("established after {}", duration_text(to_seconds(*a.time_to_established())))
                         : "established";
    case Outcome::AckIgnored: return fmt::format("final ACK ignored ({} SYN-ACKs re-sent after it)", a.synacks_after_ack);
    case Outcome::ResetAfterAck: return "reset after the final ACK";
    case Outcome::Refused: return "refused (RST)";
    case Outcome::Unreachable: return fmt::format("unreachable (ICMP {})", a.icmp.value_or("?"));
    case Outcome::Unanswered: return "unanswered";
    case Outcome::SynAckUnacked: return "SYN-ACK'd, never completed by the client";
    case Outcome::CompletedUnseen: return "completed, SYN-ACK not in the capture";
    case Outcome::CaptureEnded: return "capture ended before an answer was due";
  }
  return "?";
}

// The input line: "trace.pcap (pcap, 2,000 frames)".
std::string input_line(const AnalysisResult& r) {
  std::string what = r.format == "tcpdump text" ? plural(r.frames, "line", "lines") : plural(r.frames, "frame", "frames");
  return fmt::format("{} ({}, {}, {} TCP{})", r.input == "-" ? "standard input" : r.input, r.format, what,
                     r.tracker.tcp, r.tracker.icmp ? fmt::format(", {} ICMP errors", r.tracker.icmp) : "");
}

std::vector<std::string> capture_notes(const AnalysisResult& r) {
  std::vector<std::string> notes;
  const TrackerStats& t = r.tracker;
  if (!r.stop_reason.empty()) notes.push_back("the input stopped early: " + r.stop_reason + " (everything before it was analysed)");
  if (r.outcomes[static_cast<std::size_t>(Outcome::CompletedUnseen)])
    notes.push_back(fmt::format("{} handshake(s) completed without their SYN-ACK in the capture: it sees one direction "
                                "only (not a silent server)",
                                r.outcomes[static_cast<std::size_t>(Outcome::CompletedUnseen)]));
  if (t.duplicate_syns)
    notes.push_back(fmt::format("{} duplicate SYN frame(s) (same ISN and TSval, or the same instant): copies in the capture, "
                                "not retransmissions", t.duplicate_syns));
  if (t.evicted_flows || t.state_limited)
    notes.push_back(fmt::format("state limit reached (--max-flows {}): {} flow(s) were finished early on what had been "
                                "seen and {} table entr(ies) were not kept (a flood from that many sources?); raise "
                                "--max-flows to keep more", t.max_flows, t.evicted_flows, t.state_limited));
  if (t.time_backwards)
    notes.push_back(fmt::format("time goes backwards {} time(s), first at frame {}: merged or repeated capture",
                                t.time_backwards, t.first_backwards_frame));
  if (t.synack_without_syn)
    notes.push_back(fmt::format("{} SYN-ACK(s) without their SYN: the capture starts mid-handshake (not counted as attempts)",
                                t.synack_without_syn));
  if (r.capture_stats && r.capture_stats->tunnelled_total()) {
    std::string kinds;
    for (std::size_t k = 1; k < capture::kTunnelKindCount; ++k)
      if (r.capture_stats->tunnelled[k])
        kinds += fmt::format("{}{} {}", kinds.empty() ? "" : ", ", r.capture_stats->tunnelled[k],
                             capture::tunnel_name(static_cast<capture::TunnelKind>(k)));
    notes.push_back(fmt::format("TCP inside tunnels ({} frames): {}; a mirror or tunnel may carry one direction only",
                                r.capture_stats->tunnelled_total(), kinds));
  }
  if (r.text_stats && r.text_stats->skipped_lines)
    notes.push_back(fmt::format("{} line(s) of the text could not be read and were skipped (first: line {}: {})",
                                r.text_stats->skipped_lines, r.text_stats->skipped_examples.front().line,
                                r.text_stats->skipped_examples.front().reason));
  if (r.capture_stats && r.capture_stats->truncated_frames)
    notes.push_back(fmt::format("{} frame(s) cut by the snapshot length", r.capture_stats->truncated_frames));
  if (r.capture_stats && r.capture_stats->bad_time)
    notes.push_back(fmt::format("{} frame(s) skipped: their time stamp is before 1970 or after 2115 (corrupt capture)",
                                r.capture_stats->bad_time));
  return notes;
}

std::string clock_line(const ClockFinding& f, const AnalysisResult& r) {
  std::string clocks;
  for (std::size_t i = 0; i < f.clocks.size() && i < 4; ++i)
    clocks += fmt::format("{}TSval {} at {}", i ? "; " : "", f.clocks[i].first_tsval, clock(f.clocks[i].first_at));
  if (f.clocks.size() > 4) clocks += "; …";
  std::size_t shared = 0;
  for (const auto& c : f.clocks) shared += c.attempts >= 2 ? 1 : 0;
  std::string meaning = shared > 0 || f.attempts < 2
                            ? "several hosts behind one address (NAT)"
                            : "several hosts behind one address (NAT), or a client that randomises TS offsets per "
                              "connection (Linux >= 4.10)";
  return fmt::format("{}: {} TS clocks over {}: {} ({})", r.display(f.addr), f.clock_count,
                     plural(f.attempts, "attempt", "attempts"), meaning, clocks);
}

void attempt_details(std::string& out, const Attempt& a, const AnalysisResult& r, bool verbose) {
  const AddressNamer name = [&](const IpAddress& x) { return r.display(x); };
  out += fmt::format("#{}  {}  {} > {}  ISN {}\n", a.id, clock(a.first_syn()), endpoint_text(a.client, name),
                     endpoint_text(a.server, name), a.isn);
  std::string syns = plural(a.syn_count, "SYN", "SYNs");
  if (a.syn_count > 1) syns += fmt::format(" (gaps {}: {})", gaps_text(a), describe(a.schedule));
  if (a.duplicate_syns) syns += fmt::format(", {} duplicate frame(s)", a.duplicate_syns);
  out += fmt::format("    outcome: {}; {}\n", outcome_text(a), syns);
  if (a.synack && a.synack->cookie)
    out += fmt::format("    answered with a SYN cookie ({})\n",
                       a.synack->cookie_by_ts_bits ? "TSval low bits encode the SYN's options, §10"
                                                   : "sent once and never re-sent, like the port's other SYN-ACKs: no request behind it, §10");
  for (std::size_t i = 0; i < a.causes.size(); ++i) {
    const Cause& c = a.causes[i];
    std::string sec(section(c.kind));
    out += fmt::format("    {} {}{} (confidence {:.0f} %)\n", i == 0 ? "cause:" : "  or:", title(c.kind),
                       sec.empty() ? "" : " [" + sec + "]", c.confidence * 100);
    for (const auto& e : c.evidence) out += "      - " + e + "\n";
  }
  if (verbose) {
    for (const SynSend* s = a.syns_begin(); s < a.syns_end(); ++s)
      out += fmt::format("      {} frame {:<7} SYN{}{}\n", clock(s->at), s->frame,
                         s->has_ts ? fmt::format(" TSval {}", s->ts) : "", s->answered ? "  -> answered" : "  -> no answer");
    if (a.syn_count > a.kept_syns()) out += fmt::format("      … {} more SYNs\n", a.syn_count - a.kept_syns());
    if (a.synack)
      out += fmt::format("      {} frame {:<7} SYN-ACK ISN {}{}{}\n", clock(a.synack->at), a.synack->frame, a.synack->isn,
                         a.synack->tsval ? fmt::format(" TSval {}", *a.synack->tsval) : "",
                         a.synack_count > 1 ? fmt::format(" (sent {} times)", a.synack_count) : "");
    if (a.client_ack_at) out += fmt::format("      {} client ACK\n", clock(*a.client_ack_at));
  }
}

}  // namespace

std::string render_analysis_text(const AnalysisResult& r, const AnalysisTextOptions& o) {
  std::string out;
  out += "synscope analyze: " + input_line(r) + "\n";
  if (r.tracker.any)
    out += fmt::format("time: {} .. {} ({:.1f} s)\n", when(r.tracker.first), when(r.tracker.last),
                       static_cast<double>(r.tracker.last.unix_ns - r.tracker.first.unix_ns) / 1e9);
  const auto count = [&](Outcome x) { return r.outcomes[static_cast<std::size_t>(x)]; };
  const std::uint64_t attempts = r.tracker.attempts;
  out += fmt::format("\nAttempts: {}   established: {} (late: {})   failed: {}", attempts, count(Outcome::Established),
                     r.delayed, r.failed);
  std::string other;
  const Outcome others[] = {Outcome::CompletedUnseen, Outcome::SynAckUnacked, Outcome::CaptureEnded};
  for (Outcome x : others)
    if (count(x)) other += fmt::format("{}{} {}", other.empty() ? "" : ", ", count(x), to_string(x));
  if (!other.empty()) out += "   not judged: " + other;
  out += "\n";
  std::string failures;
  const Outcome failed_kinds[] = {Outcome::Unanswered, Outcome::Refused, Outcome::Unreachable, Outcome::AckIgnored,
                                  Outcome::ResetAfterAck};
  for (Outcome x : failed_kinds)
    if (count(x)) failures += fmt::format("{}{} {}", failures.empty() ? "" : ", ", count(x), to_string(x));
  if (!failures.empty()) out += "  failed: " + failures + "\n";
  if (!r.connect_times.empty())
    out += fmt::format("  time to established: median {}, p99 {}\n", duration_text(percentile(r.connect_times, 0.5)),
                       duration_text(percentile(r.connect_times, 0.99)));
  if (r.cookies) out += fmt::format("  answered with SYN cookies: {}\n", r.cookies);

  std::vector<std::size_t> order;
  for (std::size_t k = 0; k < kCauseCount; ++k)
    if (r.causes[k].attempts) order.push_back(k);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) { return r.causes[x].attempts > r.causes[y].attempts; });
  if (!order.empty()) {
    out += "\nFailed or late attempts by cause:\n";
    for (std::size_t k : order) {
      const auto kind = static_cast<CauseKind>(k);
      std::string sec(section(kind));
      out += fmt::format("  {:<58} {:>7}  ({} unanswered){}\n", title(kind), plural(r.causes[k].attempts, "attempt", "attempts"),
                         plural(r.causes[k].syns_lost, "SYN", "SYNs"), sec.empty() ? "" : "  " + sec);
    }
    out += "\nTop evidence:\n";
    for (std::size_t k : order) {
      const auto kind = static_cast<CauseKind>(k);
      const Attempt* best = nullptr;
      for (const Attempt& a : r.kept)
        if (!a.causes.empty() && a.causes.front().kind == kind && (!best || a.causes.front().confidence > best->causes.front().confidence))
          best = &a;
      if (!best || best->causes.front().evidence.empty()) continue;
      out += fmt::format("  {} (#{}): {}\n", to_string(kind), best->id, best->causes.front().evidence.front());
    }
  }
  if (!r.clocks.empty()) {
    out += "\nTS clocks (§8):\n";
    for (std::size_t i = 0; i < r.clocks.size() && i < 10; ++i) out += "  " + clock_line(r.clocks[i], r) + "\n";
    if (r.clocks.size() > 10) out += fmt::format("  … {} more addresses\n", r.clocks.size() - 10);
  }
  std::string sched;
  for (std::size_t k = 1; k < kScheduleCount; ++k)
    if (r.schedules[k]) sched += fmt::format("{}{} {}", sched.empty() ? "" : ", ", r.schedules[k], describe(static_cast<Schedule>(k)));
  if (!sched.empty()) out += "\nSYN retransmission schedules (§9): " + sched + "\n";
  const auto notes = capture_notes(r);
  if (!notes.empty()) {
    out += "\nCapture notes:\n";
    for (const auto& n : notes) out += "  " + n + "\n";
  }
  std::size_t listed = 0;
  std::string details;
  for (const Attempt& a : r.kept) {
    if (!is_failure(a.outcome) && !a.delayed()) continue;
    if (listed++ >= o.max_listed) continue;
    attempt_details(details, a, r, o.verbose);
  }
  if (listed) {
    out += "\nFailed or late attempts:\n" + details;
    if (listed > o.max_listed) out += fmt::format("… {} more (see --json or --csv)\n", listed - o.max_listed);
  }
  if (r.not_kept) out += fmt::format("({} further failed/late attempts counted but not kept)\n", r.not_kept);
  if (attempts == 0) out += "\nNo connection attempt (SYN) in the input.\n";
  return out;
}

nlohmann::json attempt_json(const Attempt& a, const AddressNamer& name) {
  using nlohmann::json;
  json syns = json::array();
  for (const SynSend* s = a.syns_begin(); s < a.syns_end(); ++s) {
    json j = {{"time", when(s->at)}, {"unix_ns", s->at.unix_ns}, {"frame", s->frame}, {"answered", s->answered}};
    j["tsval"] = s->has_ts ? json(s->ts) : json(nullptr);
    syns.push_back(std::move(j));
  }
  json j = {{"id", a.id},
            {"client", endpoint_text(a.client, name)},
            {"server", endpoint_text(a.server, name)},
            {"isn", a.isn},
            {"outcome", to_string(a.outcome)},
            {"failed", is_failure(a.outcome)},
            {"late", a.delayed()},
            {"syn_count", a.syn_count},
            {"duplicate_syns", a.duplicate_syns},
            {"syns", std::move(syns)},
            {"schedule", to_string(a.schedule)},
            {"gaps_s", syn_gaps(a)},
            {"synack_count", a.synack_count},
            {"synacks_after_ack", a.synacks_after_ack}};
  if (a.synack) {
    const SynAckInfo& s = *a.synack;
    j["synack"] = {{"time", when(s.at)}, {"frame", s.frame}, {"isn", s.isn}, {"cookie", s.cookie}};
    j["synack"]["mss"] = s.mss ? json(*s.mss) : json(nullptr);
    j["synack"]["wscale"] = s.wscale ? json(*s.wscale) : json(nullptr);
    j["synack"]["sack_ok"] = s.sack_ok;
    j["synack"]["tsval"] = s.tsval ? json(*s.tsval) : json(nullptr);
  } else {
    j["synack"] = nullptr;
  }
  j["client_ack_time"] = a.client_ack_at ? json(when(*a.client_ack_at)) : json(nullptr);
  j["established_time"] = a.established_at ? json(when(*a.established_at)) : json(nullptr);
  j["time_to_established_s"] = a.time_to_established() ? json(to_seconds(*a.time_to_established())) : json(nullptr);
  j["icmp"] = a.icmp ? json(*a.icmp) : json(nullptr);
  json causes = json::array();
  for (const Cause& c : a.causes)
    causes.push_back({{"id", to_string(c.kind)},
                      {"title", title(c.kind)},
                      {"section", section(c.kind)},
                      {"confidence", c.confidence},
                      {"evidence", c.evidence}});
  j["causes"] = std::move(causes);
  return j;
}

nlohmann::json render_analysis_json(const AnalysisResult& r) {
  using nlohmann::json;
  const AddressNamer name = [&](const IpAddress& x) { return r.display(x); };
  json input = {{"name", r.input}, {"format", r.format}, {"frames", r.frames}, {"tcp", r.tracker.tcp},
                {"icmp", r.tracker.icmp}, {"stopped_early", !r.stop_reason.empty()}};
  input["stop_reason"] = r.stop_reason.empty() ? json(nullptr) : json(r.stop_reason);
  input["first_time"] = r.tracker.any ? json(when(r.tracker.first)) : json(nullptr);
  input["last_time"] = r.tracker.any ? json(when(r.tracker.last)) : json(nullptr);
  json outcomes = json::object();
  for (std::size_t k = 0; k < kOutcomeCount; ++k) outcomes[std::string(to_string(static_cast<Outcome>(k)))] = r.outcomes[k];
  json causes = json::object();
  for (std::size_t k = 0; k < kCauseCount; ++k)
    causes[std::string(to_string(static_cast<CauseKind>(k)))] = {{"attempts", r.causes[k].attempts},
                                                                 {"syns_unanswered", r.causes[k].syns_lost}};
  json schedules = json::object();
  for (std::size_t k = 1; k < kScheduleCount; ++k) schedules[std::string(to_string(static_cast<Schedule>(k)))] = r.schedules[k];
  json summary = {{"attempts", r.tracker.attempts}, {"outcomes", outcomes}, {"failed", r.failed}, {"late", r.delayed},
                  {"cookies", r.cookies},           {"causes", causes},     {"schedules", schedules}};
  summary["connect_time_s"] = r.connect_times.empty()
                                  ? json(nullptr)
                                  : json{{"p50", percentile(r.connect_times, 0.5)}, {"p99", percentile(r.connect_times, 0.99)}};
  json artefacts = {{"duplicate_syns", r.tracker.duplicate_syns},
                    {"synack_without_syn", r.tracker.synack_without_syn},
                    {"midstream_flows", r.tracker.midstream_flows},
                    {"time_backwards", r.tracker.time_backwards},
                    {"evicted_flows", r.tracker.evicted_flows},
                    {"state_limited", r.tracker.state_limited},
                    {"completed_unseen", r.outcomes[static_cast<std::size_t>(Outcome::CompletedUnseen)]},
                    {"tunnelled_tcp", r.tracker.tunnelled}};
  json state = {{"open_flows_peak", r.tracker.open_flows_peak}};
  json clocks = json::array();
  for (const ClockFinding& f : r.clocks) {
    json list = json::array();
    for (const TsClock& c : f.clocks)
      list.push_back({{"first_time", when(c.first_at)}, {"first_tsval", c.first_tsval}, {"last_tsval", c.last_tsval},
                      {"rate_hz", c.rate_hz}, {"attempts", c.attempts}});
    clocks.push_back({{"address", r.display(f.addr)}, {"clock_count", f.clock_count}, {"attempts", f.attempts}, {"clocks", list}});
  }
  json attempts = json::array();
  for (const Attempt& a : r.kept) attempts.push_back(attempt_json(a, name));
  return json{{"schema", "synscope.analyze/1"}, {"input", input},         {"summary", summary}, {"artefacts", artefacts},
              {"ts_clocks", clocks},            {"attempts", attempts},   {"attempts_not_listed", r.not_kept},
              {"notes", capture_notes(r)},      {"state", state}};
}

std::string csv_header() {
  return "id,first_syn,client,server,isn,outcome,late,syns,duplicate_syns,schedule,gaps_s,synack,cookie,"
         "time_to_established_s,cause,confidence,evidence\n";
}

namespace {
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c == '\n' ? ' ' : c);
  return q + "\"";
}
}  // namespace

std::string csv_row(const Attempt& a, const AddressNamer& name) {
  std::string gaps;
  for (double g : syn_gaps(a)) gaps += fmt::format("{}{:.3f}", gaps.empty() ? "" : " ", g);
  const Cause* c = a.causes.empty() ? nullptr : &a.causes.front();
  return fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n", a.id, when(a.first_syn()),
                     csv_field(endpoint_text(a.client, name)), csv_field(endpoint_text(a.server, name)), a.isn,
                     to_string(a.outcome), a.delayed() ? 1 : 0, a.syn_count, a.duplicate_syns, to_string(a.schedule), gaps,
                     a.synack ? when(a.synack->at) : "", a.synack && a.synack->cookie ? 1 : 0,
                     a.time_to_established() ? fmt::format("{:.6f}", to_seconds(*a.time_to_established())) : "",
                     c ? std::string(to_string(c->kind)) : "", c ? fmt::format("{:.2f}", c->confidence) : "",
                     c && !c->evidence.empty() ? csv_field(c->evidence.front()) : "");
}

}  // namespace synscope::analyze

#pragma once
// `synscope analyze`: one pass over a capture — PacketSource → AttemptTracker → diagnose() — into a
// summary (counts by outcome and cause, schedules, NAT clocks, capture artefacts) plus the attempts
// worth reading (failed or late), with every attempt optionally streamed to a callback as it finishes.
#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "analyze/attempt.h"
#include "analyze/attempt_tracker.h"
#include "analyze/diagnose.h"
#include "analyze/packet_source.h"

namespace synscope::analyze {

struct AnalysisOptions {
  TrackerOptions tracker;
  std::size_t max_kept = 10000;  // failed/late attempts kept for the report (all are counted)
  bool keep_all = false;         // keep every attempt (e.g. for --all), still bounded by max_kept
  // Called for every finished, diagnosed attempt (for streaming CSV); may be empty.
  std::function<void(const Attempt&)> on_attempt;
  // Called now and then with the frames read so far (for a progress line); may be empty.
  std::function<void(std::uint64_t frames)> on_progress;
};

struct CauseCount {
  std::uint64_t attempts = 0;     // attempts whose top-ranked cause this is
  std::uint64_t syns_lost = 0;    // their unanswered SYNs
};

struct AnalysisResult {
  // Input.
  std::string input;
  std::string format;
  std::uint64_t frames = 0;
  std::string stop_reason;                  // the capture ended early (truncated, corrupt)
  std::optional<capture::CaptureStats> capture_stats;
  std::optional<capture::TextParseStats> text_stats;
  TrackerStats tracker;

  // Attempts.
  std::array<std::uint64_t, kOutcomeCount> outcomes{};
  std::uint64_t delayed = 0;                 // established only after a retry or an ignored ACK
  std::uint64_t failed = 0;
  std::uint64_t cookies = 0;                 // answered with a SYN cookie
  std::array<CauseCount, kCauseCount> causes{};
  std::array<std::uint64_t, kScheduleCount> schedules{};  // of attempts with 2+ SYNs
  std::vector<double> connect_times;         // seconds to established, for the percentiles (sampled)
  std::vector<Attempt> kept;                 // failed/late (or all with keep_all), by id, at most max_kept
  std::uint64_t not_kept = 0;
  std::vector<ClockFinding> clocks;          // addresses with several TS clocks

  std::string display(const IpAddress& a) const;
  std::function<std::string(const IpAddress&)> namer;  // host names of a tcpdump text input
};

AnalysisResult analyze_source(PacketSource& source, const AnalysisOptions& options = {});
AnalysisResult analyze_file(const std::string& path, const AnalysisOptions& options = {});

}  // namespace synscope::analyze

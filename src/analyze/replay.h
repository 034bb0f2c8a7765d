#pragma once
// `synscope replay`: a what-if replay of a capture through the kernel model. The server's inbound
// segments are fed, in capture time order, to a model::HostStack that stands for the server (another
// kernel profile, other sysctls); the server's own actions (connect, write, close) are taken from its
// outbound segments. For every SYN sent to the server the result says what the capture shows
// (SYN-ACK, RST, ACK or nothing) and what the model would have done, with the listen-path rule and its
// evidence — "would turning tcp_tw_recycle off have saved these SYNs?".
//
//   ReplayOptions o;  o.kernel = "el7";  o.sysctls = {"tcp_tw_recycle=1"};  o.server = "10.85.3.111:19090";
//   ReplayResult r = replay("server.pcap", o);
//   std::cout << render_replay_text(r, {});
//
// How the model is driven (docs/replay.md has the details and the limitations):
//   * listen() on the chosen port and on every other port of the server address that the capture
//     shows listening (a SYN-ACK from it, or SYNs never answered with RST); backlog = --backlog, else
//     somaxconn (§6.1).
//   * The model picks its own ISNs and TS clock: per connection, ack numbers and TSecr values of
//     inbound segments are rewritten from the capture's server numbers to the model's.
//   * Outbound segments drive the application: the server's SYN → connect() from the same port, new
//     data → send(), its first FIN → close() (this is what creates TIME_WAIT and the tcp_metrics
//     timestamp memory of §7.1–§7.3). Connections already open when the capture began are adopted as
//     ESTABLISHED at their first segment.
//   * accept(): at once (default), at the server's first visible action on the connection, or never.
#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "analyze/packet_source.h"
#include "capture/packet.h"
#include "core/ipv4.h"
#include "core/time.h"
#include "model/counters.h"
#include "model/kernel_profile.h"
#include "model/listen_rules.h"
#include "model/sysctls.h"
#include "model/verdict.h"

namespace synscope::analyze {

// When the modelled application calls accept() on a connection the model queued.
enum class AcceptMode : std::uint8_t {
  Immediate,    // as soon as it is queued (default)
  FirstAction,  // when the capture shows the server's first data or FIN on it (an app that accepts
                // late; with a server that never writes, this is a stalled accept())
  Never,        // a stalled application: the accept queue only fills
};
std::string_view to_string(AcceptMode m);  // "immediate", "first-action", "never"
std::optional<AcceptMode> parse_accept_mode(std::string_view text);

struct ReplayOptions {
  std::string kernel;                // profile name; empty: model::newest_profile()
  std::vector<std::string> sysctls;  // "NAME=VALUE" (with or without net.ipv4./net.core.), in order
  std::string server;                // "ADDR" or "ADDR:PORT"; empty: the endpoint that received the most SYNs
  std::optional<int> backlog;        // listen() backlog; default: the sysctl somaxconn (B = somaxconn)
  AcceptMode accept = AcceptMode::Immediate;
  SourceOptions source;              // e.g. the day of a tcpdump printout without dates
};

// What answered one SYN: in the capture, or in the model.
enum class SynAnswer : std::uint8_t { SynAck, CookieSynAck, Rst, Ack, None };
std::string_view to_string(SynAnswer a);  // "SYN-ACK", "cookie SYN-ACK", "RST", "ACK", "nothing"
std::string_view json_name(SynAnswer a);  // "syn-ack", "cookie-syn-ack", "rst", "ack", "none"
constexpr bool is_answered(SynAnswer a) { return a == SynAnswer::SynAck || a == SynAnswer::CookieSynAck; }

struct ReplaySyn {
  std::uint64_t frame = 0;          // frame (pcap) or line (text) number
  WallTime at{};
  Endpoint client, server;
  std::uint32_t isn = 0;
  std::optional<std::uint32_t> tsval;
  int transmission = 1;             // 1 = first SYN with this ISN, 2 = its first retransmission, ...
  SynAnswer capture = SynAnswer::None;
  std::optional<Duration> capture_delay;  // SYN → the capture's answer
  SynAnswer model = SynAnswer::None;
  std::optional<model::Verdict> verdict;  // the model's decision for this SYN (if it made one)
  // No decision because the SYN (a new ISN) reset the model's request for an earlier ISN on this 4-tuple
  // (§5.1 step 5): the one SYN path without a listen-path verdict.
  bool resets_request = false;

  bool model_dropped() const { return !is_answered(model) && model != SynAnswer::Rst && model != SynAnswer::Ack; }
  // Answered in one and not in the other, or answered differently (RST vs nothing).
  bool differs() const;
};

// tcp_metrics remembered a peer's timestamp because the modelled server closed first (§7.1, §7.2).
struct ReplayTsMemory {
  WallTime at{};
  FourTuple closed;
  model::TsMemory entry;
};

// A model decision about something other than a SYN (final ACKs, SYN-ACK timers...), for -v.
struct ReplayDecision {
  WallTime at{};
  FourTuple tuple;
  std::uint32_t seq = 0;
  model::Verdict verdict;
};

struct ReplaySummary {
  std::size_t syns = 0;
  std::size_t unanswered = 0;         // capture: no answer at all
  std::size_t model_dropped = 0;      // model: no answer at all
  std::vector<std::pair<std::string, std::size_t>> dropped_by_rule;  // rule id → count, by first drop
  std::size_t saved = 0;              // unanswered in the capture, answered (SYN-ACK) by the model
  std::size_t lost = 0;               // answered in the capture, dropped by the model
  std::size_t differ = 0;
};

struct ReplayResult {
  std::string input;                  // the path, or "standard input"
  std::string format;                 // "pcap", "tcpdump text", ...
  std::uint64_t tcp_segments = 0;     // TCP segments read
  std::uint64_t inbound = 0;          // segments addressed to the server (fed to the model)
  std::uint64_t outbound = 0;         // segments the server sent (driving its application)
  std::uint64_t duplicates = 0;       // identical copies within 10 ms (e.g. -i any), skipped
  std::uint64_t unmatched = 0;        // segments of no connection the replay could follow, skipped
  std::uint64_t adopted = 0;          // connections already open when the capture began
  std::string stop_reason;            // the input ended early (damaged capture)

  const model::KernelProfile* profile = nullptr;
  model::Sysctls sysctls;
  std::vector<std::string> sysctl_changes;  // the --sysctl assignments, as "name=value"

  Ipv4Addr server;
  std::optional<std::uint16_t> port;  // the chosen port; nullopt: every port of the address
  std::string server_choice;          // why this server was chosen when --server was not given
  std::vector<std::uint16_t> listening;
  std::map<std::uint16_t, WallTime> listen_late;  // listeners the capture shows opening during it
  int backlog_requested = 0;          // listen(fd, N)
  int backlog = 0;                    // B after somaxconn (§6.1)
  AcceptMode accept = AcceptMode::Immediate;

  std::vector<ReplaySyn> syns;
  std::vector<ReplayTsMemory> ts_memory;
  std::vector<ReplayDecision> other_decisions;
  model::CounterSet counters;
  std::vector<std::string> notes;

  ReplaySummary summary() const;
};

// Reads `path` (see PacketSource::open) and replays it. Throws UsageError with a one-line reason for
// bad options (unknown kernel, sysctl the kernel lacks, bad --server), unreadable input, an IPv6
// server, a server that is not in the capture, or a capture without SYNs.
ReplayResult replay(const std::string& path, const ReplayOptions& options);
// The same over records already read (tests, other front-ends).
ReplayResult replay_records(std::vector<capture::PacketRecord> records, const ReplayOptions& options,
                            std::string input_name = "records", std::string format = "records");

struct ReplayTextOptions {
  bool verbose = false;       // every SYN row, the model's other decisions and its counters
  std::size_t max_rows = 40;  // SYN rows shown without -v
};
std::string render_replay_text(const ReplayResult& r, const ReplayTextOptions& options = {});
// Schema "synscope.replay/1" (docs/replay.md).
nlohmann::json render_replay_json(const ReplayResult& r);

}  // namespace synscope::analyze

#pragma once
// How `synscope trace` prints: one line (or one JSON object) per event, the summary at the end
// (drops by cause, counters against the predictions, contradictions), and the --top tables.
#include <cstdint>
#include <map>
#include <optional>
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "live/trace/syn_tracer.h"

namespace synscope::live::trace {

// "+1.234567 SYN 192.0.2.20:40000 → 192.0.2.10:8080 dropped: accept queue full: A=3 > B=2 [confirmed: nothing left]"
// `t0_ns`: the monotonic time printed as +0.
std::string event_text(const TraceEvent& e, std::int64_t t0_ns);
// Schema synscope.trace/1 (docs/trace.md).
nlohmann::json event_json(const TraceEvent& e, std::int64_t t0_ns);

std::string summary_text(const SynTracer& t);
nlohmann::json summary_json(const SynTracer& t);
// The start-up line: path, hooks, interfaces.
std::string probe_text(const SynTracer& t);

// --top: per listener and per client address.
class TopTables {
 public:
  void add(const TraceEvent& e);
  std::string text(std::size_t max_rows = 15) const;

  struct Row {
    std::uint64_t segments = 0, answered = 0, cookies = 0, dropped = 0, resets = 0;
    std::map<std::string, std::uint64_t> causes;  // drop/reset causes
  };

 private:
  // Binary keys, formatted only when the tables are drawn: --top sees every segment.
  struct ListenerKey {
    std::optional<TraceEndpoint> listener;  // none: no listener (then `local` is the address)
    TraceEndpoint local;
    std::string process;
    auto operator<=>(const ListenerKey&) const = default;
  };
  std::map<ListenerKey, Row> by_listener_;
  std::map<TraceAddr, Row> by_client_;
};

}  // namespace synscope::live::trace

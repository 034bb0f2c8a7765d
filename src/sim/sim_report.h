#pragma once
// Renders a simulation result for people (text with the explanation), for programs (JSON), and as
// files (pcap + tcpdump text per capture point).
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <utility>
#include <vector>

#include "sim/simulator.h"

namespace synscope::sim {

struct TextOptions {
  bool verbose = false;          // every capture line and verdict row
  std::size_t capture_lines = 40;
  std::size_t verdict_rows = 30;
  std::size_t attempt_rows = 20;
};

// The whole text report: header, captures, verdicts, attempts, counters and the explanation.
std::string render_text(const SimResult& r, const TextOptions& opt = {});
// Only the "Why" paragraphs.
std::string render_explanation(const SimResult& r);
// The per-SYN verdict table (listen-path decisions).
std::string render_verdicts(const SimResult& r, std::size_t max_rows);
nlohmann::json render_json(const SimResult& r);

// Writes DIR/<capture>.pcap and DIR/<capture>.txt for each capture point and DIR/result.json.
// Returns the paths written.
std::vector<std::string> write_outputs(const SimResult& r, const std::string& dir);

struct VariantRun {
  std::string name;
  SimResult result;
};
// Side-by-side comparison of the base run and its variants.
std::string render_variant_table(const std::vector<VariantRun>& runs);

}  // namespace synscope::sim

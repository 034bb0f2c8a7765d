#pragma once
// Renders an AnalysisResult: human text (summary first, then the attempts that failed or were late),
// JSON (schema "synscope.analyze/1", docs/analyze.md) and CSV rows of attempts.
#include <nlohmann/json.hpp>
#include <string>

#include "analyze/analysis.h"

namespace synscope::analyze {

struct AnalysisTextOptions {
  bool verbose = false;          // every SYN / SYN-ACK of the listed attempts
  std::size_t max_listed = 50;   // attempts listed in detail (all are counted)
};

std::string render_analysis_text(const AnalysisResult& r, const AnalysisTextOptions& options = {});
nlohmann::json render_analysis_json(const AnalysisResult& r);
nlohmann::json attempt_json(const Attempt& a, const AddressNamer& name);

std::string csv_header();
std::string csv_row(const Attempt& a, const AddressNamer& name);

}  // namespace synscope::analyze

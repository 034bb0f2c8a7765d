#pragma once
// Fill a report::Report from what each front-end already computes: a simulation (with its own
// knowledge of which host sent what and what the server remembered), a capture analysis (attempts
// streamed as they finish, the tracker's TS-clock separation), a replay through the model, or a lab
// run (its capture analysed, plus the model's run of the same scenario).
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "analyze/analysis.h"
#include "analyze/replay.h"
#include "lab/lab_run.h"
#include "report/report.h"
#include "sim/sim_report.h"
#include "sim/simulator.h"

namespace synscope::report {

// runs[0] is the base run (it needs SimOptions::queue_samples for the queue plot); the others are
// variants, shown as the comparison table.
Report from_sim(const std::vector<sim::VariantRun>& runs);

// Collects every finished attempt of an analysis (AnalysisOptions::on_attempt) without keeping the
// attempts themselves: a row, its TS points and what the findings need.
class AnalysisCollector {
 public:
  explicit AnalysisCollector(analyze::AddressNamer namer);
  void add(const analyze::Attempt& a);
  Report finish(const analyze::AnalysisResult& r);

 private:
  struct SynPoint {
    std::uint32_t addr;  // Strings id
    std::uint16_t clock;
    bool answered;
    std::uint32_t ts;
    std::int64_t t;      // absolute, ns
    std::uint64_t attempt;
  };
  struct Band {
    std::uint32_t addr;
    std::uint32_t server;  // Strings id of the server's address
    std::int64_t closed_at;
    std::uint32_t ts;
    std::string text;
  };
  analyze::AddressNamer namer_;
  Report report_;
  std::vector<SynPoint> points_;
  std::vector<Band> bands_;
  std::vector<Finding> by_cause_;  // indexed by CauseKind
  std::int64_t first_ns_ = INT64_MAX;
};

Report from_replay(const analyze::ReplayResult& r);

// `analysis` is the report of the lab's server capture (AnalysisCollector), completed here with the
// comparison, the model's queue depths and the counters of both.
Report from_lab(const lab::LabReport& lab, Report analysis);

}  // namespace synscope::report

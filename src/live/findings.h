#pragma once
// The doctor's findings: what the numbers of one HostSnapshot mean in the model's terms. Each
// finding carries its evidence (numbers), the explanation (with fact-sheet §), and the fix.
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "live/kernel_match.h"
#include "live/snapshot.h"

namespace synscope::live {

enum class Severity { Info, Warning, Critical };
std::string_view to_string(Severity s);

struct Finding {
  std::string id;        // stable key: "accept-queue-overflow", "syn-queue-overflow", …
  Severity severity = Severity::Info;
  std::string title;     // one line
  std::string listener;  // "127.0.0.1:8080" when about one listener
  std::string process;   // "server (pid 1234)" when known
  std::vector<std::string> evidence;
  std::string explanation;
  std::string fix;
};

// One watched counter over the window (or since boot, with one sample).
struct CounterMove {
  std::string group, name;
  bool present = false;       // in the last sample
  std::int64_t total = 0;     // value in the last sample
  std::int64_t delta = 0;     // last − first (= total with one sample)
  double rate = 0;            // per second over the window (0 with one sample)
  std::string note;           // why it is missing
};

struct Diagnosis {
  ProfileMatch kernel;
  double window_s = 0;  // seconds between the samples, 0 with one
  std::vector<CounterMove> counters;  // the watched ones
  std::vector<Finding> findings;      // most severe first
};

Diagnosis diagnose(const HostSnapshot& snap);

// Lists every listener on hosts with few of them, otherwise the notable ones (HostSnapshot::shown)
// unless `all_listeners`.
std::string render_doctor_text(const HostSnapshot& snap, const Diagnosis& d, bool all_listeners = false);
// Schema "synscope.doctor/1", documented in docs/doctor.md.
nlohmann::json render_doctor_json(const HostSnapshot& snap, const Diagnosis& d);

}  // namespace synscope::live

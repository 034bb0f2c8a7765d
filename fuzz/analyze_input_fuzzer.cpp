// `synscope analyze FILE` end to end on hostile input: PacketSource's sniffing (capture or tcpdump
// text), the attempt tracker (spoofed sources, duplicated and backwards frames, 1970 time stamps),
// diagnose() and the text and JSON reports. Bad input is one UsageError line; anything else that
// escapes, or any crash, is a finding.
#include <cstdint>

#include "analyze/analysis.h"
#include "analyze/analysis_report.h"
#include "analyze/packet_source.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  synscope::fuzz::MemFile file(data, size);
  try {
    auto source = synscope::analyze::PacketSource::open(file.path());
    const auto result = synscope::analyze::analyze_source(source);
    const std::string text = synscope::analyze::render_analysis_text(result);
    const std::string json = synscope::analyze::render_analysis_json(result).dump();
    if (text.empty() || json.empty()) __builtin_trap();
  } catch (const synscope::UsageError& e) {
    synscope::fuzz::check_one_line(e.what());
  }
  return 0;
}

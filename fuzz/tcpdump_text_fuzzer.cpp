// TcpdumpTextParser on arbitrary text: every line form it accepts (time stamp variants, -i any, -e,
// -v joins, options lists, "[|tcp]"), sequence-number resolution, and the errors (NUL bytes, no TCP
// packet). Refusals are one UsageError line.
#include <cstdint>
#include <string_view>

#include "capture/tcpdump_parser.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    auto cap = synscope::capture::TcpdumpTextParser::parse_text(text, {.source_name = "fuzz"});
    if (cap.packets.size() != cap.stats.packets) __builtin_trap();
    if (cap.stats.skipped_examples.size() > synscope::capture::TextParseStats::kMaxSkippedExamples) __builtin_trap();
    for (const auto& p : cap.packets) {
      if (p.record.frame == 0 || p.record.frame > cap.stats.lines) __builtin_trap();
      (void)p.record.src.addr.str();
    }
  } catch (const synscope::UsageError& e) {
    synscope::fuzz::check_one_line(e.what());
  }
  return 0;
}

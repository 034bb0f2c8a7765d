// A whole capture file through CaptureReader::open: format sniffing, gzip/zstd streams (fopencookie),
// libpcap's pcap/pcapng parsing (caplen > len, zero-length frames, absurd block lengths, interfaces
// of unknown link types), then every frame's decoding. Bad input may end the read early
// (stats().stopped_early with a reason) or be refused with one CaptureError line; it may not crash.
#include <cstdint>

#include "capture/capture_reader.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  synscope::fuzz::MemFile file(data, size);
  try {
    auto reader = synscope::capture::CaptureReader::open(file.path());
    synscope::capture::CaptureItem item;
    std::uint64_t records = 0;
    while (reader.next(item)) ++records;
    const auto& st = reader.stats();
    if (st.tcp + st.icmp != records) __builtin_trap();
    if (st.stopped_early) synscope::fuzz::check_one_line(st.stop_reason.c_str());
  } catch (const synscope::UsageError& e) {
    synscope::fuzz::check_one_line(e.what());
  }
  return 0;
}

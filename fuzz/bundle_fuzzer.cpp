// Support bundles (`doctor --from FILE`): the tar(.gz) reader and the bundle's JSON members
// (manifest.json, sysctls.json, listeners.json, the raw counter samples). Plain tar is accepted like
// gzip (zlib passes it through), so the fuzzer reaches the tar and JSON checks without having to
// forge deflate streams; gzip seeds cover the corrupt-stream paths. Every problem is one UsageError
// line naming the file and the field.
#include <cstdint>

#include "fuzz_support.h"
#include "live/bundle.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  synscope::fuzz::MemFile file(data, size);
  try {
    const auto snap = synscope::live::read_bundle(file.path());
    if (snap.samples.empty() || snap.samples.size() > 2) __builtin_trap();
    for (const auto& l : snap.listeners) (void)l.endpoint();
  } catch (const synscope::UsageError& e) {
    synscope::fuzz::check_one_line(e.what());
  }
  return 0;
}

// Size limits of the live parsers (issue 8, docs/robustness.md): inputs built to exhaust memory or
// time are refused with one line before they can. A counter file with more fields than any kernel
// has (look-ups by name are linear, so millions would make a diff quadratic), and a support bundle
// that inflates past 256 MiB (a gzip bomb) are both UsageErrors naming the input.
#include <gtest/gtest.h>
#include <zlib.h>

#include <string>
#include <vector>

#include "core/error.h"
#include "live/bundle.h"
#include "live/proc_counters.h"
#include "support/process.h"

namespace synscope::live {
namespace {

TEST(ParserLimits, CounterFileWithMoreFieldsThanAnyKernelIsRefused) {
  std::string names = "TcpExt:", values = "TcpExt:";
  for (int i = 0; i < 5000; ++i) {
    names += " F" + std::to_string(i);
    values += " 1";
  }
  try {
    parse_counter_text(names + "\n" + values + "\n", "netstat.0");
    FAIL() << "5000 fields accepted";
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "netstat.0: more than 4096 counter fields: not a /proc counter file");
  }
  // This kernel's real files stay far below the limit.
  EXPECT_NO_THROW(parse_counter_text(testing::read_file("/proc/net/netstat"), "netstat"));
}

TEST(ParserLimits, BundleInflatingPast256MiBIsRefused) {
  testing::TempDir dir;
  const std::string path = dir.file("bomb.tar.gz");
  gzFile gz = gzopen(path.c_str(), "wb9");
  ASSERT_NE(gz, nullptr);
  const std::vector<char> zeros(1 << 20, 0);
  for (int i = 0; i < 300; ++i) ASSERT_EQ(gzwrite(gz, zeros.data(), static_cast<unsigned>(zeros.size())), 1 << 20);
  ASSERT_EQ(gzclose(gz), Z_OK);
  try {
    read_bundle(path);
    FAIL() << "a 300 MiB archive was accepted";
  } catch (const UsageError& e) {
    EXPECT_EQ(std::string(e.what()), path + ": larger than 256 MiB unpacked");
  }
}

}  // namespace
}  // namespace synscope::live

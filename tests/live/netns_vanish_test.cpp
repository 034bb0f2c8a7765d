// A network namespace that vanishes while synscope watches it (issue 8): the exporter keeps serving
// — the scrape after `ip netns del` is answered at once and says what it could not read
// (synscope_scrape_error with the reason) instead of crashing or hanging — and the doctor, pointed
// at the name afterwards, refuses it with one line.
#include <gtest/gtest.h>

#include <chrono>
#include <fmt/format.h>

#include "live_test_support.h"
#include "support/process.h"

namespace synscope::testing {
namespace {

TEST(NetnsVanish, ExporterKeepsAnsweringAndSaysWhyDoctorRefuses) {
  if (!is_root()) GTEST_SKIP() << "needs root: creates and deletes a network namespace";
  TempDir dir;
  std::string name;
  auto ns = std::make_unique<TestNetns>("vanish");
  name = ns->name();
  BackgroundCommand exporter(synscope_binary() + " exporter --listen 127.0.0.1:0 --min-window 1 --netns " + name,
                             dir.file("exporter.log"));
  const auto line = exporter.wait_for_line("(port ", 20);
  ASSERT_FALSE(line.empty()) << exporter.log();
  const int port = std::stoi(line.substr(line.find("(port ") + 6));
  const std::string scrape = fmt::format("curl -s --max-time 10 -w '\\nHTTP %{{http_code}}' http://127.0.0.1:{}/metrics", port);
  auto before = run_command(scrape, dir);
  ASSERT_NE(before.out.find("HTTP 200"), std::string::npos) << before.out;
  EXPECT_EQ(before.out.find("synscope_scrape_error"), std::string::npos) << before.out;

  ns.reset();  // ip netns del, while the exporter runs
  const auto t0 = std::chrono::steady_clock::now();
  auto after = run_command(scrape, dir);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(s, 1.0);
  ASSERT_NE(after.out.find("HTTP 200"), std::string::npos) << after.out << exporter.log();
  EXPECT_NE(after.out.find("synscope_scrape_error{reason=\""), std::string::npos) << after.out;
  EXPECT_NE(after.out.find(name), std::string::npos) << "the reason names the namespace\n" << after.out;
  EXPECT_TRUE(exporter.running()) << exporter.log();
  EXPECT_EQ(exporter.stop(), 0) << exporter.log();

  expect_one_line_error(run_command(synscope_binary() + " doctor --netns " + name, dir), name);
}

}  // namespace
}  // namespace synscope::testing

// Support bundles: `collect` then `doctor --from` round-trips; damaged bundles (missing or extra
// fields, truncated files, garbage) give one line on stderr and exit 2, never a crash.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "live/bundle.h"
#include "live/tar_gz.h"
#include "support/process.h"

namespace synscope::live {
namespace {

using testing::TempDir;

std::string quoted(const std::string& s) { return "'" + s + "'"; }

// A valid bundle's files, from this host's own numbers (one sample, no waiting).
ArchiveFiles valid_files(const TempDir& dir) {
  auto snap = take_snapshot({"", 0});
  write_bundle(dir.file("ok.tar.gz"), snap);
  return read_tar_gz(dir.file("ok.tar.gz"));
}

testing::CommandResult doctor_from(const std::string& path, const TempDir& dir) {
  return testing::run_command(testing::synscope_binary() + " doctor --from " + quoted(path), dir);
}

using testing::expect_one_line_error;

TEST(Bundle, CollectThenDoctorFromRoundTrips) {
  TempDir dir;
  auto c = testing::run_command(testing::synscope_binary() + " collect --interval 0.2 -o " + dir.file("b.tar.gz"), dir);
  ASSERT_EQ(c.exit_status, 0) << c.err;
  // A real tar.gz: the tar command lists our members.
  auto t = testing::run_command("tar -tzf " + dir.file("b.tar.gz"), dir);
  EXPECT_NE(t.out.find("synscope-bundle/netstat.1"), std::string::npos) << t.out << t.err;
  auto r = doctor_from(dir.file("b.tar.gz"), dir);
  ASSERT_EQ(r.exit_status, 0) << r.err;
  EXPECT_NE(r.out.find("source: bundle " + dir.file("b.tar.gz")), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("read twice"), std::string::npos) << r.out;
  auto j = testing::run_command(testing::synscope_binary() + " doctor --json --from " + dir.file("b.tar.gz"), dir);
  auto doc = nlohmann::json::parse(j.out);
  EXPECT_EQ(doc["schema"], "synscope.doctor/1");
  EXPECT_GT(doc["window_s"].get<double>(), 0.1);
}

TEST(Bundle, DamagedBundlesGiveOneLineAndExit2) {
  TempDir dir;
  const auto good = valid_files(dir);
  const std::string d = kBundleDir;
  struct Case {
    const char* what;
    std::function<void(ArchiveFiles&)> damage;
    const char* message;
  };
  const Case cases[] = {
      {"manifest missing", [&](ArchiveFiles& f) { f.erase(d + "manifest.json"); }, "manifest.json missing"},
      {"manifest field missing",
       [&](ArchiveFiles& f) {
         auto j = nlohmann::json::parse(f[d + "manifest.json"]);
         j.erase("release");
         f[d + "manifest.json"] = j.dump();
       },
       "manifest.json: missing field 'release'"},
      {"manifest extra field",
       [&](ArchiveFiles& f) {
         auto j = nlohmann::json::parse(f[d + "manifest.json"]);
         j["colour"] = "blue";
         f[d + "manifest.json"] = j.dump();
       },
       "manifest.json: unexpected field 'colour'"},
      {"wrong schema",
       [&](ArchiveFiles& f) {
         auto j = nlohmann::json::parse(f[d + "manifest.json"]);
         j["schema"] = "synscope.bundle/9";
         f[d + "manifest.json"] = j.dump();
       },
       "schema 'synscope.bundle/9' is not synscope.bundle/1"},
      {"listener field missing",
       [&](ArchiveFiles& f) {
         nlohmann::json l = {{"family", "ipv4"}, {"address", "127.0.0.1"}, {"port", 80}, {"accept_queue", 0},
                             {"syn_recv", 0}, {"drops", 0}, {"inode", 1}, {"uid", 0}, {"owners", nlohmann::json::array()}};
         f[d + "listeners.json"] = nlohmann::json{{"first", nlohmann::json::array()}, {"last", {l}}, {"syn_sent", 0}}.dump();
       },
       "listeners.json last listener 1: missing field 'backlog'"},
      {"listener negative", [&](ArchiveFiles& f) {
         nlohmann::json l = {{"family", "ipv4"}, {"address", "127.0.0.1"}, {"port", 80}, {"accept_queue", -3}, {"backlog", 1},
                             {"syn_recv", 0}, {"drops", 0}, {"inode", 1}, {"uid", 0}, {"owners", nlohmann::json::array()}};
         f[d + "listeners.json"] = nlohmann::json{{"first", nlohmann::json::array()}, {"last", {l}}, {"syn_sent", 0}}.dump();
       },
       "field 'accept_queue' must not be negative"},
      {"listeners truncated", [&](ArchiveFiles& f) { f[d + "listeners.json"].resize(5); },
       "listeners.json is not valid JSON (truncated?)"},
      {"counter file truncated",
       [&](ArchiveFiles& f) {
         auto& t = f[d + "netstat.0"];
         t.resize(t.find('\n') + 20);
       },
       "sample 0: netstat line 2:"},
      {"counter value removed",
       [&](ArchiveFiles& f) {
         auto& t = f[d + "snmp.0"];
         auto nl = t.find('\n');
         t.erase(t.find(' ', nl + 1 + 4), 2);  // drop the first value (and its space) of the Ip: values line
       },
       "sample 0: snmp line 2: Ip has"},
      {"extra member", [&](ArchiveFiles& f) { f["evil/../x"] = "x"; }, "unexpected member evil/../x"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    auto files = good;
    c.damage(files);
    write_tar_gz(dir.file("bad.tar.gz"), files);
    expect_one_line_error(doctor_from(dir.file("bad.tar.gz"), dir), c.message);
  }
}

TEST(Bundle, DamagedArchivesGiveOneLineAndExit2) {
  TempDir dir;
  write_tar_gz(dir.file("ok.tar.gz"), valid_files(dir));
  const auto bytes = testing::read_file(dir.file("ok.tar.gz"));
  std::ofstream(dir.file("cut.tar.gz"), std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  expect_one_line_error(doctor_from(dir.file("cut.tar.gz"), dir), "truncated");
  std::ofstream(dir.file("junk.tar.gz"), std::ios::binary) << std::string(2000, 'x');
  expect_one_line_error(doctor_from(dir.file("junk.tar.gz"), dir), "not a tar archive");
  std::ofstream(dir.file("empty.tar.gz"), std::ios::binary) << "";
  expect_one_line_error(doctor_from(dir.file("empty.tar.gz"), dir), "truncated");
  expect_one_line_error(doctor_from(dir.file("missing.tar.gz"), dir), "cannot open");
}

}  // namespace
}  // namespace synscope::live

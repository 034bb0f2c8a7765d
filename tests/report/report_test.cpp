// `--html FILE` reports (src/report/): what they embed, checked from the file, and what a person sees,
// checked in real headless Chromium (tests/report/browser_check.mjs drives it over the DevTools
// protocol): no console errors, no network requests, plots that drew something, a filter that gives
// the right row count, and the 2-million-packet budget (opens in < 3 s, file < 20 MB).
// Screenshots are kept under report-test-output/ in the directory the tests run in.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "lab/netns.h"
#include "report/report.h"
#include "support/process.h"

namespace synscope::testing {
namespace {

const std::string kBin = SYNSCOPE_BINARY;
const std::string kSource = SYNSCOPE_SOURCE_DIR;
const std::string kSeedText = kSource + "/../shared/spec/seed-printouts/exp3_server_close_then_nat_syn.txt";

// The JSON the page embeds.
nlohmann::json embedded(const std::string& html) {
  const std::string open = "<script id=\"synscope-data\" type=\"application/json\">";
  auto b = html.find(open);
  if (b == std::string::npos) throw std::runtime_error("no embedded data");
  b += open.size();
  auto e = html.find("</script>", b);
  return nlohmann::json::parse(html.substr(b, e - b));
}

std::string output_dir(const std::string& name) {
  auto dir = std::filesystem::current_path() / "report-test-output" / name;
  std::filesystem::create_directories(dir);
  return dir.string();
}

// Opens `html` in Chromium; returns browser_check.mjs's findings.
nlohmann::json open_in_browser(const std::string& html, const std::string& out, const TempDir& tmp, const std::string& extra = "") {
  auto r = run_command("node '" + kSource + "/tests/report/browser_check.mjs' --html '" + html + "' --out '" + out + "' " + extra, tmp);
  if (r.exit_status != 0) throw std::runtime_error("browser_check failed: " + r.err);
  return nlohmann::json::parse(r.out);
}

// The checks every report must pass in the browser.
void expect_clean_page(const nlohmann::json& b) {
  EXPECT_TRUE(b["ready"].get<bool>()) << b.dump();
  EXPECT_TRUE(b["consoleErrors"].empty()) << b["consoleErrors"].dump();
  EXPECT_TRUE(b["requests"].empty()) << b["requests"].dump();
  for (const auto& c : b["dom"]["canvases"]) {
    EXPECT_GT(c["width"].get<int>(), 0) << c.dump();
    // Drawn: many non-white pixels in several colours (axes alone give few colours).
    EXPECT_GT(c["painted"].get<int>(), 200) << c.dump();
    EXPECT_GE(c["colours"].get<int>(), 4) << c.dump();
  }
  EXPECT_GT(b["dom"]["rowsShown"].get<int>(), 0);
  for (const auto& s : b["screenshots"]) EXPECT_GT(std::filesystem::file_size(s.get<std::string>()), 10'000u) << s;
}

// Text from an input (a scenario's description, a tcpdump printout's host names) must not be able
// to end the data element or inject markup.
TEST(ReportHtml, DataCannotEndItsScriptElement) {
  report::Report r;
  r.kind = "analyze";
  r.title = "</script><script>alert(1)</script>";
  r.notes = {"a note with </script> and <b>markup</b>"};
  const std::string page = report::render_html(r);
  std::size_t closes = 0;
  for (auto at = page.find("</script>"); at != std::string::npos; at = page.find("</script>", at + 1)) ++closes;
  EXPECT_EQ(closes, 2u);  // the data's and the code's own
  auto d = embedded(page);
  EXPECT_EQ(d["title"], r.title);
  EXPECT_EQ(d["notes"][0], r.notes[0]);
  EXPECT_NE(page.find("<title>&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;</title>"), std::string::npos);
}

TEST(ReportCli, UnwritableHtmlPathIsAOneLineError) {
  TempDir tmp;
  expect_one_line_error(run_command(kBin + " sim --html /nonexistent-dir/report.html", tmp), "--html /nonexistent-dir/report.html: cannot write");
  expect_one_line_error(run_command(kBin + " analyze '" + kSeedText + "' --html /nonexistent-dir/r.html", tmp), "--html /nonexistent-dir/r.html");
  expect_one_line_error(run_command(kBin + " replay '" + kSeedText + "' --html /proc/r.html", tmp), "--html /proc/r.html");
  expect_one_line_error(run_command(kBin + " sim nat-sweep --html " + tmp.file("x.html"), tmp), "--html: nat-sweep is a sweep");
  EXPECT_FALSE(std::filesystem::exists(tmp.file("x.html")));  // nothing left behind by a refused run
  expect_one_line_error(run_command(kBin + " lab all --html " + tmp.file("x.html"), tmp), "--html draws one lab run");
}

TEST(ReportCli, HtmlLeavesTheOtherOutputsAlone) {
  TempDir tmp;
  auto plain = run_command(kBin + " sim", tmp);
  auto with = run_command(kBin + " sim --html " + tmp.file("r.html"), tmp);
  ASSERT_EQ(with.exit_status, 0) << with.err;
  EXPECT_EQ(plain.out, with.out);
  EXPECT_EQ(with.err, "wrote " + tmp.file("r.html") + "\n");
  auto json_plain = run_command(kBin + " sim accept-queue-overflow --json", tmp);
  auto json_with = run_command(kBin + " sim accept-queue-overflow --json --html " + tmp.file("q.html"), tmp);
  EXPECT_EQ(json_plain.out, json_with.out);
}

// The seed's story, from the data the page embeds: one address, two senders (client1 behind the NAT
// and the NAT box's own sshd), the TSval the server remembered and the 6 SYNs dropped under it.
TEST(ReportCli, SeedSimulationEmbedsTheStory) {
  TempDir tmp;
  auto r = run_command(kBin + " sim --html " + tmp.file("r.html"), tmp);
  ASSERT_EQ(r.exit_status, 0) << r.err;
  const std::string html = read_file(tmp.file("r.html"));
  // Self-contained: no external script, style, image or link.
  EXPECT_EQ(html.find("src=\"http"), std::string::npos);
  EXPECT_EQ(html.find("href=\"http"), std::string::npos);
  EXPECT_NE(html.find("Content-Security-Policy"), std::string::npos);
  auto d = embedded(html);
  EXPECT_EQ(d["schema"], "synscope.report/1");
  EXPECT_EQ(d["kind"], "sim");
  ASSERT_FALSE(d["ts"].empty());
  const auto& a = d["ts"][0];
  EXPECT_EQ(a["addr"], "10.85.3.51");
  ASSERT_EQ(a["bands"].size(), 1u);  // [from, until, TSval]
  const std::uint32_t remembered = a["bands"][0][2];
  EXPECT_EQ(remembered, 3035582641u);
  EXPECT_EQ(a["bands"][0][1].get<std::int64_t>() - a["bands"][0][0].get<std::int64_t>(), 60'000'000);
  EXPECT_EQ(a["labels"], nlohmann::json::array({"client1 (10.85.1.2)", "nat (10.85.3.51), its own connection"})) << a.dump();
  int below = 0;
  for (std::size_t i = 0; i < a["k"].size(); ++i)
    if (a["k"][i] == 1) {
      EXPECT_LT(a["v"][i].get<std::uint32_t>(), remembered);
      EXPECT_EQ(a["l"][i], 0);  // client1's
      below++;
    }
  EXPECT_EQ(below, 6);
  EXPECT_EQ(d["attempts"]["total"], 2);
  // The queue plot of the server's listener, and the finding that links to client1's attempt.
  ASSERT_FALSE(d["queues"].empty());
  EXPECT_EQ(d["queues"][0]["port"], 19090);
  EXPECT_EQ(d["queues"][0]["backlog"], 128);
  ASSERT_FALSE(d["findings"].empty());
  EXPECT_NE(d["findings"][0]["title"].get<std::string>().find("per-host PAWS"), std::string::npos);
  EXPECT_EQ(d["findings"][0]["attempts"], nlohmann::json::array({2}));
}

TEST(ReportBrowser, SeedSimulationReport) {
  TempDir tmp;
  ASSERT_EQ(run_command(kBin + " sim --html " + tmp.file("seed.html"), tmp).exit_status, 0);
  auto b = open_in_browser(tmp.file("seed.html"), output_dir("seed-sim"), tmp, "--filter client1 --screenshot seed-sim");
  expect_clean_page(b);
  EXPECT_EQ(b["dom"]["canvases"].size(), 4u);  // TSval, timeline, the queues of server:19090 and nat:22
  EXPECT_NE(b["dom"]["tsStory"].get<std::string>().find("Why SYNs from 10.85.3.51 were silently dropped"), std::string::npos);
  EXPECT_NE(b["dom"]["tsStory"].get<std::string>().find("3035582641"), std::string::npos);
  EXPECT_EQ(b["dom"]["queuePlots"], 2);
  EXPECT_GE(b["dom"]["findingLinks"], 1);
  EXPECT_EQ(b["filterBefore"], 2);
  EXPECT_EQ(b["filterRows"], 1);
  ASSERT_EQ(b["filterShown"].size(), 1u);
  EXPECT_NE(b["filterShown"][0].get<std::string>().find("client1"), std::string::npos);
  // The per-host PAWS finding's link shows exactly client1's attempt.
  EXPECT_EQ(b["findingClick"]["filter"], "finding:1");
  EXPECT_EQ(b["findingClick"]["rows"], 1);
  EXPECT_EQ(b["screenshots"].size(), 2u);
}

// A synthetic capture: the row count after typing a filter must equal what `analyze --csv` counts.
TEST(ReportBrowser, AnalyzeReportFilterAgreesWithCsv) {
  TempDir tmp;
  const std::string pcap = tmp.file("h.pcap");
  ASSERT_EQ(run_command(std::string(SYNSCOPE_MAKE_HANDSHAKE_PCAP) + " --packets 60000 --quiet --out " + pcap, tmp).exit_status, 0);
  auto r = run_command(kBin + " analyze --csv " + pcap + " --html " + tmp.file("a.html"), tmp);
  ASSERT_EQ(r.exit_status, 0) << r.err;
  auto lines = split_lines(r.out);
  ASSERT_GT(lines.size(), 100u);
  // The outcome column of the CSV, by name.
  std::vector<std::string> header;
  {
    std::stringstream ss(lines[0]);
    for (std::string f; std::getline(ss, f, ',');) header.push_back(f);
  }
  auto col = std::find(header.begin(), header.end(), "outcome") - header.begin();
  ASSERT_LT(static_cast<std::size_t>(col), header.size()) << lines[0];
  auto syns_col = std::find(header.begin(), header.end(), "syns") - header.begin();
  ASSERT_GT(syns_col, col);
  int unanswered = 0, refused = 0, most_syns = 0, fewest_syns = 1 << 30;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    std::stringstream ss(lines[i]);
    std::string f, syns;
    for (long k = 0; k <= col; ++k) std::getline(ss, f, ',');
    for (long k = col + 1; k <= syns_col; ++k) std::getline(ss, syns, ',');
    unanswered += f == "unanswered";
    refused += f == "refused";
    most_syns = std::max(most_syns, std::stoi(syns));
    fewest_syns = std::min(fewest_syns, std::stoi(syns));
  }
  ASSERT_GT(unanswered, 0);
  ASSERT_GT(refused, 0);
  auto d = embedded(read_file(tmp.file("a.html")));
  EXPECT_EQ(d["attempts"]["total"].get<std::size_t>(), lines.size() - 1);

  auto b = open_in_browser(tmp.file("a.html"), output_dir("analyze-synthetic"), tmp, "--filter outcome:unanswered --screenshot synthetic");
  expect_clean_page(b);
  EXPECT_EQ(b["filterBefore"].get<std::size_t>(), lines.size() - 1);
  EXPECT_EQ(b["filterRows"], unanswered);
  // Unfiltered, sorted by SYNs: fewest first, then most first, as the CSV has them.
  auto b2 = open_in_browser(tmp.file("a.html"), output_dir("analyze-synthetic"), tmp, "--filter outcome:refused --sort syns");
  EXPECT_EQ(b2["filterRows"], refused);
  auto b3 = open_in_browser(tmp.file("a.html"), output_dir("analyze-synthetic"), tmp, "--sort syns");
  const auto cols = b3["sort"]["columns"];
  const auto at = std::find(cols.begin(), cols.end(), "syns") - cols.begin();
  ASSERT_LT(static_cast<std::size_t>(at), cols.size());
  ASSERT_LT(fewest_syns, most_syns);
  EXPECT_EQ(std::stoi(b3["sort"]["asc"][at].get<std::string>()), fewest_syns);
  EXPECT_EQ(std::stoi(b3["sort"]["desc"][at].get<std::string>()), most_syns);
}

TEST(ReportBrowser, ReplayReport) {
  TempDir tmp;
  auto r = run_command(kBin + " replay --kernel el7 --sysctl tcp_tw_recycle=1 --server 10.85.3.111:19090 --html " + tmp.file("r.html") +
                           " - < '" + kSeedText + "'",
                       tmp);
  ASSERT_EQ(r.exit_status, 0) << r.err;
  auto d = embedded(read_file(tmp.file("r.html")));
  EXPECT_EQ(d["kind"], "replay");
  ASSERT_FALSE(d["ts"].empty());
  ASSERT_EQ(d["ts"][0]["bands"].size(), 1u);
  EXPECT_EQ(d["ts"][0]["bands"][0][2], 3035582641u);
  auto b = open_in_browser(tmp.file("r.html"), output_dir("replay"), tmp, "--filter saved");
  expect_clean_page(b);
  EXPECT_NE(b["dom"]["tsStory"].get<std::string>().find("silently dropped"), std::string::npos);
  EXPECT_EQ(b["filterRows"], 0);  // with tw_recycle on, the model saves nothing
}

// The lab's report: its capture analysed, the model's queue depths with the lab's own end values, and
// both columns of counters.
TEST(ReportBrowser, LabReport) {
  if (auto why = lab::lab_unavailable_reason(); !why.empty()) GTEST_SKIP() << why;
  TempDir tmp;
  auto r = run_command(kBin + " lab accept-queue-overflow --html " + tmp.file("lab.html"), tmp);
  ASSERT_EQ(r.exit_status, 0) << r.out << r.err;
  auto d = embedded(read_file(tmp.file("lab.html")));
  EXPECT_EQ(d["kind"], "lab");
  EXPECT_EQ(d["counter_columns"], nlohmann::json::array({"lab", "model"}));
  ASSERT_EQ(d["queues"].size(), 1u);
  EXPECT_EQ(d["queues"][0]["backlog"], 2);
  EXPECT_EQ(d["queues"][0]["measured_a"], 3);  // A > B: full (§6.1)
  int peak = 0;
  for (const auto& a : d["queues"][0]["a"]) peak = std::max(peak, a.get<int>());
  EXPECT_EQ(peak, 3);
  bool accept_queue_finding = false;
  for (const auto& f : d["findings"]) accept_queue_finding |= f["title"].get<std::string>().rfind("accept queue full", 0) == 0;
  EXPECT_TRUE(accept_queue_finding);
  auto b = open_in_browser(tmp.file("lab.html"), output_dir("lab"), tmp, "--filter outcome:unanswered --screenshot lab");
  expect_clean_page(b);
  EXPECT_EQ(b["dom"]["queuePlots"], 1);
  EXPECT_EQ(b["filterRows"], 2);  // the two clients whose SYNs met the full accept queue
}

// The acceptance: a 2-million-packet capture's report opens in under 3 s and is under 20 MB.
// The load time is the browser's own: from the navigation's start to the report drawn.
TEST(ReportBrowser, TwoMillionPacketCaptureOpensFast) {
  TempDir tmp;
  const std::string pcap = tmp.file("2m.pcap");
  ASSERT_EQ(run_command(std::string(SYNSCOPE_MAKE_HANDSHAKE_PCAP) + " --packets 2000000 --quiet --out " + pcap, tmp).exit_status, 0);
  auto r = run_command(kBin + " analyze " + pcap + " --html " + tmp.file("2m.html") + " > /dev/null", tmp);
  ASSERT_EQ(r.exit_status, 0) << r.err;
  const auto bytes = std::filesystem::file_size(tmp.file("2m.html"));
  EXPECT_LT(bytes, 20u * 1000 * 1000);
  auto b = open_in_browser(tmp.file("2m.html"), output_dir("2m"), tmp, "--filter 'syns>2' --zoom 30 --screenshot 2m");
  expect_clean_page(b);
  const double ready = b["readyMs"];
  EXPECT_GT(ready, 0);
  EXPECT_LT(ready, 3000) << "report drawn " << ready << " ms after navigation start";
  // Dense at first (binned, and the page says so); 30 wheel steps in, single attempts are drawn.
  EXPECT_NE(b["zoom"]["before"].get<std::string>().find("aggregated"), std::string::npos) << b["zoom"];
  EXPECT_NE(b["zoom"]["after"].get<std::string>().find("each drawn"), std::string::npos) << b["zoom"];
  EXPECT_LT(b["filterRows"].get<int>(), b["filterBefore"].get<int>());
  EXPECT_GT(b["filterRows"].get<int>(), 0);
  std::ofstream(output_dir("2m") + "/budget.txt") << "bytes " << bytes << "\nreadyMs " << ready << "\nloadEventMs " << b["loadEventMs"]
                                                  << "\nrows " << b["filterBefore"] << "\n";
  RecordProperty("report_bytes", static_cast<int>(bytes));
  RecordProperty("ready_ms", static_cast<int>(ready));
}

}  // namespace
}  // namespace synscope::testing

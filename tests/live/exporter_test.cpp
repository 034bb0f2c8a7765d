// `synscope exporter`: our text serializer against prometheus-cpp's, the shipped alerting rules
// through promtool, and the real thing — a Prometheus server (Debian's) started by the test scrapes
// an exporter watching a namespace with an overflowing accept queue, and the test reads the numbers
// back through Prometheus's HTTP API (fact sheet §6.1, §13, §17).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <prometheus/text_serializer.h>

#include <cmath>
#include <fmt/format.h>
#include <fstream>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "live/exporter.h"
#include "live_test_support.h"
#include "support/process.h"

namespace synscope::testing {
namespace {

using nlohmann::json;
using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// "name{labels}" → value text, comments skipped: the samples a Prometheus server would ingest.
std::map<std::string, std::string> samples_of(const std::string& exposition) {
  std::map<std::string, std::string> out;
  for (const auto& line : split_lines(exposition)) {
    if (line.empty() || line[0] == '#') continue;
    auto space = line.rfind(' ');
    out[line.substr(0, space)] = line.substr(space + 1);
  }
  return out;
}

std::vector<std::string> comments_of(const std::string& exposition) {
  std::vector<std::string> out;
  for (const auto& line : split_lines(exposition))
    if (line.starts_with("#")) out.push_back(line);
  return out;
}

MetricFamily family(std::string name, std::string help, MetricType type,
                    std::vector<std::pair<std::vector<ClientMetric::Label>, double>> metrics) {
  MetricFamily f{std::move(name), std::move(help), type, {}};
  for (auto& [labels, v] : metrics) {
    ClientMetric m;
    m.label = labels;
    if (type == MetricType::Counter) m.counter.value = v;
    else if (type == MetricType::Gauge) m.gauge.value = v;
    else m.untyped.value = v;
    f.metric.push_back(m);
  }
  return f;
}

TEST(Exposition, SameSamplesAndCommentsAsPrometheusCppTextSerializer) {
  const std::vector<MetricFamily> families = {
      family("synscope_listener_accept_queue", "Recv-Q (§6.1), the accept queue", MetricType::Gauge,
             {{{{"address", "127.0.0.1"}, {"port", "8080"}}, 3}, {{{"address", "::"}, {"port", "22"}}, 0}}),
      family("synscope_netstat_TcpExt_ListenOverflows", "counter", MetricType::Counter, {{{}, 123456789012.0}}),
      family("synscope_unreadable", "escapes", MetricType::Gauge,
             {{{{"what", "a \"quoted\" path\\with\nnewline"}}, 1}}),
      family("synscope_scrape_duration_seconds", "fractions", MetricType::Gauge, {{{}, 0.001143556}}),
      family("synscope_odd", "special values", MetricType::Untyped,
             {{{{"v", "nan"}}, std::nan("")}, {{{"v", "inf"}}, INFINITY}, {{{"v", "-inf"}}, -INFINITY}, {{{"v", "neg"}}, -2.5}}),
      family("synscope_empty", "a family without samples", MetricType::Gauge, {}),
  };
  std::ostringstream reference;
  prometheus::TextSerializer().Serialize(reference, families);
  const std::string ours = live::render_exposition(families);

  EXPECT_EQ(comments_of(ours), comments_of(reference.str()));
  auto want = samples_of(reference.str()), got = samples_of(ours);
  ASSERT_EQ(got.size(), want.size()) << ours << "\n---\n" << reference.str();
  for (const auto& [series, value] : want) {
    ASSERT_TRUE(got.count(series)) << series << " missing from\n" << ours;
    const double a = std::stod(value), b = std::stod(got[series]);
    if (std::isnan(a)) EXPECT_TRUE(std::isnan(b)) << series;
    else EXPECT_EQ(a, b) << series << ": " << value << " vs " << got[series];
  }
  EXPECT_NE(ours.find(R"(synscope_unreadable{what="a \"quoted\" path\\with\nnewline"} 1)"), std::string::npos) << ours;
  EXPECT_NE(ours.find("synscope_netstat_TcpExt_ListenOverflows 123456789012\n"), std::string::npos) << ours;
}

// The text format escapes a newline and a backslash in HELP (prometheus-cpp 1.0.1 writes both raw;
// a raw newline breaks the line structure: one more reason we serialize ourselves).
TEST(Exposition, NewlineInHelpIsEscaped) {
  auto text = live::render_exposition({family("synscope_x", "first\nsecond \\ third", MetricType::Gauge, {{{}, 1}})});
  EXPECT_EQ(text, "# HELP synscope_x first\\nsecond \\\\ third\n# TYPE synscope_x gauge\nsynscope_x 1\n");
}

// The /metrics fast path writes the per-listener series without building ClientMetric objects; it
// must print exactly what the MetricFamily form serializes to (IPv6, no drops, several owners, a
// comm that needs escaping).
TEST(Exposition, ListenerFastPathPrintsExactlyTheFamilies) {
  live::HostSnapshot snap;
  live::Listener a;
  a.family = AF_INET;
  a.address = "127.0.0.1";
  a.port = 8080;
  a.accept_queue = 3;
  a.backlog = 2;
  a.syn_recv = 1;
  a.drops = 12;
  a.owners = {{10416, "python3"}, {10417, "we\"ird\\name"}};
  live::Listener b;
  b.family = AF_INET6;
  b.address = "::";
  b.port = 22;
  b.backlog = 4096;
  snap.listeners = {a, b};
  std::string fast;
  live::append_listener_exposition(fast, snap);
  EXPECT_EQ(fast, live::render_exposition(live::listener_metric_families(snap)));
  EXPECT_NE(fast.find(R"(synscope_listener_owner_info{address="127.0.0.1",port="8080",pid="10417",comm="we\"ird\\name"} 1)"),
            std::string::npos)
      << fast;
  EXPECT_EQ(fast.find(R"(synscope_listener_drops_total{address="::")"), std::string::npos) << "no drops reported, no series";
}

TEST(PrometheusRules, PromtoolAcceptsTheRulesAndTheirUnitTestsPass) {
  ASSERT_TRUE(have_tool("promtool")) << "promtool (Debian package prometheus) is installed by scripts/setup.sh";
  TempDir dir;
  const auto deploy = source_path("deploy/prometheus");
  auto check = run_command("cd '" + deploy + "' && promtool check rules synscope-rules.yml", dir);
  EXPECT_EQ(check.exit_status, 0) << check.out << check.err;
  EXPECT_NE(check.out.find("SUCCESS: 8 rules found"), std::string::npos) << check.out;
  auto unit = run_command("cd '" + deploy + "' && promtool test rules synscope-rules.test.yml", dir);
  EXPECT_EQ(unit.exit_status, 0) << unit.out << unit.err;
}

TEST(ExporterCli, BadListenAddressAndUnknownNamespaceAreOneLineErrors) {
  TempDir dir;
  expect_one_line_error(run_command(synscope_binary() + " exporter --listen 127.0.0.1:99999", dir), "--listen 127.0.0.1:99999");
  expect_one_line_error(run_command(synscope_binary() + " exporter --once --netns synscope-no-such-ns", dir),
                        "synscope-no-such-ns");
  expect_one_line_error(run_command(synscope_binary() + " exporter --owner-refresh 0", dir), "--owner-refresh");
  expect_one_line_error(run_command(synscope_binary() + " exporter --once --trace", dir), "--trace");
}

int free_loopback_port() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  auto a = ipv4("127.0.0.1", 0);
  socklen_t len = sizeof a;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    throw std::runtime_error("cannot find a free port");
  close(fd);
  return ntohs(a.sin_port);
}

// The exporter's port from its start-up line "… serving http://127.0.0.1:0/metrics (port N) …".
int exporter_port(const BackgroundCommand& exporter) {
  auto line = exporter.wait_for_line("(port ", 10);
  if (line.empty()) return 0;
  return std::stoi(line.substr(line.find("(port ") + 6));
}

std::string http_get(const std::string& url, const TempDir& dir) {
  return run_command("curl -sf --max-time 5 '" + url + "'", dir).out;
}

// An instant query through Prometheus's HTTP API: the first result's value, or nullopt.
std::optional<double> query(int prometheus_port, const std::string& promql, const TempDir& dir) {
  auto body = http_get(fmt::format("http://127.0.0.1:{}/api/v1/query?query={}", prometheus_port, promql), dir);
  if (body.empty()) return std::nullopt;
  auto j = json::parse(body, nullptr, false);
  if (j.is_discarded() || j["status"] != "success" || j["data"]["result"].empty()) return std::nullopt;
  return std::stod(j["data"]["result"][0]["value"][1].get<std::string>());
}

std::optional<double> poll_query(int port, const std::string& promql, const TempDir& dir, double seconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (auto v = query(port, promql, dir)) return v;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return std::nullopt;
}

TEST(ExporterNetns, PrometheusServerScrapesTheOverflowingListenerBack) {
  if (!is_root()) GTEST_SKIP() << "needs root: creates a network namespace";
  ASSERT_TRUE(have_tool("prometheus")) << "the Prometheus server (Debian package prometheus) is installed by scripts/setup.sh";
  TestNetns ns("exp");
  TempDir dir;
  Fds fds;
  listen_in(ns.name(), fds, "127.0.0.1", 8080, 2);  // listen(fd, 2), never accept()ed
  connect_in(ns.name(), fds, "127.0.0.1", 8080, 6);  // 3 fill it (B+1, §6.1), 3 keep retrying (§9)

  BackgroundCommand exporter(synscope_binary() + " exporter --listen 127.0.0.1:0 --min-window 1 --owner-refresh 1 --netns " +
                                 ns.name(),
                             dir.file("exporter.log"));
  const int port = exporter_port(exporter);
  ASSERT_GT(port, 0) << exporter.log();

  // Straight from the exporter: the text format, with the listener's queue and the kernel's counters.
  auto metrics = run_command(fmt::format("curl -s -D '{}' http://127.0.0.1:{}/metrics", dir.file("headers"), port), dir);
  EXPECT_NE(read_file(dir.file("headers")).find("Content-Type: text/plain; version=0.0.4"), std::string::npos);
  EXPECT_NE(metrics.out.find(R"(synscope_listener_accept_queue{address="127.0.0.1",port="8080"} 3)"), std::string::npos)
      << metrics.out;
  EXPECT_NE(metrics.out.find(R"(synscope_listener_backlog{address="127.0.0.1",port="8080"} 2)"), std::string::npos);
  EXPECT_NE(metrics.out.find("# TYPE synscope_netstat_TcpExt_TCPReqQFullDrop counter"), std::string::npos);
  EXPECT_NE(metrics.out.find(R"(synscope_kernel_info{release=")"), std::string::npos);

  const int prom_port = free_loopback_port();
  std::ofstream(dir.file("prometheus.yml")) << fmt::format(
      "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
      "scrape_configs:\n  - job_name: synscope\n    static_configs:\n      - targets: ['127.0.0.1:{}']\n",
      port);
  BackgroundCommand prometheus(fmt::format("prometheus --config.file='{}' --storage.tsdb.path='{}' "
                                           "--web.listen-address=127.0.0.1:{} --log.level=warn",
                                           dir.file("prometheus.yml"), dir.file("tsdb"), prom_port),
                               dir.file("prometheus.log"));

  auto aq = poll_query(prom_port, "synscope_listener_accept_queue%7Bport%3D%228080%22%7D", dir, 60);
  ASSERT_TRUE(aq) << "Prometheus never returned the metric\n" << prometheus.log() << exporter.log();
  EXPECT_EQ(*aq, 3);  // A = B + 1 (§6.1, §17)
  EXPECT_EQ(query(prom_port, "synscope_listener_backlog%7Bport%3D%228080%22%7D", dir), 2.0);
  auto overflows = poll_query(prom_port, "synscope_netstat_TcpExt_ListenOverflows%3E0", dir, 20);
  ASSERT_TRUE(overflows);
  EXPECT_GE(*overflows, 3);  // each retransmitted SYN of the three waiting clients (§17)
  // The doctor's finding, as a labelled gauge, once two scrapes are a window apart.
  auto finding = poll_query(prom_port,
                            "synscope_finding%7Bid%3D%22accept-queue-overflow%22%2Clistener%3D%22127.0.0.1%3A8080%22%7D",
                            dir, 30);
  ASSERT_TRUE(finding) << http_get(fmt::format("http://127.0.0.1:{}/metrics", port), dir).substr(0, 4000);
  EXPECT_EQ(*finding, 1);
  // The owner, from the background refresh: this test process holds the listener.
  auto owner = poll_query(prom_port, fmt::format("synscope_listener_owner_info%7Bport%3D%228080%22%2Cpid%3D%22{}%22%7D", getpid()),
                          dir, 20);
  EXPECT_TRUE(owner) << "no owner_info for pid " << getpid();

  EXPECT_EQ(exporter.stop(), 0) << exporter.log();  // SIGTERM: a clean stop
  EXPECT_NE(exporter.log().find("SIGTERM received, stopping"), std::string::npos) << exporter.log();
}

// --trace: the BPF tracer's drops by cause become a labelled counter of the scrape (docs/trace.md).
TEST(ExporterNetns, TraceExportsTracedDropsByCause) {
  if (!is_root()) GTEST_SKIP() << "needs root: creates a network namespace and attaches BPF programs";
  if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) GTEST_SKIP() << "no kernel BTF (/sys/kernel/btf/vmlinux)";
  TestNetns ns("exptr");
  TempDir dir;
  Fds fds;
  listen_in(ns.name(), fds, "127.0.0.1", 8080, 2);
  BackgroundCommand exporter(synscope_binary() + " exporter --trace --listen 127.0.0.1:0 --netns " + ns.name(),
                             dir.file("exporter.log"));
  const int port = exporter_port(exporter);
  ASSERT_GT(port, 0) << exporter.log();
  EXPECT_NE(exporter.log().find("tracing SYNs (tc+raw_tracepoint)"), std::string::npos) << exporter.log();
  connect_in(ns.name(), fds, "127.0.0.1", 8080, 6);  // 3 fill the queue (§6.1); the others' SYNs are dropped
  std::string metrics;
  double drops = 0;
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (drops < 3 && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    metrics = http_get(fmt::format("http://127.0.0.1:{}/metrics", port), dir);
    auto samples = samples_of(metrics);
    for (const auto& [series, value] : samples)
      if (series.starts_with(R"(synscope_trace_drops_total{cause="accept_queue_full")")) drops = std::stod(value);
  }
  EXPECT_GE(drops, 3) << metrics.substr(0, 3000);  // the three waiting clients' SYNs, at least once each
  EXPECT_NE(metrics.find("synscope_trace_contradictions_total 0\n"), std::string::npos);
  EXPECT_NE(metrics.find(R"(synscope_trace_info{path="tc+raw_tracepoint"} 1)"), std::string::npos);
  EXPECT_EQ(exporter.stop(), 0) << exporter.log();
  // The tracer's tc state is gone with it (only lo in this namespace).
  auto qdisc = run_command("ip netns exec " + ns.name() + " tc filter show dev lo ingress", dir);
  EXPECT_EQ(qdisc.out.find("bpf"), std::string::npos) << qdisc.out;
}

TEST(ExporterNetns, TenThousandListenersAreAllExported) {
  if (!is_root()) GTEST_SKIP() << "needs root: creates a network namespace";
  TestNetns ns("exp10k");
  TempDir dir;
  HeldListeners holder(ns.name(), 10000, dir);
  auto r = run_command(synscope_binary() + " exporter --once --netns " + ns.name(), dir);
  ASSERT_EQ(r.exit_status, 0) << r.err;
  int backlog_series = 0;
  for (const auto& line : split_lines(r.out)) backlog_series += line.starts_with("synscope_listener_backlog{") ? 1 : 0;
  EXPECT_EQ(backlog_series, 10000);
  EXPECT_NE(r.out.find("\nsynscope_listeners 10000\n"), std::string::npos);
  // The overflowing one: listen(fd, 1) holding A = 2 (§6.1).
  EXPECT_NE(r.out.find(R"(synscope_listener_accept_queue{address="127.0.0.1",port="20000"} 2)"), std::string::npos);
  EXPECT_NE(r.out.find(R"(synscope_listener_backlog{address="127.0.0.1",port="20000"} 1)"), std::string::npos);
  const auto samples = samples_of(r.out);
  ASSERT_TRUE(samples.count("synscope_scrape_duration_seconds"));
  EXPECT_GT(std::stod(samples.at("synscope_scrape_duration_seconds")), 0);
}

}  // namespace
}  // namespace synscope::testing

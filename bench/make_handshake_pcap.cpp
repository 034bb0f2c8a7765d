// make_handshake_pcap: writes a realistic, handshake-heavy Ethernet/IPv4/TCP pcap for the
// `synscope analyze` benchmark (bench/analyze_compare.sh), the memory-bound run
// (bench/analyze_memory.sh) and the CI memory test (tests/analyze/analyze_memory_test.cpp).
//
//   make_handshake_pcap [--packets N | --bytes B] [--out FILE|-] [--seed S] [--conn-rate R]
//                       [--clients N] [--nat-ips N] [--nat-hosts N] [--servers N]
//                       [--flood-interval S] [--flood-rate R] [--flood-length S] [--quiet]
//
// The capture is taken at the servers (as `tcpdump -i any` on a small server farm would see it):
//
//   * clients: --clients direct hosts in 198.18.0.0/15 plus --nat-hosts hosts behind --nat-ips NAT
//     addresses (203.0.113.x, ports rewritten by the NAT); a Linux/Windows/macOS mix with their SYN
//     option layouts; TCP timestamps on most SYNs (Linux and macOS; Windows and a few Linux hosts
//     without), per-connection TS offsets (Linux >= 4.10) or one clock per host (older Linux,
//     macOS), a 1 ms TS clock, per-host RTTs from 0.2 ms to 150 ms;
//   * servers: --servers Linux hosts (192.0.2.10...) on :443, :80, :8080, :22, :5432;
//   * connections arrive as a Poisson process (--conn-rate per second of capture time, default
//     3000, which gives ~30k packets/s): most are short (SYN, SYN-ACK, ACK, one to a few
//     request/response exchanges, FIN/ACK both ways; the client closes first in most, the server
//     in about a third), with failures in realistic shares:
//       - SYNs dropped and retransmitted on the Linux schedule (1, 2, 4, 8, 16, 32 s gaps, same ISN,
//         TSval advancing), then answered, or given up after 2-7 SYNs (three times as likely for
//         clients behind a NAT: the per-host PAWS signature);
//       - SYNs to a closed port refused with RST/ACK;
//       - the final ACK ignored (accept queue full): SYN-ACK retransmitted after 1, 2, 4 ... s, each
//         answered by a duplicate ACK, the request retransmitted on the client's RTO, until the
//         server accepts, or the client gives up with a RST after 30 s;
//       - a few SYN floods (every --flood-interval s of capture time on average, 0.5-3 s long,
//         3k-20k SYN/s from spoofed sources): with SYN cookies (one SYN-ACK each) or without (the
//         first SYNs fill the SYN queue and get SYN-ACK retransmissions, the rest and the legitimate
//         clients' SYNs to that port are dropped until the queue drains).
//
// Output is deterministic per seed. Packets are generated connection by connection: each open
// connection holds its own few packets, and a min-heap over the open connections' next packet
// times interleaves them in time order, so memory is bounded by the open connections (a few
// thousand) however large the output; >10 GB streams to stdout at several hundred MB/s.
// The run ends after exactly --packets packets (or at the first packet that reaches --bytes
// bytes), cutting the connections still open, as a capture that is stopped does.
#include <pcap/pcap.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <limits>
#include <queue>
#include <string>
#include <vector>

#include "capture/pcap_writer.h"
#include "core/rng.h"
#include "core/segment.h"

namespace {

using namespace synscope;
namespace flag = synscope::tcp_flag;

constexpr std::int64_t kMs = 1000;         // times are microseconds since the capture start
constexpr std::int64_t kSec = 1000 * kMs;
constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kStartUnixSec = 1710147600;  // 2024-03-11 09:00:00 UTC

struct Options {
  std::uint64_t packets = 2'000'000;
  std::uint64_t bytes = 0;  // 0: stop by packets
  std::string out = "handshake.pcap";
  std::uint64_t seed = 1;
  double conn_rate = 3000;      // new connections per second of capture time
  int clients = 20000;          // direct client hosts
  int nat_ips = 8;
  int nat_hosts = 2000;         // hosts behind the NAT addresses, spread over them
  int servers = 4;
  double flood_interval = 40;   // mean seconds of capture time between SYN floods (0 = none)
  double flood_rate = 0;        // SYNs per second of each flood (0 = random, 3k-20k)
  double flood_length = 0;      // seconds each flood lasts (0 = random, 0.5-3)
  bool quiet = false;
};

[[noreturn]] void usage(const char* msg) {
  if (msg) std::fprintf(stderr, "make_handshake_pcap: %s\n", msg);
  std::fprintf(stderr,
               "usage: make_handshake_pcap [--packets N | --bytes B] [--out FILE|-] [--seed S]\n"
               "         [--conn-rate R] [--clients N] [--nat-ips N] [--nat-hosts N] [--servers N]\n"
               "         [--flood-interval S] [--flood-rate R] [--flood-length S] [--quiet]\n"
               "  --packets N         packets to write (default 2000000)\n"
               "  --bytes B           write until the file reaches B bytes instead (suffixes K, M, G)\n"
               "  --out FILE          output pcap, '-' = stdout (default handshake.pcap)\n"
               "  --seed S            random seed (default 1); output is deterministic per seed\n"
               "  --conn-rate R       new connections per second of capture time (default 3000)\n"
               "  --clients N         direct client hosts (default 20000, at most 131072)\n"
               "  --nat-ips N         NAT addresses (default 8)\n"
               "  --nat-hosts N       client hosts behind them (default 2000)\n"
               "  --servers N         server addresses (default 4)\n"
               "  --flood-interval S  mean seconds between SYN floods, 0 = none (default 40)\n"
               "  --flood-rate R      SYNs per second in every flood (default: random, 3000-20000)\n"
               "  --flood-length S    seconds every flood lasts (default: random, 0.5-3)\n"
               "  --quiet             no summary on stderr\n");
  std::exit(msg ? 2 : 0);
}

std::uint64_t parse_size(const char* s) {
  char* end = nullptr;
  const double v = std::strtod(s, &end);
  if (end == s || v < 0) usage("bad number");
  double mult = 1;
  if (*end == 'K' || *end == 'k') mult = 1e3, ++end;
  else if (*end == 'M' || *end == 'm') mult = 1e6, ++end;
  else if (*end == 'G' || *end == 'g') mult = 1e9, ++end;
  if (*end) usage("bad number");
  return static_cast<std::uint64_t>(v * mult);
}

Options parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) usage(("missing value for " + a).c_str());
      return argv[++i];
    };
    if (a == "--packets") o.packets = parse_size(value()), o.bytes = 0;
    else if (a == "--bytes") o.bytes = parse_size(value()), o.packets = 0;
    else if (a == "--out" || a == "-o") o.out = value();
    else if (a == "--seed") o.seed = parse_size(value());
    else if (a == "--conn-rate") o.conn_rate = std::strtod(value(), nullptr);
    else if (a == "--clients") o.clients = static_cast<int>(parse_size(value()));
    else if (a == "--nat-ips") o.nat_ips = static_cast<int>(parse_size(value()));
    else if (a == "--nat-hosts") o.nat_hosts = static_cast<int>(parse_size(value()));
    else if (a == "--servers") o.servers = static_cast<int>(parse_size(value()));
    else if (a == "--flood-interval") o.flood_interval = std::strtod(value(), nullptr);
    else if (a == "--flood-rate") o.flood_rate = std::strtod(value(), nullptr);
    else if (a == "--flood-length") o.flood_length = std::strtod(value(), nullptr);
    else if (a == "--quiet" || a == "-q") o.quiet = true;
    else if (a == "--help" || a == "-h") usage(nullptr);
    else usage(("unknown argument " + a).c_str());
  }
  if (o.packets == 0 && o.bytes == 0) usage("--packets or --bytes must be positive");
  if (!(o.conn_rate > 0)) usage("--conn-rate must be positive");
  if (o.clients < 1 || o.clients > 131072) usage("--clients must be 1..131072");
  if (o.servers < 1 || o.servers > 200) usage("--servers must be 1..200");
  if (o.nat_ips < 0 || o.nat_ips > 250 || o.nat_hosts < 0) usage("bad --nat-ips/--nat-hosts");
  if (o.nat_ips == 0) o.nat_hosts = 0;
  return o;
}

Ipv4Addr ip4(std::uint32_t a, std::uint32_t b, std::uint32_t c, std::uint32_t d) {
  return Ipv4Addr{(a << 24) | (b << 16) | (c << 8) | d};
}

// ---------------------------------------------------------------------------------------------
// The population

enum class Os : std::uint8_t { Linux, Windows, Mac };

struct Host {
  Ipv4Addr ip;
  int nat = -1;               // index into nats, or -1 for a direct host
  std::uint16_t next_port;    // ephemeral port cursor (direct hosts)
  Os os = Os::Linux;
  bool ts = true;             // sends TCP timestamps
  bool per_conn_ts = true;    // TS offset per 4-tuple (Linux >= 4.10) rather than one host clock
  std::uint32_t ts_off = 0;   // host clock offset
  std::int64_t rtt = 0;       // µs, to the servers
  std::uint8_t ttl = 64;      // as seen at the server
};

struct Nat {
  Ipv4Addr ip;
  std::uint16_t next_port;
};

struct Server {
  Ipv4Addr ip;
  std::uint32_t ts_off;
};

// One packet of an open connection, before it is encoded. TS values are filled when it is sent.
struct Pkt {
  std::int64_t t;
  std::uint32_t seq, ack;
  std::uint16_t len, win;
  std::uint8_t flags;
  bool from_server;
};

enum Kind : std::uint8_t {
  kOkClientClose,
  kOkServerClose,
  kOkAbort,          // closed by a client RST instead of FIN
  kSynRetryAnswered,
  kSynTimeout,
  kRefused,
  kAckIgnored,       // final ACK ignored, accepted later
  kAckIgnoredGaveUp, // final ACK ignored until the client gave up
  kFloodSyn,
  kKindCount
};
const char* const kKindNames[kKindCount] = {"ok (client closed)", "ok (server closed)", "ok (client RST)",
                                             "SYN retransmitted then answered", "SYN never answered",
                                             "refused (RST)", "final ACK ignored, then accepted",
                                             "final ACK ignored, client gave up", "flood SYN"};

enum class SynStyle : std::uint8_t { Linux, LinuxNoTs, Windows, Mac, FloodNone, FloodMss };

struct Conn {
  Endpoint client, server;
  SynStyle style = SynStyle::Linux;
  bool ts = false;
  std::uint8_t cttl = 64;
  std::uint16_t cipid = 0, sipid = 0;
  std::uint32_t cts_off = 0, sts_off = 0;
  std::uint32_t last_val[2] = {0, 0};  // last TSval sent by the client [0] and the server [1]
  std::vector<Pkt> pkts;
  std::uint32_t next = 0;
};

// ---------------------------------------------------------------------------------------------
// Output: libpcap's dumper on a FILE* with a large buffer.

class Output {
 public:
  explicit Output(const std::string& path) {
    file_ = path == "-" ? stdout : std::fopen(path.c_str(), "wb");
    if (!file_) {
      std::fprintf(stderr, "make_handshake_pcap: cannot open %s: %s\n", path.c_str(), std::strerror(errno));
      std::exit(2);
    }
    buf_.resize(1 << 20);
    std::setvbuf(file_, buf_.data(), _IOFBF, buf_.size());
    pcap_ = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, capture::PcapWriter::kSnapLen, PCAP_TSTAMP_PRECISION_MICRO);
    dumper_ = pcap_ ? pcap_dump_fopen(pcap_, file_) : nullptr;
    if (!dumper_) {
      std::fprintf(stderr, "make_handshake_pcap: cannot write %s: %s\n", path.c_str(), pcap_ ? pcap_geterr(pcap_) : "pcap_open_dead failed");
      std::exit(2);
    }
    bytes_ = 24;  // pcap file header
    frame_.reserve(2048);
  }
  ~Output() { close(); }
  void write(const Segment& s, std::int64_t t_us) {
    const std::size_t len = capture::encode_ethernet_frame(s, frame_);
    pcap_pkthdr h{};
    h.ts.tv_sec = kStartUnixSec + t_us / kSec;
    h.ts.tv_usec = t_us % kSec;
    h.caplen = h.len = static_cast<bpf_u_int32>(len);
    pcap_dump(reinterpret_cast<u_char*>(dumper_), &h, frame_.data());
    bytes_ += 16 + len;
    ++packets_;
  }
  void close() {
    if (dumper_) {
      pcap_dump_flush(dumper_);
      if (std::ferror(file_)) {
        std::fprintf(stderr, "make_handshake_pcap: write error\n");
        std::exit(1);
      }
      pcap_dump_close(dumper_);  // closes file_ (stdout too)
      dumper_ = nullptr;
    }
    if (pcap_) pcap_close(pcap_), pcap_ = nullptr;
  }
  std::uint64_t bytes() const { return bytes_; }
  std::uint64_t packets() const { return packets_; }

 private:
  std::FILE* file_ = nullptr;
  std::vector<char> buf_;
  pcap_t* pcap_ = nullptr;
  pcap_dumper_t* dumper_ = nullptr;
  std::vector<std::uint8_t> frame_;
  std::uint64_t bytes_ = 0, packets_ = 0;
};

// ---------------------------------------------------------------------------------------------
// The generator

class Generator {
 public:
  explicit Generator(const Options& o) : o_(o), rng_(o.seed) { make_population(); }

  void run(Output& out);
  void print_summary(const Output& out, double wall_s) const;

 private:
  struct HeapEntry {
    std::int64_t t;
    std::uint64_t order;  // tie-break: deterministic and FIFO among equal times
    std::uint32_t conn;
    bool operator>(const HeapEntry& x) const { return t != x.t ? t > x.t : order > x.order; }
  };
  struct Flood {
    std::int64_t start = 0, end = 0, next_syn = 0;
    double rate = 0;
    Endpoint target;
    bool cookies = true;
    bool mss_option = false;
    std::uint16_t window = 1024;
    std::uint32_t backlog = 256;
    std::deque<std::int64_t> queued;  // expiry times of the SYN-queue entries the flood holds
  };

  double uniform(double a, double b) { return a + (b - a) * rng_.uniform01(); }
  double log_uniform(double a, double b) { return std::exp(uniform(std::log(a), std::log(b))); }
  std::int64_t exp_interval(double rate_per_s) {
    return static_cast<std::int64_t>(-std::log(1.0 - rng_.uniform01()) / rate_per_s * 1e6) + 1;
  }
  bool chance(double p) { return rng_.uniform01() < p; }
  std::int64_t stack_delay() { return 15 + static_cast<std::int64_t>(rng_.below(50)); }  // server kernel turnaround

  void make_population();
  std::uint32_t alloc_conn();
  void push(std::uint32_t idx);
  void new_connection(std::int64_t t0);
  void new_flood_syn(std::int64_t t);
  void schedule_flood(std::int64_t after);
  void emit(Output& out, Conn& c, const Pkt& p);

  const Options o_;
  Rng rng_;
  std::vector<Host> hosts_;
  std::vector<Nat> nats_;
  std::vector<Server> servers_;
  std::size_t direct_hosts_ = 0;
  std::vector<Conn> conns_;
  std::vector<std::uint32_t> free_;
  std::priority_queue<HeapEntry, std::vector<HeapEntry>, std::greater<>> heap_;
  std::uint64_t order_ = 0;
  Flood flood_;
  // Endpoints whose SYN queue a flood without cookies fills, from its start until its entries
  // expire: the current flood's and the previous one's.
  struct Block {
    Endpoint target;
    std::int64_t from = kNever, until = kNever;
  };
  Block blocks_[2];
  std::int64_t now_ = 0;
  // statistics
  std::uint64_t kind_count_[kKindCount] = {};
  std::uint64_t floods_ = 0;
  std::size_t peak_open_ = 0;
  std::uint32_t conn_serial_ = 0;
};

void Generator::make_population() {
  servers_.resize(static_cast<std::size_t>(o_.servers));
  for (std::size_t i = 0; i < servers_.size(); ++i)
    servers_[i] = {ip4(192, 0, 2, static_cast<std::uint32_t>(10 + i)), rng_.next_u32()};
  nats_.resize(static_cast<std::size_t>(o_.nat_ips));
  for (std::size_t i = 0; i < nats_.size(); ++i)
    nats_[i] = {ip4(203, 0, 113, static_cast<std::uint32_t>(1 + i)), static_cast<std::uint16_t>(1024 + rng_.below(60000))};

  auto make_host = [&](Ipv4Addr ip, int nat) {
    Host h;
    h.ip = ip;
    h.nat = nat;
    h.next_port = static_cast<std::uint16_t>(32768 + rng_.below(28232));
    const double r = rng_.uniform01();
    h.os = r < 0.60 ? Os::Linux : r < 0.85 ? Os::Windows : Os::Mac;
    h.ts = h.os != Os::Windows && chance(0.95);
    // Hosts behind NATs skew old (appliances, CentOS 7 era): more of them share one TS clock.
    h.per_conn_ts = h.os == Os::Linux && chance(nat >= 0 ? 0.5 : 0.8);
    h.ts_off = rng_.next_u32();
    h.rtt = static_cast<std::int64_t>(log_uniform(200, 150'000));
    const std::uint8_t initial = h.os == Os::Windows ? 128 : 64;
    h.ttl = static_cast<std::uint8_t>(initial - 4 - rng_.below(16));
    return h;
  };
  // Direct hosts: a bijection of the index onto 198.18.0.0/15 (131072 addresses), so they are
  // distinct yet spread over the range.
  const std::uint32_t base = ip4(198, 18, 0, 0).value, off = static_cast<std::uint32_t>(rng_.below(131072));
  for (int i = 0; i < o_.clients; ++i)
    hosts_.push_back(make_host(Ipv4Addr{base + ((static_cast<std::uint32_t>(i) * 40503u + off) & 131071u)}, -1));
  direct_hosts_ = hosts_.size();
  for (int i = 0; i < o_.nat_hosts; ++i) {
    // Uneven NATs: the first ones carry more hosts (an office, a carrier-grade NAT, ...).
    const int nat = static_cast<int>(std::min<std::uint64_t>(rng_.below(static_cast<std::uint64_t>(o_.nat_ips)),
                                                             rng_.below(static_cast<std::uint64_t>(o_.nat_ips))));
    Host h = make_host(nats_[static_cast<std::size_t>(nat)].ip, nat);
    h.rtt = 0;  // set below from the NAT's path
    hosts_.push_back(h);
  }
  std::vector<std::int64_t> nat_rtt(nats_.size());
  for (auto& r : nat_rtt) r = static_cast<std::int64_t>(log_uniform(2'000, 80'000));
  for (std::size_t i = direct_hosts_; i < hosts_.size(); ++i)
    hosts_[i].rtt = nat_rtt[static_cast<std::size_t>(hosts_[i].nat)] + static_cast<std::int64_t>(rng_.below(3000));
}

std::uint32_t Generator::alloc_conn() {
  std::uint32_t idx;
  if (!free_.empty()) {
    idx = free_.back();
    free_.pop_back();
  } else {
    idx = static_cast<std::uint32_t>(conns_.size());
    conns_.emplace_back();
  }
  Conn& c = conns_[idx];
  c.pkts.clear();
  c.next = 0;
  c.last_val[0] = c.last_val[1] = 0;
  c.cipid = static_cast<std::uint16_t>(rng_.next_u32());
  c.sipid = static_cast<std::uint16_t>(rng_.next_u32());
  return idx;
}

void Generator::push(std::uint32_t idx) {
  Conn& c = conns_[idx];
  if (c.pkts.empty()) {
    free_.push_back(idx);
    return;
  }
  // Scripts are written in causal order; a few packets of interleaved retransmission schedules
  // need sorting (stable: equal times keep their causal order).
  std::stable_sort(c.pkts.begin(), c.pkts.end(), [](const Pkt& a, const Pkt& b) { return a.t < b.t; });
  heap_.push({c.pkts[0].t, order_++, idx});
  peak_open_ = std::max(peak_open_, heap_.size());
}

void Generator::schedule_flood(std::int64_t after) {
  Flood& f = flood_;
  if (o_.flood_interval <= 0) {
    f.start = f.end = f.next_syn = kNever;
    return;
  }
  f.start = after + exp_interval(1.0 / o_.flood_interval);
  const double length = uniform(0.5, 3.0), rate = log_uniform(3000, 20000);  // drawn always: same stream
  f.end = f.start + static_cast<std::int64_t>((o_.flood_length > 0 ? o_.flood_length : length) * kSec);
  f.next_syn = f.start;
  f.rate = o_.flood_rate > 0 ? o_.flood_rate : rate;
  const Server& s = servers_[rng_.below(servers_.size())];
  f.target = {s.ip, static_cast<std::uint16_t>(chance(0.7) ? 443 : 80)};
  f.cookies = chance(0.5);
  f.mss_option = chance(0.5);
  static const std::uint16_t windows[] = {512, 1024, 8192, 64240};
  f.window = windows[rng_.below(4)];
  f.backlog = chance(0.5) ? 128 : 512;
  f.queued.clear();
  blocks_[1] = blocks_[0];
  blocks_[0] = f.cookies ? Block{} : Block{f.target, f.start, f.end + 4 * kSec};
}

// A spoofed SYN of the current flood: one SYN from a random address and port, then what the
// server answers (a cookie SYN-ACK; or, without cookies, SYN-ACK + 2 retransmissions while the SYN
// queue has room, nothing once it is full).
void Generator::new_flood_syn(std::int64_t t) {
  Flood& f = flood_;
  const std::uint32_t idx = alloc_conn();
  Conn& c = conns_[idx];
  std::uint32_t a;
  do a = rng_.next_u32();
  while ((a >> 24) == 0 || (a >> 24) == 10 || (a >> 24) == 127 || (a >> 24) >= 224);
  c.client = {Ipv4Addr{a}, static_cast<std::uint16_t>(1024 + rng_.below(64512))};
  c.server = f.target;
  c.style = f.mss_option ? SynStyle::FloodMss : SynStyle::FloodNone;
  c.ts = false;
  c.cttl = static_cast<std::uint8_t>(40 + rng_.below(200));
  const std::uint32_t isn = rng_.next_u32();
  c.pkts.push_back({t, isn, 0, 0, f.window, flag::SYN, false});
  const std::uint32_t s_isn = rng_.next_u32();
  const std::int64_t d = stack_delay();
  if (f.cookies) {
    c.pkts.push_back({t + d, s_isn, isn + 1, 0, 65160, flag::SYN | flag::ACK, true});
  } else {
    while (!f.queued.empty() && f.queued.front() <= t) f.queued.pop_front();
    if (f.queued.size() < f.backlog) {
      for (std::int64_t at : {std::int64_t{0}, 1 * kSec, 3 * kSec})
        c.pkts.push_back({t + d + at, s_isn, isn + 1, 0, 65160, flag::SYN | flag::ACK, true});
      f.queued.push_back(t + d + 4 * kSec);  // dropped 1 s after the last retransmission
    }
  }
  ++kind_count_[kFloodSyn];
  push(idx);
}

// One legitimate connection attempt starting (first SYN) at t0.
void Generator::new_connection(std::int64_t t0) {
  const std::uint32_t idx = alloc_conn();
  Conn& c = conns_[idx];
  ++conn_serial_;

  // Who: 20 % of connections come from hosts behind a NAT.
  const bool from_nat = hosts_.size() > direct_hosts_ && chance(0.2);
  Host& h = from_nat ? hosts_[direct_hosts_ + rng_.below(hosts_.size() - direct_hosts_)]
                     : hosts_[rng_.below(direct_hosts_)];
  std::uint16_t cport;
  if (h.nat >= 0) {
    Nat& n = nats_[static_cast<std::size_t>(h.nat)];
    cport = n.next_port;
    n.next_port = static_cast<std::uint16_t>(n.next_port >= 65535 ? 1024 : n.next_port + 1);
  } else {
    cport = h.next_port;
    h.next_port = static_cast<std::uint16_t>(h.next_port + 2 > 60999 ? 32768 + (h.next_port & 1) : h.next_port + 2);
  }
  const Server& srv = servers_[rng_.below(servers_.size())];

  // What happens to it.
  const double nat_factor = h.nat >= 0 ? 3.0 : 1.0;
  double r = rng_.uniform01();
  Kind kind;
  const double p_retry = 0.05 * nat_factor, p_timeout = 0.015 * nat_factor, p_refused = 0.04, p_ackign = 0.025;
  if ((r -= p_retry) < 0) kind = kSynRetryAnswered;
  else if ((r -= p_timeout) < 0) kind = kSynTimeout;
  else if ((r -= p_refused) < 0) kind = kRefused;
  else if ((r -= p_ackign) < 0) kind = chance(0.8) ? kAckIgnored : kAckIgnoredGaveUp;
  else kind = chance(0.03) ? kOkAbort : chance(0.33) ? kOkServerClose : kOkClientClose;

  std::uint16_t sport;
  if (kind == kRefused) {
    static const std::uint16_t closed[] = {8443, 9200, 3306, 25, 6379};
    sport = closed[rng_.below(5)];
  } else {
    const double p = rng_.uniform01();
    sport = p < 0.50 ? 443 : p < 0.75 ? 80 : p < 0.85 ? 8080 : p < 0.90 ? 22 : 5432;
  }
  c.client = {h.ip, cport};
  c.server = {srv.ip, sport};
  c.ts = h.ts;
  c.style = h.os == Os::Windows ? SynStyle::Windows : h.os == Os::Mac ? SynStyle::Mac
            : h.ts ? SynStyle::Linux : SynStyle::LinuxNoTs;
  c.cttl = h.ttl;
  const std::uint64_t tuple = (std::uint64_t{c.client.addr.value} << 32) ^ (std::uint64_t{c.client.port} << 16) ^ sport ^
                              (std::uint64_t{srv.ip.value} << 7);
  c.cts_off = h.per_conn_ts ? h.ts_off + static_cast<std::uint32_t>(keyed_hash(o_.seed, tuple)) : h.ts_off;
  c.sts_off = srv.ts_off + static_cast<std::uint32_t>(keyed_hash(o_.seed ^ 0x5a5a, tuple));

  // A SYN flood without cookies on this port fills its SYN queue: this SYN and its
  // retransmissions are dropped until the flood has ended and its queue entries have expired.
  int drops = 0;
  bool answered = true;
  static const std::int64_t syn_at[7] = {0, 1 * kSec, 3 * kSec, 7 * kSec, 15 * kSec, 31 * kSec, 63 * kSec};
  int syns_sent = 7;  // a client that is never answered: how many SYNs before it gives up
  if (kind == kSynRetryAnswered) {
    const double p = rng_.uniform01();
    drops = p < 0.6 ? 1 : p < 0.9 ? 2 : 3;
  } else if (kind == kSynTimeout) {
    answered = false;
    syns_sent = 2 + static_cast<int>(rng_.below(6));
  }
  for (const Block& b : blocks_) {
    if (kind == kRefused || kind == kSynTimeout || !(c.server == b.target) || t0 < b.from || t0 >= b.until) continue;
    drops = 0;
    while (drops < 7 && t0 + syn_at[drops] < b.until) ++drops;
    if (drops >= 7) answered = false, syns_sent = 7, kind = kSynTimeout;
    else kind = kSynRetryAnswered;
  }
  ++kind_count_[kind];

  const std::int64_t rtt = h.rtt + static_cast<std::int64_t>(rng_.below(static_cast<std::uint64_t>(h.rtt / 10 + 1)));
  const bool ts = c.ts;
  const std::uint32_t mss = ts ? 1448 : 1460;
  const std::uint16_t csyn_win = h.os == Os::Mac ? 65535 : 64240;
  const std::uint16_t cwin = h.os == Os::Windows ? 1026 : h.os == Os::Mac ? 2058 : 502;
  const std::uint16_t swin = static_cast<std::uint16_t>(509 + rng_.below(4));
  const std::uint32_t c_isn = rng_.next_u32();
  const std::uint32_t s_isn = rng_.next_u32();
  std::uint32_t c_nxt = c_isn + 1, s_nxt = s_isn + 1;  // next sequence number each side sends
  auto& P = c.pkts;
  auto cl = [&](std::int64_t t, std::uint8_t f, std::uint32_t seq, std::uint16_t len) {
    P.push_back({t, seq, (f & flag::ACK) ? s_nxt : 0, len, cwin, f, false});
  };
  auto sv = [&](std::int64_t t, std::uint8_t f, std::uint32_t seq, std::uint16_t len) {
    P.push_back({t, seq, c_nxt, len, swin, f, true});
  };

  // SYNs: dropped ones, then the answered one (or none).
  const int n_syn = answered ? drops + 1 : syns_sent;
  for (int i = 0; i < n_syn; ++i) P.push_back({t0 + syn_at[i], c_isn, 0, 0, csyn_win, flag::SYN, false});
  if (!answered) {
    push(idx);
    return;
  }
  const std::int64_t t_syn = t0 + syn_at[drops];
  if (kind == kRefused) {
    P.push_back({t_syn + stack_delay(), 0, c_isn + 1, 0, 0, flag::RST | flag::ACK, true});
    push(idx);
    return;
  }
  const std::int64_t t_synack = t_syn + stack_delay();
  P.push_back({t_synack, s_isn, c_isn + 1, 0, 65160, flag::SYN | flag::ACK, true});
  const std::int64_t t_ack = t_synack + rtt;
  cl(t_ack, flag::ACK, c_nxt, 0);

  // Request/response exchanges. `t_req` is when the first request reaches the server.
  std::int64_t t_req = t_ack + 5 + static_cast<std::int64_t>(rng_.below(50));
  std::uint16_t first_len = 0;  // a request already sent (and ignored) keeps its length
  auto request_len = [&] { return static_cast<std::uint16_t>(log_uniform(50, 700)); };
  if (kind == kAckIgnored || kind == kAckIgnoredGaveUp) {
    // The accept queue is full: the ACK and the request are ignored; the server retransmits its
    // SYN-ACK (1, 2, 4, 8, 16 s gaps) and the client answers each with a duplicate ACK; the client
    // retransmits the request on its RTO (200 ms + RTT, doubling).
    const std::uint16_t len = request_len();
    const std::int64_t rto = 200 * kMs + rtt;
    const int accept_after = kind == kAckIgnored ? 1 + static_cast<int>(rng_.below(3)) : 99;
    const std::int64_t t_accept = kind == kAckIgnored ? t_synack + syn_at[accept_after] + rtt : kNever;
    const std::int64_t t_giveup = kind == kAckIgnoredGaveUp ? t_synack + 30 * kSec + static_cast<std::int64_t>(rng_.below(kSec)) : kNever;
    for (int i = 1; i <= 5 && i <= accept_after; ++i) {
      const std::int64_t t = t_synack + syn_at[i];
      if (t >= t_giveup) break;
      P.push_back({t, s_isn, c_isn + 1, 0, 65160, flag::SYN | flag::ACK, true});
      cl(t + rtt, flag::ACK, c_nxt + (t + rtt > t_req ? len : 0), 0);
    }
    std::int64_t t = t_req, backoff = rto;
    while (t < t_accept && t < t_giveup) {  // ignored copies
      cl(t, flag::PSH | flag::ACK, c_nxt, len);
      t += backoff;
      backoff *= 2;
    }
    if (kind == kAckIgnoredGaveUp) {
      cl(t_giveup, flag::RST | flag::ACK, c_nxt + len, 0);
      push(idx);
      return;
    }
    t_req = t;  // the first copy after the server accepted: answered below like a fresh request
    first_len = len;
  }

  int nreq = 1;
  {
    const double p = rng_.uniform01();
    if (kind == kOkServerClose) nreq = 1;
    else if (p < 0.75) nreq = 1;
    else if (p < 0.95) nreq = 2 + static_cast<int>(rng_.below(2));
    else nreq = 4 + static_cast<int>(rng_.below(5));
  }
  std::int64_t t_last_resp = t_req, t_last_cack = t_req;
  for (int r = 0; r < nreq; ++r) {
    const std::uint16_t qlen = r == 0 && first_len ? first_len : request_len();
    cl(t_req, flag::PSH | flag::ACK, c_nxt, qlen);
    c_nxt += qlen;
    const std::int64_t think = static_cast<std::int64_t>(log_uniform(100, 30'000));
    if (think > 3 * kMs && chance(0.6)) sv(t_req + stack_delay(), flag::ACK, s_nxt, 0);  // quick ACK before a slow answer
    // Response: mostly one segment, sometimes two or three.
    std::uint32_t rlen = static_cast<std::uint32_t>(log_uniform(100, 2500));
    rlen = std::min<std::uint32_t>(rlen, 3 * mss);
    std::int64_t t = t_req + think;
    while (rlen > 0) {
      const std::uint32_t seg = std::min(rlen, mss);
      rlen -= seg;
      sv(t, rlen == 0 ? (flag::PSH | flag::ACK) : flag::ACK, s_nxt, static_cast<std::uint16_t>(seg));
      s_nxt += seg;
      t_last_resp = t;
      t += 12;
    }
    t_last_cack = t_last_resp + rtt;
    cl(t_last_cack, flag::ACK, c_nxt, 0);
    if (r + 1 < nreq) t_req = t_last_cack + static_cast<std::int64_t>(log_uniform(1 * kMs, 300 * kMs));
  }

  // Close.
  if (kind == kOkAbort) {
    cl(t_last_cack + static_cast<std::int64_t>(log_uniform(50, 50 * kMs)), flag::RST | flag::ACK, c_nxt, 0);
  } else if (kind == kOkServerClose) {
    // HTTP/1.0 style: the server closes right after its response; the client's FIN follows its ACK.
    const std::int64_t t_sfin = t_last_resp + static_cast<std::int64_t>(log_uniform(20, 2 * kMs));
    sv(t_sfin, flag::FIN | flag::ACK, s_nxt, 0);
    s_nxt += 1;
    const std::int64_t t_cfin = std::max(t_sfin + rtt, t_last_cack) + static_cast<std::int64_t>(rng_.below(300));
    cl(t_cfin, flag::FIN | flag::ACK, c_nxt, 0);
    c_nxt += 1;
    sv(t_cfin + stack_delay(), flag::ACK, s_nxt, 0);
  } else {
    const std::int64_t t_cfin = t_last_cack + static_cast<std::int64_t>(log_uniform(50, 50 * kMs));
    cl(t_cfin, flag::FIN | flag::ACK, c_nxt, 0);
    c_nxt += 1;
    std::int64_t t_sfin = t_cfin + stack_delay();
    if (chance(0.4)) {  // the kernel ACKs the FIN before the application closes
      sv(t_sfin, flag::ACK, s_nxt, 0);
      t_sfin += static_cast<std::int64_t>(log_uniform(100, 5 * kMs));
    } else {
      t_sfin += static_cast<std::int64_t>(rng_.below(300));
    }
    sv(t_sfin, flag::FIN | flag::ACK, s_nxt, 0);
    s_nxt += 1;
    cl(t_sfin + rtt, flag::ACK, c_nxt, 0);
  }
  push(idx);
}

void Generator::emit(Output& out, Conn& c, const Pkt& p) {
  Segment s;
  const bool srv = p.from_server;
  s.src = srv ? c.server : c.client;
  s.dst = srv ? c.client : c.server;
  s.seq = p.seq;
  s.ack = p.ack;
  s.flags = p.flags;
  s.window = p.win;
  s.payload_len = p.len;
  const bool rst = p.flags & flag::RST;
  s.ttl = srv ? 64 : c.cttl;
  s.ip_id = rst && srv ? 0 : srv ? c.sipid++ : c.cipid++;
  const std::uint32_t ms = static_cast<std::uint32_t>(p.t / kMs);
  auto ts_opt = [&](bool server_side) {
    const std::uint32_t val = (server_side ? c.sts_off : c.cts_off) + ms;
    c.last_val[server_side] = val;
    return val;
  };
  if (rst) {
    // Linux RSTs carry no options.
  } else if ((p.flags & (flag::SYN | flag::ACK)) == flag::SYN) {
    switch (c.style) {
      case SynStyle::Linux:
        s.options.mss(1460), s.options.sack_ok(), s.options.timestamp(ts_opt(false), 0), s.options.nop(), s.options.wscale(7);
        break;
      case SynStyle::LinuxNoTs:
        s.options.mss(1460), s.options.nop(), s.options.nop(), s.options.sack_ok(), s.options.nop(), s.options.wscale(7);
        break;
      case SynStyle::Windows:
        s.options.mss(1460), s.options.nop(), s.options.wscale(8), s.options.nop(), s.options.nop(), s.options.sack_ok();
        break;
      case SynStyle::Mac:
        s.options.mss(1460), s.options.nop(), s.options.wscale(6), s.options.nop(), s.options.nop();
        s.options.timestamp(ts_opt(false), 0), s.options.sack_ok(), s.options.push({TcpOptionKind::Eol});
        break;
      case SynStyle::FloodMss: s.options.mss(1460); break;
      case SynStyle::FloodNone: break;
    }
  } else if (p.flags & flag::SYN) {  // SYN-ACK: Linux answers in kind
    if (c.style == SynStyle::FloodMss || c.style == SynStyle::FloodNone) {
      s.options.mss(1460);
    } else if (c.ts) {
      const std::uint32_t ecr = c.last_val[0];
      s.options.mss(1460), s.options.sack_ok(), s.options.timestamp(ts_opt(true), ecr), s.options.nop(), s.options.wscale(7);
    } else {
      s.options.mss(1460), s.options.nop(), s.options.nop(), s.options.sack_ok(), s.options.nop(), s.options.wscale(7);
    }
  } else if (c.ts) {
    const std::uint32_t ecr = c.last_val[!srv];
    s.options.nop(), s.options.nop(), s.options.timestamp(ts_opt(srv), ecr);
  }
  out.write(s, p.t);
}

void Generator::run(Output& out) {
  std::int64_t next_conn = exp_interval(o_.conn_rate);
  schedule_flood(5 * kSec);
  const std::uint64_t max_packets = o_.packets ? o_.packets : std::numeric_limits<std::uint64_t>::max();
  const std::uint64_t max_bytes = o_.bytes ? o_.bytes : std::numeric_limits<std::uint64_t>::max();
  while (out.packets() < max_packets && out.bytes() < max_bytes) {
    const std::int64_t t_heap = heap_.empty() ? kNever : heap_.top().t;
    if (flood_.next_syn >= flood_.end && flood_.end != kNever) schedule_flood(flood_.end);
    if (next_conn <= t_heap && next_conn <= flood_.next_syn) {
      new_connection(next_conn);
      next_conn += exp_interval(o_.conn_rate);
      continue;
    }
    if (flood_.next_syn <= t_heap) {
      if (flood_.next_syn == flood_.start) ++floods_;
      new_flood_syn(flood_.next_syn);
      flood_.next_syn += exp_interval(flood_.rate);
      continue;
    }
    const HeapEntry e = heap_.top();
    heap_.pop();
    Conn& c = conns_[e.conn];
    now_ = e.t;
    emit(out, c, c.pkts[c.next]);
    if (++c.next < c.pkts.size()) heap_.push({c.pkts[c.next].t, order_++, e.conn});
    else free_.push_back(e.conn);
  }
}

void Generator::print_summary(const Output& out, double wall_s) const {
  const double dur = static_cast<double>(now_) / 1e6;
  std::uint64_t conns = 0;
  for (int k = 0; k < kFloodSyn; ++k) conns += kind_count_[k];
  std::fprintf(stderr,
               "make_handshake_pcap: %llu packets, %llu bytes (%.1f B/packet), %.1f s of capture time "
               "(%.0f packets/s), seed %llu\n",
               static_cast<unsigned long long>(out.packets()), static_cast<unsigned long long>(out.bytes()),
               static_cast<double>(out.bytes()) / static_cast<double>(std::max<std::uint64_t>(1, out.packets())), dur,
               dur > 0 ? static_cast<double>(out.packets()) / dur : 0.0, static_cast<unsigned long long>(o_.seed));
  std::fprintf(stderr, "  %llu connection attempts from %zu hosts (%zu behind %zu NAT addresses):",
               static_cast<unsigned long long>(conns), hosts_.size(), hosts_.size() - direct_hosts_, nats_.size());
  for (int k = 0; k < kFloodSyn; ++k)
    std::fprintf(stderr, "%s %s %.1f%%", k ? "," : "", kKindNames[k],
                 100.0 * static_cast<double>(kind_count_[k]) / static_cast<double>(std::max<std::uint64_t>(1, conns)));
  std::fprintf(stderr, "\n  %llu SYN floods, %llu spoofed SYNs; peak open connections %zu; generated in %.2f s (%.0f MB/s)\n",
               static_cast<unsigned long long>(floods_), static_cast<unsigned long long>(kind_count_[kFloodSyn]),
               peak_open_, wall_s, wall_s > 0 ? static_cast<double>(out.bytes()) / wall_s / 1e6 : 0.0);
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse_args(argc, argv);
  const auto t0 = std::chrono::steady_clock::now();
  Generator gen(o);
  Output out(o.out);
  gen.run(out);
  out.close();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!o.quiet) gen.print_summary(out, wall);
  return 0;
}

#include "lab/apps.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <limits>
#include <sstream>

#include "core/rng.h"
#include "lab/netns.h"

namespace synscope::lab {
namespace {

volatile sig_atomic_t g_stop = 0;
pcap_t* g_capture = nullptr;  // the capture child's handle: SIGTERM breaks its loop
void on_stop(int) {
  g_stop = 1;
  if (g_capture) pcap_breakloop(g_capture);  // wakes libpcap's poll (its eventfd), signal-safe
}

// SIGTERM ends a child's loop: no SA_RESTART, so a blocking ppoll returns EINTR at once.
void install_stop_handler() {
  struct sigaction sa {};
  sa.sa_handler = on_stop;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;
  sigaction(SIGTERM, &sa, nullptr);
}

constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();

// Waits for fds until the absolute monotonic time `until_ns` (kNever: no limit) or a signal.
void wait_fds(std::vector<pollfd>& fds, std::int64_t until_ns) {
  timespec ts{};
  timespec* tsp = nullptr;
  if (until_ns != kNever) {
    std::int64_t d = std::max<std::int64_t>(0, until_ns - LabClock::now_ns());
    ts.tv_sec = d / 1000000000;
    ts.tv_nsec = d % 1000000000;
    tsp = &ts;
  }
  ::ppoll(fds.data(), fds.size(), tsp, nullptr);
}

sockaddr_in to_sockaddr(Endpoint e) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(e.port);
  sa.sin_addr.s_addr = htonl(e.addr.value);
  return sa;
}

std::int64_t ns_of(Duration d) { return d.count(); }

void drain(int fd, bool& eof, bool& reset) {
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) continue;
    if (n == 0) eof = true;
    else if (errno == ECONNRESET || errno == EPIPE || errno == ETIMEDOUT) reset = true;
    return;
  }
}

std::string outcome_id(LabOutcome o) {
  switch (o) {
    case LabOutcome::Pending: return "pending";
    case LabOutcome::Established: return "established";
    case LabOutcome::TimedOut: return "timedout";
    case LabOutcome::Refused: return "refused";
    case LabOutcome::Reset: return "reset";
    case LabOutcome::Error: return "error";
  }
  return "error";
}

LabOutcome outcome_from_id(const std::string& s) {
  for (auto o : {LabOutcome::Pending, LabOutcome::Established, LabOutcome::TimedOut, LabOutcome::Refused,
                 LabOutcome::Reset, LabOutcome::Error})
    if (outcome_id(o) == s) return o;
  return LabOutcome::Error;
}

}  // namespace

std::int64_t LabClock::now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

std::vector<ConnectPlan> connect_plans(const sim::Scenario& sc, const std::string& host) {
  std::vector<ConnectPlan> out;
  for (const auto& c : sc.clients) {
    if (c.host != host) continue;
    std::vector<Duration> times = c.at;
    for (int i = 0; i < c.count; ++i)
      times.push_back(c.start + Duration{static_cast<std::int64_t>(static_cast<double>(i) * 1e9 / c.rate)});
    for (auto t : times)
      out.push_back(ConnectPlan{c.name.empty() ? c.host : c.name, c.connect_to, t, c.close_after, std::nullopt,
                                c.syn_retries, c.sport});
  }
  for (const auto& c : sc.connect_close)
    if (c.host == host) out.push_back(ConnectPlan{c.host, c.target, c.at, std::nullopt, c.close_after, std::nullopt, c.sport});
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.at < b.at; });
  for (std::size_t i = 0; i + 1 < out.size(); ++i)
    if (out[i].at == out[i + 1].at) out[i].hold_final_ack = out[i + 1].hold_final_ack = true;
  return out;
}

// ---- server ----------------------------------------------------------------------------------

std::string run_server(const sim::ServerAppSpec& spec, LabClock clock) {
  install_stop_handler();
  int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa = to_sockaddr(Endpoint{Ipv4Addr{0}, spec.port});
  if (::bind(lfd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
    throw LabError(fmt::format("server :{}: bind: {}", spec.port, std::strerror(errno)));
  // listen(fd, backlog): the kernel caps it by somaxconn (§6.1).
  if (::listen(lfd, spec.backlog) != 0) throw LabError(fmt::format("server :{}: listen: {}", spec.port, std::strerror(errno)));
  signal_ready();

  struct Conn {
    int fd;
    std::int64_t banner_at, close_at, eof_close_at;
  };
  std::vector<Conn> conns;
  int accepted = 0;
  const std::int64_t interval = spec.accept == sim::AcceptMode::Rate ? static_cast<std::int64_t>(1e9 / spec.accept_rate) : 0;
  std::int64_t next_accept = clock.t0_ns;

  auto accept_one = [&]() -> bool {
    int fd = ::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return false;
    ++accepted;
    const std::int64_t now = LabClock::now_ns();
    conns.push_back(Conn{fd, spec.banner.empty() ? kNever : now + ns_of(spec.banner_delay),
                         spec.close_after ? now + ns_of(*spec.close_after) : kNever, kNever});
    return true;
  };

  while (!g_stop) {
    std::vector<pollfd> fds;
    const bool want_accept = spec.accept == sim::AcceptMode::Immediate ||
                             (spec.accept == sim::AcceptMode::Rate && LabClock::now_ns() >= next_accept);
    fds.push_back(pollfd{lfd, static_cast<short>(want_accept ? POLLIN : 0), 0});
    std::int64_t until = kNever;
    if (spec.accept == sim::AcceptMode::Rate && !want_accept) until = next_accept;
    for (const auto& c : conns) {
      fds.push_back(pollfd{c.fd, POLLIN, 0});
      until = std::min({until, c.banner_at, c.close_at, c.eof_close_at});
    }
    wait_fds(fds, until);
    if (g_stop) break;
    const std::int64_t now = LabClock::now_ns();
    if (fds[0].revents & POLLIN) {
      if (spec.accept == sim::AcceptMode::Immediate) {
        while (accept_one()) {}
      } else if (accept_one()) {
        next_accept = now + interval;
      }
    }
    for (std::size_t i = 0; i < conns.size();) {
      Conn& c = conns[i];
      bool eof = false, reset = false;
      if (i + 1 < fds.size() && fds[i + 1].fd == c.fd && (fds[i + 1].revents & (POLLIN | POLLHUP | POLLERR)))
        drain(c.fd, eof, reset);
      if (c.banner_at <= now) {
        ::send(c.fd, spec.banner.data(), spec.banner.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        c.banner_at = kNever;
      }
      if (eof && c.eof_close_at == kNever) c.eof_close_at = now + ns_of(spec.eof_close_delay);
      if (reset || c.close_at <= now || c.eof_close_at <= now) {
        ::close(c.fd);  // the server closes (first, when close_after fired)
        conns.erase(conns.begin() + static_cast<std::ptrdiff_t>(i));
        continue;
      }
      ++i;
    }
  }
  return fmt::format("accepted {}\n", accepted);
}

// ---- clients ---------------------------------------------------------------------------------

std::string run_clients(const std::vector<ConnectPlan>& plans, LabClock clock) {
  install_stop_handler();
  signal_ready();
  struct Live {
    std::size_t plan;
    int fd = -1;
    bool connecting = true;
    std::int64_t close_at = kNever;
    LabAttempt result;
  };
  std::vector<Live> live;
  std::vector<LabAttempt> done;
  std::size_t next = 0;

  auto finish = [&](std::size_t i, LabOutcome outcome, std::int64_t now) {
    Live& l = live[i];
    if (outcome != LabOutcome::Established) {
      l.result.outcome = outcome;
      l.result.ended_at = clock.since_start() - Duration{LabClock::now_ns() - now};
    }
    ::close(l.fd);
    done.push_back(l.result);
    live.erase(live.begin() + static_cast<std::ptrdiff_t>(i));
  };

  while (!g_stop) {
    std::int64_t now = LabClock::now_ns();
    while (next < plans.size() && clock.t0_ns + ns_of(plans[next].at) <= now) {
      const ConnectPlan& p = plans[next];
      Live l;
      l.plan = next++;
      l.result.client = p.label;
      l.result.start = clock.since_start();
      l.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (p.syn_retries) ::setsockopt(l.fd, IPPROTO_TCP, TCP_SYNCNT, &*p.syn_retries, sizeof(int));  // §9
      if (p.hold_final_ack) {
        int defer = 1;
        ::setsockopt(l.fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer, sizeof defer);
      }
      if (p.sport) {
        int one = 1;
        ::setsockopt(l.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in local = to_sockaddr(Endpoint{Ipv4Addr{0}, *p.sport});
        ::bind(l.fd, reinterpret_cast<sockaddr*>(&local), sizeof local);
      }
      sockaddr_in sa = to_sockaddr(p.target);
      int rc = ::connect(l.fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
      sockaddr_in me{};
      socklen_t len = sizeof me;
      ::getsockname(l.fd, reinterpret_cast<sockaddr*>(&me), &len);
      l.result.local_port = ntohs(me.sin_port);
      if (p.close_at_connect) l.close_at = now + ns_of(*p.close_at_connect);
      live.push_back(std::move(l));
      if (rc != 0 && errno != EINPROGRESS) {
        live.back().result.error = std::strerror(errno);
        finish(live.size() - 1, errno == ECONNREFUSED ? LabOutcome::Refused : LabOutcome::Error, now);
      }
    }
    std::vector<pollfd> fds;
    std::int64_t until = next < plans.size() ? clock.t0_ns + ns_of(plans[next].at) : kNever;
    for (const auto& l : live) {
      fds.push_back(pollfd{l.fd, static_cast<short>(l.connecting ? POLLOUT : POLLIN), 0});
      until = std::min(until, l.close_at);
    }
    wait_fds(fds, until);
    if (g_stop) break;
    now = LabClock::now_ns();
    // Walk backwards so that finishing (erasing) one keeps the indexes of the rest.
    for (std::size_t k = live.size(); k-- > 0;) {
      Live& l = live[k];
      const short ev = k < fds.size() ? fds[k].revents : 0;
      if (l.connecting && ev) {
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(l.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err == 0) {
          l.connecting = false;
          l.result.outcome = LabOutcome::Established;
          l.result.established_at = clock.since_start();
          const ConnectPlan& p = plans[l.plan];
          if (p.close_after) l.close_at = std::min(l.close_at, now + ns_of(*p.close_after));
        } else {
          l.result.error = std::strerror(err);
          finish(k, err == ETIMEDOUT ? LabOutcome::TimedOut : err == ECONNREFUSED ? LabOutcome::Refused : LabOutcome::Error, now);
          continue;
        }
      } else if (!l.connecting && ev) {
        bool eof = false, reset = false;
        drain(l.fd, eof, reset);
        if (reset) {
          finish(k, LabOutcome::Reset, now);
          continue;
        }
        if (eof) {  // the peer closed: close too (as the simulator's clients do)
          finish(k, LabOutcome::Established, now);
          continue;
        }
      }
      if (l.close_at <= now) finish(k, l.connecting ? LabOutcome::Pending : LabOutcome::Established, now);
    }
  }
  for (auto& l : live) done.push_back(l.result);  // still connecting (pending) or open at the end
  std::string out;
  for (const auto& a : done)
    out += fmt::format("{}|{}|{}|{}|{}|{}|{}\n", a.client, a.start.count(), a.local_port, outcome_id(a.outcome),
                       a.established_at ? a.established_at->count() : -1, a.ended_at ? a.ended_at->count() : -1, a.error);
  return out;
}

std::vector<LabAttempt> parse_attempts(const std::string& text) {
  std::vector<LabAttempt> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::size_t pos = 0;
    for (;;) {
      auto bar = line.find('|', pos);
      f.push_back(line.substr(pos, bar == std::string::npos ? std::string::npos : bar - pos));
      if (bar == std::string::npos) break;
      pos = bar + 1;
    }
    if (f.size() < 7) continue;
    LabAttempt a;
    a.client = f[0];
    a.start = Duration{std::stoll(f[1])};
    a.local_port = static_cast<std::uint16_t>(std::stoi(f[2]));
    a.outcome = outcome_from_id(f[3]);
    if (std::stoll(f[4]) >= 0) a.established_at = Duration{std::stoll(f[4])};
    if (std::stoll(f[5]) >= 0) a.ended_at = Duration{std::stoll(f[5])};
    a.error = f[6];
    out.push_back(a);
  }
  return out;
}

// ---- SYN flood -------------------------------------------------------------------------------

namespace {

std::uint16_t checksum(const std::uint8_t* data, std::size_t len, std::uint32_t sum = 0) {
  for (std::size_t i = 0; i + 1 < len; i += 2) sum += (std::uint32_t{data[i]} << 8) | data[i + 1];
  if (len & 1) sum += std::uint32_t{data[len - 1]} << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

void put16(std::uint8_t* p, std::uint16_t v) { p[0] = static_cast<std::uint8_t>(v >> 8); p[1] = static_cast<std::uint8_t>(v); }
void put32(std::uint8_t* p, std::uint32_t v) { put16(p, static_cast<std::uint16_t>(v >> 16)); put16(p + 2, static_cast<std::uint16_t>(v)); }

// One spoofed SYN: IPv4 (the kernel fills in the header checksum for IP_HDRINCL) and TCP with the
// options a Linux client sends (mss, sackOK, TS, nop, wscale), or without TS when `timestamps` is off.
std::size_t build_syn(std::uint8_t* buf, Ipv4Addr src, std::uint16_t sport, Endpoint dst, std::uint32_t isn,
                      std::uint32_t tsval, bool timestamps) {
  const std::size_t opt_len = timestamps ? 20 : 12;
  const std::size_t tcp_len = 20 + opt_len;
  std::memset(buf, 0, 20 + tcp_len);
  std::uint8_t* ip = buf;
  ip[0] = 0x45;
  put16(ip + 2, static_cast<std::uint16_t>(20 + tcp_len));
  put16(ip + 6, 0x4000);  // DF
  ip[8] = 64;
  ip[9] = IPPROTO_TCP;
  put32(ip + 12, src.value);
  put32(ip + 16, dst.addr.value);
  std::uint8_t* t = buf + 20;
  put16(t, sport);
  put16(t + 2, dst.port);
  put32(t + 4, isn);
  t[12] = static_cast<std::uint8_t>((tcp_len / 4) << 4);
  t[13] = 0x02;  // SYN
  put16(t + 14, 64240);
  std::uint8_t* o = t + 20;
  o[0] = 2; o[1] = 4; put16(o + 2, 1460);
  if (timestamps) {
    o[4] = 4; o[5] = 2;                           // sackOK
    o[6] = 8; o[7] = 10; put32(o + 8, tsval);     // TS val, ecr 0
    o[16] = 1; o[17] = 3; o[18] = 3; o[19] = 7;   // nop, wscale 7
  } else {
    o[4] = 1; o[5] = 1; o[6] = 4; o[7] = 2;       // nop, nop, sackOK
    o[8] = 1; o[9] = 3; o[10] = 3; o[11] = 7;     // nop, wscale 7
  }
  std::uint8_t pseudo[12];
  put32(pseudo, src.value);
  put32(pseudo + 4, dst.addr.value);
  pseudo[8] = 0;
  pseudo[9] = IPPROTO_TCP;
  put16(pseudo + 10, static_cast<std::uint16_t>(tcp_len));
  std::uint32_t sum = 0;
  for (int i = 0; i < 12; i += 2) sum += (std::uint32_t{pseudo[i]} << 8) | pseudo[i + 1];
  put16(t + 16, checksum(t, tcp_len, sum));
  return 20 + tcp_len;
}

}  // namespace

std::string run_flood(const sim::FloodSpec& spec, std::uint64_t seed, LabClock clock) {
  install_stop_handler();
  int fd = ::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);  // IP_HDRINCL implied
  if (fd < 0) throw LabError(fmt::format("flood: raw socket: {}", std::strerror(errno)));
  signal_ready();
  Rng rng(seed ^ 0x5f1d0d);
  const std::uint32_t host_bits = spec.source_prefix >= 32 ? 0 : (0xffffffffu >> spec.source_prefix);
  const std::int64_t start = clock.t0_ns + ns_of(spec.start);
  const std::int64_t gap = static_cast<std::int64_t>(1e9 / spec.rate);
  const auto count = static_cast<std::int64_t>(static_cast<double>(spec.duration.count()) / 1e9 * spec.rate);
  std::uint8_t buf[80];
  std::int64_t sent = 0;
  for (std::int64_t i = 0; i < count && !g_stop; ++i) {
    const std::int64_t at = start + i * gap;
    timespec ts{static_cast<time_t>(at / 1000000000), static_cast<long>(at % 1000000000)};
    while (::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR && !g_stop) {}
    if (g_stop) break;
    std::uint32_t off = host_bits ? static_cast<std::uint32_t>(rng.next() % host_bits) + (host_bits > 1 ? 1 : 0) : 0;
    Ipv4Addr src{spec.source_net.value | (off & host_bits)};
    auto sport = static_cast<std::uint16_t>(1024 + rng.next() % 64000);
    std::size_t len = build_syn(buf, src, sport, spec.target, static_cast<std::uint32_t>(rng.next()),
                                static_cast<std::uint32_t>(rng.next()), spec.timestamps);
    sockaddr_in sa = to_sockaddr(spec.target);
    if (::sendto(fd, buf, len, 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == static_cast<ssize_t>(len)) ++sent;
  }
  while (!g_stop) ::pause();
  ::close(fd);
  return fmt::format("sent {}\n", sent);
}

// ---- capture ---------------------------------------------------------------------------------

std::string run_capture(const std::string& iface, const std::string& path) {
  install_stop_handler();
  char err[PCAP_ERRBUF_SIZE] = "";
  // Opened here, after setns: a packet socket belongs to the namespace it was created in.
  pcap_t* p = pcap_create(iface.c_str(), err);
  if (!p) throw LabError(fmt::format("capture on {}: {}", iface, err));
  pcap_set_snaplen(p, 262144);
  pcap_set_immediate_mode(p, 1);
  pcap_set_timeout(p, 50);
  if (pcap_activate(p) < 0) {
    std::string msg = pcap_geterr(p);
    pcap_close(p);
    throw LabError(fmt::format("capture on {}: {}", iface, msg));
  }
  bpf_program prog{};
  if (pcap_compile(p, &prog, "tcp", 1, PCAP_NETMASK_UNKNOWN) == 0) {
    pcap_setfilter(p, &prog);
    pcap_freecode(&prog);
  }
  pcap_dumper_t* d = pcap_dump_open(p, path.c_str());
  if (!d) {
    std::string msg = pcap_geterr(p);
    pcap_close(p);
    throw LabError(fmt::format("capture file {}: {}", path, msg));
  }
  g_capture = p;
  signal_ready();
  std::uint64_t packets = 0;
  while (!g_stop) {
    int n = pcap_dispatch(p, -1, pcap_dump, reinterpret_cast<u_char*>(d));
    if (n < 0) break;
    packets += static_cast<std::uint64_t>(n);
  }
  // Whatever is still buffered.
  g_capture = nullptr;
  pcap_setnonblock(p, 1, err);
  int n;
  while ((n = pcap_dispatch(p, -1, pcap_dump, reinterpret_cast<u_char*>(d))) > 0) packets += static_cast<std::uint64_t>(n);
  pcap_stat st{};
  pcap_stats(p, &st);
  pcap_dump_close(d);
  pcap_close(p);
  return fmt::format("packets {} dropped {}\n", packets, st.ps_drop);
}

}  // namespace synscope::lab

#pragma once
// Real-kernel test support for the doctor: network namespaces the test creates and always deletes,
// sockets made inside them, and a raw-socket SYN sender (for floods from spoofed addresses).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "live/snapshot.h"
#include "support/process.h"

namespace synscope::testing {

inline bool is_root() { return geteuid() == 0; }

inline void must_run(const std::string& cmd) {
  if (std::system((cmd + " >/dev/null 2>&1").c_str()) != 0) throw std::runtime_error("failed: " + cmd);
}

// `ip netns add NAME` with lo up; `ip netns del NAME` on destruction.
class TestNetns {
 public:
  explicit TestNetns(const std::string& tag) : name_("synscope-t" + std::to_string(getpid()) + "-" + tag) {
    std::system(("ip netns del " + name_ + " >/dev/null 2>&1").c_str());
    must_run("ip netns add " + name_);
    must_run("ip -n " + name_ + " link set lo up");
  }
  ~TestNetns() { std::system(("ip netns del " + name_ + " >/dev/null 2>&1").c_str()); }
  TestNetns(const TestNetns&) = delete;
  TestNetns& operator=(const TestNetns&) = delete;
  const std::string& name() const { return name_; }
  void sysctl(const std::string& assignment) const { must_run("ip netns exec " + name_ + " sysctl -w " + assignment); }

 private:
  std::string name_;
};

// bench/hold_listeners in namespace `ns`: `count` listeners on 127.0.0.1:20000 and up, the first
// with listen(fd, 1) and 3 connections nobody accepts (A = 2 > B = 1, §6.1). Waits until they listen.
class HeldListeners {
 public:
  HeldListeners(const std::string& ns, int count, const TempDir& dir)
      : holder_(fmt::format("ip netns exec {} {} --count {} --overflow 3", ns, SYNSCOPE_HOLD_LISTENERS, count),
                dir.file("holder.log")) {
    if (holder_.wait_for_line(fmt::format("ready {}", count), 30).empty())
      throw std::runtime_error("hold_listeners did not start: " + holder_.log());
  }

 private:
  BackgroundCommand holder_;
};

// File descriptors closed on destruction (close them before the namespace goes).
class Fds {
 public:
  ~Fds() {
    for (int fd : fds_) close(fd);
  }
  int add(int fd) {
    if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    fds_.push_back(fd);
    return fd;
  }

 private:
  std::vector<int> fds_;
};

inline sockaddr_in ipv4(const char* addr, std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, addr, &a.sin_addr);
  return a;
}

// A TCP listener in namespace `ns` that never accepts.
inline int listen_in(const std::string& ns, Fds& fds, const char* addr, std::uint16_t port, int backlog) {
  int fd = -1;
  live::run_in_netns(ns, [&] {
    fd = fds.add(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    auto a = ipv4(addr, port);
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, backlog) != 0)
      throw std::runtime_error(std::string("bind/listen: ") + std::strerror(errno));
  });
  return fd;
}

// `n` non-blocking connect()s from namespace `ns`; they keep retransmitting SYNs on their own (§9).
inline void connect_in(const std::string& ns, Fds& fds, const char* addr, std::uint16_t port, int n) {
  live::run_in_netns(ns, [&] {
    for (int i = 0; i < n; ++i) {
      int fd = fds.add(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
      auto a = ipv4(addr, port);
      connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    }
  });
}

// Sends bare SYNs with spoofed source addresses through a raw socket (our own packet builder).
class SynSender {
 public:
  SynSender(const std::string& ns, Fds& fds) {
    live::run_in_netns(ns, [&] { fd_ = fds.add(socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW)); });
  }
  // `options`: the TCP option bytes, a multiple of 4 long (at most 40).
  void send(const char* src, std::uint16_t sport, const char* dst, std::uint16_t dport, std::uint32_t isn,
            const std::vector<std::uint8_t>& options = {}) {
    struct Packet {
      iphdr ip;
      tcphdr tcp;
      std::uint8_t options[40];
    } p{};
    if (options.size() % 4 != 0 || options.size() > sizeof p.options)
      throw std::invalid_argument("TCP options must be a multiple of 4 bytes, at most 40");
    std::copy(options.begin(), options.end(), p.options);
    const std::size_t tcp_len = sizeof p.tcp + options.size();
    p.ip.version = 4;
    p.ip.ihl = 5;
    p.ip.ttl = 64;
    p.ip.protocol = IPPROTO_TCP;
    p.ip.tot_len = htons(static_cast<std::uint16_t>(sizeof p.ip + tcp_len));
    inet_pton(AF_INET, src, &p.ip.saddr);
    inet_pton(AF_INET, dst, &p.ip.daddr);
    p.tcp.source = htons(sport);
    p.tcp.dest = htons(dport);
    p.tcp.seq = htonl(isn);
    p.tcp.doff = static_cast<std::uint16_t>(tcp_len / 4);
    p.tcp.syn = 1;
    p.tcp.window = htons(64240);
    p.tcp.check = tcp_checksum(p.ip, &p.tcp, tcp_len);
    auto to = ipv4(dst, dport);
    if (sendto(fd_, &p, sizeof p.ip + tcp_len, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) < 0)
      throw std::runtime_error(std::string("raw sendto: ") + std::strerror(errno));
  }

 private:
  static std::uint16_t tcp_checksum(const iphdr& ip, const void* seg, std::size_t len) {
    std::uint32_t sum = 0;
    auto add16 = [&](const void* data, std::size_t n) {
      const auto* b = static_cast<const std::uint8_t*>(data);
      for (std::size_t i = 0; i + 1 < n; i += 2) sum += static_cast<std::uint32_t>(b[i] << 8 | b[i + 1]);
      if (n % 2) sum += static_cast<std::uint32_t>(b[n - 1] << 8);
    };
    add16(&ip.saddr, 4);
    add16(&ip.daddr, 4);
    sum += IPPROTO_TCP;
    sum += static_cast<std::uint32_t>(len);
    add16(seg, len);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return htons(static_cast<std::uint16_t>(~sum));
  }
  int fd_ = -1;
};

}  // namespace synscope::testing

#pragma once
// TCP listeners and request socks through NETLINK_SOCK_DIAG (inet_diag_req_v2), the interface `ss`
// uses (fact sheet §13), read in the calling thread's network namespace. Our own netlink code.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace synscope::live {

struct ListenerOwner {
  int pid = 0;
  std::string comm;
};

struct Listener {
  int family = 0;            // AF_INET / AF_INET6
  std::string address;       // "0.0.0.0", "::", "127.0.0.1"
  std::uint16_t port = 0;
  std::uint32_t accept_queue = 0;  // idiag_rqueue = sk_ack_backlog, A (§13); may read B+1 (§6.1)
  std::uint32_t backlog = 0;       // idiag_wqueue = sk_max_ack_backlog, B after the somaxconn cap (§6.1)
  std::optional<std::uint32_t> drops;  // skmem SK_MEMINFO_DROPS = sk_drops (§13, §17), nullopt if not reported
  std::uint32_t syn_recv = 0;      // request socks on this local address:port (§13)
  std::uint64_t inode = 0;
  std::uint32_t uid = 0;
  std::vector<ListenerOwner> owners;  // processes holding the socket, where /proc/PID/fd was readable
  // "127.0.0.1:8080", "[::1]:8080"
  std::string endpoint() const;
  bool full() const { return accept_queue > backlog; }  // §6.1: full when A > B
};

struct RequestSock {  // one SYN_RECV entry (4.4+: TCP_NEW_SYN_RECV request sock, §2)
  int family = 0;
  std::string address;
  std::uint16_t port = 0;
  std::uint8_t state = 0;  // as dumped (§13: SYN_RECV)
};

struct SocketDump {
  std::vector<Listener> listeners;
  std::vector<RequestSock> requests;
  std::uint32_t syn_sent = 0;  // this namespace's own connect()s still waiting for a SYN-ACK (§9)
};

// Dumps LISTEN sockets (with INET_DIAG_SKMEMINFO), SYN_RECV entries and SYN_SENT sockets, IPv4 and
// IPv6, and sets each listener's syn_recv count. Throws std::runtime_error when netlink fails.
SocketDump dump_tcp_sockets();

// One recv() buffer of a SOCK_DIAG_BY_FAMILY dump reply: appends its LISTEN, SYN_RECV and SYN_SENT
// entries to `out` (request socks are not yet matched to listeners) and returns true when the buffer
// ends the dump (NLMSG_DONE, or ENOENT for a family without TCP diag). Reads nothing past `size`;
// messages shorter than their headers are skipped. Throws std::runtime_error for a netlink error
// message. Pure: dump_tcp_sockets() uses it on the kernel's replies, the fuzzer on arbitrary bytes.
bool parse_sock_diag_reply(const void* data, std::size_t size, SocketDump& out);

// Which processes hold the given listeners' socket inodes (/proc/*/fd → "socket:[N]"), every holder
// (forked workers share a listener). It reads every fd of every process — about 4 µs per fd here,
// so ~45 ms for a process holding 10,000 sockets — which is why callers ask only for the listeners
// they will show. Counts the processes whose fd directory could not be read (other users' processes
// when not root).
struct OwnerScan {
  int processes = 0;
  int unreadable = 0;
};
OwnerScan find_owners(const std::vector<Listener*>& listeners);
OwnerScan find_owners(std::vector<Listener>& listeners);  // every one of them

}  // namespace synscope::live

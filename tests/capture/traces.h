#pragma once
// Packet traces shared by the capture tests.
#include <cstdint>
#include <vector>

#include "capture_test_util.h"
#include "tcpdump_harness.h"

namespace synscope::capture::testing {

// Appends packets with a steadily advancing clock (so timestamps differ in every field over time).
class Trace {
 public:
  explicit Trace(WallTime start) : now_(start) {}
  Segment& add(Segment s, Duration gap = micros(317)) {
    now_ = now_ + gap;
    packets_.push_back({s, now_});
    return packets_.back().segment;
  }
  std::vector<Packet>& packets() { return packets_; }

 private:
  WallTime now_;
  std::vector<Packet> packets_;
};

// The varied set from the brief: handshakes, data, teardown, resets, options without timestamps,
// a syncookie-style SYN-ACK, sequence wrap, interleaving, retransmitted SYNs.
inline std::vector<Packet> handshake_data_teardown_trace() {
  using namespace tcp_flag;
  Trace t(at("2019-06-03 17:39:27.970358"));
  const char* C = "10.85.3.51:57104";
  const char* S = "10.85.3.111:19090";
  const std::uint32_t c = 2466985868u, s = 2846609535u;
  // Conversation A: full Linux handshake, data both ways, client closes first.
  t.add(make_segment(C, S, c, 0, SYN, 25200, linux_syn_options(1260, 3075335984u, 0, 7)));
  t.add(make_segment(S, C, s, c + 1, SYN | ACK, 24960, linux_syn_options(1260, 2612548200u, 3075335984u, 7)));
  // Conversation B starts in between (interleaved), towards a well-known port.
  const char* B = "10.85.1.2:40000";
  const char* W = "10.85.3.111:80";
  const std::uint32_t b = 123456u, w = 987654321u;
  t.add(make_segment(B, W, b, 0, SYN, 64240, linux_syn_options(1460, 1000, 0, 7)));
  t.add(make_segment(C, S, c + 1, s + 1, ACK, 197, ts_options(3075335985u, 2612548200u)));
  t.add(make_segment(W, B, w, b + 1, SYN | ACK, 65160, linux_syn_options(1460, 5000, 1000, 7)));
  t.add(make_segment(B, W, b + 1, w + 1, ACK, 502, ts_options(1001, 5000)));
  t.add(make_segment(C, S, c + 1, s + 1, PSH | ACK, 197, ts_options(3075335990u, 2612548200u), 100));
  t.add(make_segment(B, W, b + 1, w + 1, PSH | ACK, 502, ts_options(1002, 5000), 517));
  t.add(make_segment(S, C, s + 1, c + 101, ACK, 195, ts_options(2612548210u, 3075335990u)));
  t.add(make_segment(S, C, s + 1, c + 101, PSH | ACK, 195, ts_options(2612548211u, 3075335990u), 1448));
  t.add(make_segment(W, B, w + 1, b + 518, RST | ACK, 0, {}));
  t.add(make_segment(C, S, c + 101, s + 1449, ACK, 219, ts_options(3075335995u, 2612548211u)));
  t.add(make_segment(C, S, c + 101, s + 1449, FIN | ACK, 219, ts_options(3075335999u, 2612548211u)));
  t.add(make_segment(S, C, s + 1449, c + 102, FIN | ACK, 195, ts_options(2612548220u, 3075335999u)));
  t.add(make_segment(C, S, c + 102, s + 1450, ACK, 219, ts_options(3075336001u, 2612548220u)));
  // A bare RST (no ACK), e.g. answering a segment for a connection that no longer exists.
  t.add(make_segment(C, S, c + 102, 0, RST, 0, {}));

  // Retransmitted SYNs with the same ISN (1 s, then 2 s apart), then a closed-port answer.
  const char* R = "10.85.3.51:34264";
  const std::uint32_t r = 668096838u;
  t.add(make_segment(R, S, r, 0, SYN, 25200, linux_syn_options(1260, 1759176699u, 0, 7)), seconds(1));
  t.add(make_segment(R, S, r, 0, SYN, 25200, linux_syn_options(1260, 1759177700u, 0, 7)), seconds(1));
  t.add(make_segment(R, S, r, 0, SYN, 25200, linux_syn_options(1260, 1759179704u, 0, 7)), seconds(2));
  t.add(make_segment(S, R, 0, r + 1, RST | ACK, 0, {}));

  // SYN without timestamps (Linux with tcp_timestamps=0) and a syncookie SYN-ACK carrying only mss
  // (with no timestamp to encode them in, a cookie cannot remember sackOK or wscale).
  const char* N = "10.85.3.52:45000";
  const std::uint32_t n = 1000000u, k = 3000000000u;
  TcpOptions no_ts;
  no_ts.mss(1460);
  no_ts.nop();
  no_ts.nop();
  no_ts.sack_ok();
  no_ts.nop();
  no_ts.wscale(7);
  t.add(make_segment(N, S, n, 0, SYN, 64240, no_ts));
  TcpOptions mss_only;
  mss_only.mss(1460);
  t.add(make_segment(S, N, k, n + 1, SYN | ACK, 65160, mss_only));
  t.add(make_segment(N, S, n + 1, k + 1, ACK, 502, {}));
  t.add(make_segment(N, S, n + 1, k + 1, PSH | ACK, 502, {}, 10));

  // Sequence numbers about to wrap: ISNs near 2^32, data crossing the wrap in both directions.
  const char* X = "10.85.3.53:50000";
  const std::uint32_t x = 4294967000u, y = 4294967295u;
  t.add(make_segment(X, S, x, 0, SYN, 64240, linux_syn_options(1460, 7, 0, 7)));
  t.add(make_segment(S, X, y, x + 1, SYN | ACK, 65160, linux_syn_options(1460, 8, 7, 7)));
  t.add(make_segment(X, S, x + 1, y + 1, ACK, 502, ts_options(9, 8)));
  t.add(make_segment(X, S, x + 1, y + 1, PSH | ACK, 502, ts_options(10, 8), 1000));
  t.add(make_segment(S, X, y + 1, x + 1001, PSH | ACK, 509, ts_options(11, 10), 700));
  t.add(make_segment(X, S, x + 1001, y + 701, FIN | PSH | ACK, 502, ts_options(12, 11), 5));

  // Capture started mid-connection: the first segment seen is a bare ACK (printed absolute, and it
  // becomes the reference); a later SYN-ACK for the same 4-tuple resets the reference.
  const char* M1 = "192.168.7.9:33000";
  const char* M2 = "10.0.0.1:8443";
  t.add(make_segment(M1, M2, 5000, 70000, ACK, 300, ts_options(1, 2)));
  t.add(make_segment(M2, M1, 70000, 5000, PSH | ACK, 300, ts_options(3, 1), 40));
  t.add(make_segment(M1, M2, 5000, 70040, ACK, 300, ts_options(4, 3)));
  t.add(make_segment(M2, M1, 90000, 6001, SYN | ACK, 300, linux_syn_options(1460, 5, 4, 7)));
  t.add(make_segment(M1, M2, 6001, 90001, ACK, 300, ts_options(6, 5)));

  // Loopback: both addresses equal, so only the ports tell the directions apart.
  const char* L1 = "127.0.0.1:6000";
  const char* L2 = "127.0.0.1:5000";
  t.add(make_segment(L1, L2, 111, 0, SYN, 65495, linux_syn_options(65495, 1, 0, 7)));
  t.add(make_segment(L2, L1, 222, 112, SYN | ACK, 65483, linux_syn_options(65495, 2, 1, 7)));
  t.add(make_segment(L1, L2, 112, 223, ACK, 512, ts_options(3, 2)));
  t.add(make_segment(L2, L1, 223, 112, PSH | ACK, 512, ts_options(4, 3), 9));

  // ECN negotiation, urgent data, and flag sets Linux never sends together.
  const char* E1 = "172.16.0.2:41000";
  const char* E2 = "172.16.0.1:9000";
  t.add(make_segment(E1, E2, 10, 0, SYN | ECE | CWR, 64240, linux_syn_options(1460, 1, 0, 7)));
  t.add(make_segment(E2, E1, 20, 11, SYN | ACK | ECE, 65160, linux_syn_options(1460, 2, 1, 7)));
  t.add(make_segment(E1, E2, 11, 21, ACK | URG | PSH, 502, ts_options(3, 2), 1));
  t.add(make_segment(E1, E2, 12, 21, ACK | CWR, 502, ts_options(4, 2)));
  t.add(make_segment(E1, E2, 12, 21, 0, 502, {}));
  t.add(make_segment(E1, E2, 12, 21, PSH, 502, {}, 3));
  t.add(make_segment(E1, E2, 15, 21, FIN, 502, {}));
  t.add(make_segment(E1, E2, 16, 21, FIN | SYN | RST | PSH | ACK | URG | ECE | CWR, 65535, {}));

  // Varying TTL and IP id must not change the text.
  for (auto& p : t.packets()) {
    p.segment.ttl = static_cast<std::uint8_t>(64 - (p.segment.seq % 5));
    p.segment.ip_id = static_cast<std::uint16_t>(p.segment.seq);
  }
  return t.packets();
}

}  // namespace synscope::capture::testing

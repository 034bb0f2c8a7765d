// TcpdumpFormatter against the real tcpdump binary: every packet is written to a pcap with
// PcapWriter, tcpdump prints it, and the formatter must produce the identical line.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "capture/tcpdump_text.h"
#include "tcpdump_harness.h"
#include "traces.h"

namespace synscope::capture::testing {
namespace {

using namespace tcp_flag;

// Well-known ports for the service-name run: SYN / SYN-ACK / ACK / RST to each (no data, so no
// application dissector is involved).
std::vector<Packet> well_known_port_trace() {
  Trace t(at("2019-06-03 22:45:10.015335"));
  std::uint32_t isn = 1000;
  for (int port : {22, 80, 443, 23, 21, 25, 53, 110, 143, 3306, 5432, 6379, 8080, 19090, 29090}) {
    const std::string srv = "10.85.3.51:" + std::to_string(port);
    const char* cli = "10.85.3.111:49416";
    t.add(make_segment(cli, srv.c_str(), isn, 0, SYN, 64240, linux_syn_options(1460, isn, 0, 7)));
    t.add(make_segment(srv.c_str(), cli, isn * 3, isn + 1, SYN | ACK, 65160, linux_syn_options(1460, 9, isn, 7)));
    t.add(make_segment(cli, srv.c_str(), isn + 1, isn * 3 + 1, ACK, 502, ts_options(isn + 1, 9)));
    t.add(make_segment(cli, srv.c_str(), isn + 1, isn * 3 + 1, RST | ACK, 0, {}));
    isn += 7777;
  }
  return t.packets();
}

TEST(TcpdumpFormatter, MatchesRealTcpdumpForHandshakeDataAndTeardown) {
  expect_same_as_tcpdump(handshake_data_teardown_trace(), {}, "-nn");
}

TEST(TcpdumpFormatter, MatchesRealTcpdumpWithDateTimeStamps) {
  TcpdumpStyle style;
  style.date_time = true;
  expect_same_as_tcpdump(handshake_data_teardown_trace(), style, "-nn -tttt");
}

TEST(TcpdumpFormatter, MatchesRealTcpdumpWithAbsoluteSequenceNumbers) {
  TcpdumpStyle style;
  style.absolute_seq = true;
  expect_same_as_tcpdump(handshake_data_teardown_trace(), style, "-nn -S");
}

TEST(TcpdumpFormatter, ServiceNamesMatchTcpdumpWithoutNumericFlags) {
  // tcpdump 4.99 keeps ports numeric with -n as well as -nn; only a run without either names them
  // (and also tries reverse DNS for hosts, which our private test addresses do not resolve in).
  TcpdumpStyle style;
  style.service_names = true;
  auto packets = well_known_port_trace();
  const auto lines = format_all(packets, style);
  EXPECT_NE(lines[0].find("10.85.3.51.ssh: Flags [S]"), std::string::npos) << lines[0];
  expect_same_as_tcpdump(packets, style, "");
  // The varied trace too, minus loopback, which tcpdump would print as "localhost" from /etc/hosts.
  auto varied = handshake_data_teardown_trace();
  std::erase_if(varied, [](const Packet& p) { return (p.segment.src.addr.value >> 24) == 127; });
  expect_same_as_tcpdump(varied, style, "");
}

TEST(TcpdumpFormatter, ServiceNameOfEveryPortMatchesTcpdump) {
  // Our embedded table must agree with tcpdump's (built from /etc/services) for all 65535 ports.
  Trace t(at("2019-06-03 00:00:00"));
  for (std::uint32_t port = 1; port <= 65535; ++port) {
    Segment s = make_segment("10.0.0.1:1", "10.0.0.2:1", port, 0, SYN, 1024, {});
    s.src.port = s.dst.port = static_cast<std::uint16_t>(port);
    t.add(s, micros(1));
  }
  TcpdumpStyle style;
  style.service_names = true;
  expect_same_as_tcpdump(t.packets(), style, "");
}

TEST(TcpdumpFormatter, EveryFlagCombinationMatchesTcpdump) {
  // All 256 flag bytes on one conversation, so the relative-sequence table is exercised by SYNs
  // resetting it and ACK-less segments bypassing it, in every order the loop produces.
  Trace t(at("2019-06-03 01:02:03.000001"));
  for (int f = 0; f < 256; ++f) {
    const bool fwd = (f % 3) != 0;
    t.add(make_segment(fwd ? "10.1.1.1:1234" : "10.1.1.2:4321", fwd ? "10.1.1.2:4321" : "10.1.1.1:1234",
                       1000u * static_cast<std::uint32_t>(f) + 7, 5000u + 13u * static_cast<std::uint32_t>(f),
                       static_cast<std::uint8_t>(f), static_cast<std::uint16_t>(f * 257),
                       (f % 2) ? ts_options(f, f + 1) : TcpOptions{}, static_cast<std::uint32_t>(f % 4)));
  }
  expect_same_as_tcpdump(t.packets(), {}, "-nn");
}

TEST(TcpdumpFormatter, OptionEdgeCasesMatchTcpdump) {
  Trace t(at("2019-06-03 12:00:00.5"));
  auto syn = [&](TcpOptions o) { t.add(make_segment("10.2.0.1:1000", "10.2.0.2:2000", 1, 0, SYN, 100, o)); };
  auto unknown = [](std::uint8_t kind, std::uint32_t value, std::uint32_t bytes) {
    return TcpOption{static_cast<TcpOptionKind>(kind), value, bytes};
  };
  {  // unaligned: padded with EOL, which tcpdump shows
    TcpOptions o;
    o.mss(1400);
    o.sack_ok();
    syn(o);
  }
  {  // an explicit EOL ends the list even if more options follow it
    TcpOptions o;
    o.mss(1400);
    o.push({TcpOptionKind::Eol});
    o.nop();
    o.wscale(3);
    syn(o);
  }
  {  // the SYN option set in a different order, and wscale alone (3 bytes + padding)
    TcpOptions o;
    o.wscale(14);
    o.nop();
    o.timestamp(0xffffffffu, 0x80000000u);
    o.sack_ok();
    o.mss(536);
    syn(o);
    TcpOptions w;
    w.wscale(0);
    syn(w);
  }
  {  // kinds tcpdump has no decoder for, with 0..4 data bytes, and the RFC 6994 experiment kind
    TcpOptions o;
    o.push(unknown(99, 0x0102, 2));
    o.push(unknown(200, 0, 0));
    o.push(unknown(253, 0xab, 1));
    o.push(unknown(254, 0xabcdef01u, 4));
    o.push(unknown(77, 0xdeadbeefu, 4));
    syn(o);
  }
  {  // obsolete kinds tcpdump still names
    TcpOptions o;
    o.push(unknown(6, 1, 4));
    o.push(unknown(7, 2, 4));
    o.push(unknown(11, 3, 4));
    o.push(unknown(12, 4, 4));
    o.push(unknown(13, 5, 4));
    syn(o);
  }
  {  // more than 40 bytes requested: whatever does not fit is dropped
    TcpOptions o;
    for (int i = 0; i < 5; ++i) o.timestamp(i, i);
    syn(o);
  }
  {  // many nops, and nothing at all
    TcpOptions o;
    for (int i = 0; i < 10; ++i) o.nop();
    syn(o);
    syn({});
  }
  expect_same_as_tcpdump(t.packets(), {}, "-nn");
}

TEST(TcpdumpFormatter, ApplicationSummariesMatchTcpdump) {
  Trace t(at("2019-06-03 08:00:00"));
  const std::uint16_t ports[] = {22, 21, 25, 43, 80, 8080, 554, 8554, 179, 323, 10288, 6379, 639, 23, 443, 19090};
  // Zero-filled data (the simulator's default payload) to each dissector port, several lengths.
  for (std::uint16_t port : ports)
    for (std::uint32_t len : {1u, 2u, 3u, 4u, 21u, 1448u, 9000u}) {
      Segment s = make_segment("10.3.0.1:40000", "10.3.0.2:1", 1, 1, PSH | ACK, 10, {}, len);
      s.dst.port = port;
      t.add(s);
    }
  // Both ports have dissectors: which one wins.
  for (std::uint16_t a : ports)
    for (std::uint16_t b : ports) {
      if (a == b) continue;
      Segment s = make_segment("10.3.0.1:1", "10.3.0.2:1", 1, 1, PSH | ACK, 10, {}, 30);
      s.src.port = a;
      s.dst.port = b;
      t.add(s);
    }
  // SSH identification lines and near misses.
  static const char* const kBanners[] = {
      "SSH-2.0-OpenSSH_7.4\r\n", "SSH-2.0-x\n", "SSH-2.0-x", "SSH-2.0-x\r", "SSH-2.0-x\rY\n", "SSH-2.0-\x01\n", "SS",
      "S", "SSH", "SSH-", "SSH-\n", "ssh-2.0-x\r\n", "SSH-2.0-a\tb\r\n", "SSH-2.0-a\r\nmore\r\n",
      "SSH-2.0-\xc3\xa9\n", "X", "SSH-2.0 x~\n", "SSH-1.99-Cisco-1.25\r\n"};
  for (const char* banner : kBanners) {
    Segment s = make_segment("10.3.0.2:22", "10.3.0.1:40001", 1, 1, PSH | ACK, 10, {});
    s.payload = banner;
    t.add(s);
  }
  // Data on SYN, FIN and RST segments is dissected too (RST data is special only with -v).
  for (std::uint8_t f : {std::uint8_t(RST | ACK), std::uint8_t(FIN | ACK), std::uint8_t(SYN), std::uint8_t(RST)}) {
    t.add(make_segment("10.3.0.2:80", "10.3.0.1:40002", 1, 1, f, 10, {}, 5));
    Segment s = make_segment("10.3.0.2:22", "10.3.0.1:40002", 1, 1, f, 10, {});
    s.payload = "SSH-2.0-OpenSSH_8.0\r\n";
    t.add(s);
  }
  expect_same_as_tcpdump(t.packets(), {}, "-nn");
}

TEST(TcpdumpFormatter, RandomTrafficMatchesTcpdump) {
  // A deterministic jumble of segments over a few 4-tuples (including loopback and reversed
  // address orders), to catch any stateful rule the hand-written traces miss.
  std::mt19937 rng(20190603);
  const char* const ends[][2] = {{"10.9.0.1:33000", "10.9.0.2:19090"},
                                 {"10.9.0.9:33001", "10.9.0.2:19090"},
                                 {"127.0.0.1:40000", "127.0.0.1:40001"},
                                 {"10.9.0.2:19090", "10.9.0.1:33002"}};
  const std::uint8_t flag_menu[] = {SYN, SYN | ACK, ACK, PSH | ACK, FIN | ACK, RST, RST | ACK, FIN, ACK | ECE, SYN | ECE | CWR};
  Trace t(at("2019-06-03 10:00:00"));
  for (int i = 0; i < 3000; ++i) {
    const auto& pair = ends[rng() % 4];
    const bool fwd = rng() % 2;
    const std::uint32_t seq = (rng() % 4 == 0) ? static_cast<std::uint32_t>(rng()) : static_cast<std::uint32_t>(rng() % 5000);
    const std::uint32_t ack = (rng() % 4 == 0) ? static_cast<std::uint32_t>(rng()) : static_cast<std::uint32_t>(rng() % 5000);
    TcpOptions o;
    switch (rng() % 4) {
      case 0: o = linux_syn_options(static_cast<std::uint16_t>(rng()), rng(), rng(), static_cast<std::uint8_t>(rng() % 15)); break;
      case 1: o = ts_options(rng(), rng()); break;
      case 2: o.mss(static_cast<std::uint16_t>(rng())); break;
      default: break;
    }
    const std::uint32_t len = (rng() % 3 == 0) ? rng() % 3000 : 0;
    t.add(make_segment(pair[fwd ? 0 : 1], pair[fwd ? 1 : 0], seq, ack, flag_menu[rng() % std::size(flag_menu)],
                       static_cast<std::uint16_t>(rng()), o, len),
          micros(static_cast<std::int64_t>(rng() % 2000000)));
  }
  expect_same_as_tcpdump(t.packets(), {}, "-nn");
}

TEST(TcpdumpFormatter, ResetForgetsConversations) {
  TcpdumpFormatter f;
  const auto ack = make_segment("10.0.0.1:1", "10.0.0.2:2", 100, 200, ACK, 1, {});
  const WallTime when = at("2019-06-03 00:00:00");
  EXPECT_NE(f.format(ack, when).find("ack 200"), std::string::npos);
  EXPECT_NE(f.format(ack, when).find("ack 1,"), std::string::npos);
  f.reset();
  EXPECT_NE(f.format(ack, when).find("ack 200"), std::string::npos);
}

TEST(TcpdumpFormatter, AppendReusesCallerBuffer) {
  TcpdumpFormatter f;
  std::string out = "prefix|";
  f.append(out, make_segment("10.0.0.1:1", "10.0.0.2:2", 5, 0, SYN, 1, {}), at("2019-06-03 00:00:00.000007"));
  EXPECT_EQ(out, "prefix|00:00:00.000007 IP 10.0.0.1.1 > 10.0.0.2.2: Flags [S], seq 5, win 1, length 0");
}

}  // namespace
}  // namespace synscope::capture::testing

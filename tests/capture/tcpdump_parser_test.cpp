// TcpdumpTextParser: the seed's printouts, round trips through the real tcpdump (segments -> pcap ->
// `tcpdump ...` -> parser -> the same fields), and bad input of every kind.
#include <gtest/gtest.h>
#include <pcap/pcap.h>

#include <cstdint>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "capture/pcap_writer.h"
#include "capture/tcpdump_parser.h"
#include "core/error.h"
#include "tcpdump_harness.h"
#include "traces.h"

namespace synscope::capture::testing {
namespace {

using namespace tcp_flag;

const std::string kPrintouts = SYNSCOPE_SOURCE_DIR "/../shared/spec/seed-printouts/";

TextParseOptions on_day(const char* date) {
  TextParseOptions o;
  o.base_date = at(std::string(date) + " 00:00:00");
  return o;
}

TextCapture parse(std::string_view text, TextParseOptions o = {}) {
  return TcpdumpTextParser::parse_text(text, std::move(o));
}

// The UsageError message parsing `text` gives, or "" when it parses.
std::string error_of(std::string_view text, TextParseOptions o = {}) {
  try {
    parse(text, std::move(o));
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

IpAddress v4(const char* text) { return IpAddress::from_v4(*Ipv4Addr::parse(text)); }

// What tcpdump shows of an option list: the list itself, plus the "eol" that pads an unaligned one.
TcpOptions as_printed(const TcpOptions& o) {
  TcpOptions out = o;
  if (o.wire_length() % 4 != 0) out.push({TcpOptionKind::Eol});
  return out;
}

std::string describe(const TcpOptions& o) {
  std::string s;
  for (const auto& x : o) s += std::to_string(static_cast<int>(x.kind)) + ":" + std::to_string(x.a) + "/" + std::to_string(x.b) + " ";
  return s;
}

// ---- the seed's printouts --------------------------------------------------------------------------

TEST(TcpdumpTextParser, SeedPrintoutsParseCompletely) {
  for (const char* name : {"exp1_tw_recycle_off.txt", "exp2_tw_recycle_on.txt", "exp3_server_close_then_nat_syn.txt"}) {
    SCOPED_TRACE(name);
    const std::string text = read_file(kPrintouts + name);
    ASSERT_FALSE(text.empty()) << "missing " << kPrintouts << name;
    const auto lines = split_lines(text);
    const TextCapture cap = TcpdumpTextParser::parse_file(kPrintouts + name, on_day("2019-06-03"));
    EXPECT_EQ(cap.stats.lines, lines.size());
    EXPECT_EQ(cap.stats.skipped_lines, 0u);
    EXPECT_EQ(cap.stats.other_packets, 0u);
    EXPECT_EQ(cap.stats.relative_numbers, 0u);
    EXPECT_EQ(cap.stats.numbering, SeqNumbering::Relative);
    ASSERT_EQ(cap.packets.size(), lines.size());
    for (std::size_t i = 0; i < cap.packets.size(); ++i) {
      const TextPacket& p = cap.packets[i];
      EXPECT_EQ(p.record.frame, i + 1);
      EXPECT_TRUE(is_absolute(p.seq_origin)) << "line " << i + 1;
      if (p.record.flags & ACK) {
        EXPECT_TRUE(is_absolute(p.ack_origin)) << "line " << i + 1;
      } else {
        EXPECT_EQ(p.ack_origin, SeqOrigin::Unknown);
      }
      EXPECT_TRUE(p.options_complete);
      EXPECT_FALSE(p.src_is_name || p.dst_is_name);
      // Every time stamp is on the capture day, to the microsecond, as printed.
      EXPECT_EQ(format_date_time(p.record.ts), "2019-06-03 " + lines[i].substr(0, 15));
    }
  }
}

TEST(TcpdumpTextParser, SeedExperiment1GivesTheSegmentsThatProducedIt) {
  const TextCapture cap = TcpdumpTextParser::parse_file(kPrintouts + "exp1_tw_recycle_off.txt", on_day("2019-06-03"));
  ASSERT_EQ(cap.packets.size(), 6u);
  const auto& r = cap.packets;
  // Line 3's "ack 1" is relative to the SYN-ACK's seq 2846609535.
  EXPECT_EQ(r[2].record.ack, 2846609536u);
  EXPECT_EQ(r[2].ack_origin, SeqOrigin::Handshake);
  EXPECT_EQ(r[2].record.seq, 2466985869u);  // not printed: the client's next sequence number
  EXPECT_EQ(r[2].seq_origin, SeqOrigin::Inferred);
  EXPECT_EQ(r[5].record.ack, 3434079626u);
  EXPECT_EQ(r[5].record.seq, 2892210421u);

  const Segment syn = make_segment("10.85.3.51:57104", "10.85.3.111:19090", 2466985868u, 0, SYN, 25200,
                                   linux_syn_options(1260, 3075335984u, 0, 7));
  const PacketRecord& first = r[0].record;
  EXPECT_EQ(first.src, (PacketEndpoint{v4("10.85.3.51"), 57104}));
  EXPECT_EQ(first.dst, (PacketEndpoint{v4("10.85.3.111"), 19090}));
  EXPECT_EQ(first.seq, syn.seq);
  EXPECT_EQ(first.ack, 0u);
  EXPECT_EQ(r[0].ack_origin, SeqOrigin::Unknown);
  EXPECT_EQ(first.flags, SYN);
  EXPECT_EQ(first.window, 25200);
  EXPECT_EQ(first.options, syn.options);
  EXPECT_EQ(first.payload_len, 0u);
  EXPECT_EQ(first.ts.unix_ns, at("2019-06-03 17:39:27.970358").unix_ns);
  const PacketRecord& synack = r[1].record;
  EXPECT_EQ(synack.flags, SYN | ACK);
  EXPECT_EQ(synack.seq, 2846609535u);
  EXPECT_EQ(synack.ack, 2466985869u);
  EXPECT_EQ(synack.options, linux_syn_options(1260, 2612548200u, 3075335984u, 7));
  EXPECT_EQ(r[2].record.options, ts_options(3075335985u, 2612548200u));
}

TEST(TcpdumpTextParser, SeedExperiment3NamedPortsAndRelativeNumbersComeOutAbsolute) {
  const TextCapture cap =
      TcpdumpTextParser::parse_file(kPrintouts + "exp3_server_close_then_nat_syn.txt", on_day("2019-06-03"));
  ASSERT_EQ(cap.packets.size(), 12u);
  const auto rec = [&](std::size_t line) { return cap.packets.at(line - 1).record; };
  const IpAddress nat = v4("10.85.3.51"), server = v4("10.85.3.111");
  // "10.85.3.51.ssh" is port 22.
  EXPECT_EQ(rec(1).dst, (PacketEndpoint{nat, 22}));
  EXPECT_EQ(rec(2).src, (PacketEndpoint{nat, 22}));
  // The banner: "seq 1:22" relative to the SYN-ACK's 489573340, 21 bytes.
  EXPECT_EQ(rec(4).seq, 489573341u);
  EXPECT_EQ(rec(4).ack, 1039611754u);
  EXPECT_EQ(rec(4).payload_len, 21u);
  EXPECT_EQ(rec(4).flags, PSH | ACK);
  // The server closes first: FIN "seq 1, ack 22".
  EXPECT_EQ(rec(6).flags, FIN | ACK);
  EXPECT_EQ(rec(6).seq, 1039611754u);
  EXPECT_EQ(rec(6).ack, 489573362u);
  // The FIN from 10.85.3.51 carries TS val 3035582641 (what tcp_metrics remembers).
  EXPECT_EQ(rec(8).src, (PacketEndpoint{nat, 22}));
  EXPECT_EQ(rec(8).flags, FIN | ACK);
  EXPECT_EQ(rec(8).seq, 489573362u);
  ASSERT_TRUE(rec(8).options.ts());
  EXPECT_EQ(rec(8).options.ts()->val, 3035582641u);
  EXPECT_EQ(rec(9).ack, 489573363u);
  EXPECT_EQ(rec(9).seq, 1039611755u);
  // Then three SYNs from 10.85.3.51:34264, same ISN, TS vals 1 s and 2 s apart.
  const std::uint32_t ts_vals[] = {1759176699u, 1759177700u, 1759179704u};
  for (std::size_t i = 0; i < 3; ++i) {
    const PacketRecord r = rec(10 + i);
    EXPECT_EQ(r.src, (PacketEndpoint{nat, 34264}));
    EXPECT_EQ(r.dst, (PacketEndpoint{server, 19090}));
    EXPECT_EQ(r.flags, SYN);
    EXPECT_EQ(r.seq, 668096838u);
    EXPECT_EQ(r.options, linux_syn_options(1260, ts_vals[i], 0, 7));
  }
  EXPECT_EQ(rec(12).ts.unix_ns, at("2019-06-03 22:45:36.946320").unix_ns);
}

// ---- round trips through the real tcpdump -----------------------------------------------------------

// A ticket-sized capture with realistic (large, random-looking) sequence numbers: a full HTTPS
// connection, two conversations the capture joined in the middle, SYNs that go unanswered and a
// closed port's RST, an SSH banner, odd option lists -- and midnight in the middle.
std::vector<Packet> ticket_trace() {
  Trace t(at("2019-06-03 23:59:58.500000"));
  static constexpr std::string_view kBanner = "SSH-2.0-OpenSSH_7.4\r\n";
  // 1. Full connection with data both ways and a clean close.
  const char* C = "10.20.30.40:51234";
  const char* S = "10.20.0.5:443";
  const std::uint32_t c = 3141592653u, s = 2718281828u;
  t.add(make_segment(C, S, c, 0, SYN, 64240, linux_syn_options(1460, 3000000000u, 0, 7)));
  t.add(make_segment(S, C, s, c + 1, SYN | ACK, 65160, linux_syn_options(1460, 4000000000u, 3000000000u, 7)));
  t.add(make_segment(C, S, c + 1, s + 1, ACK, 502, ts_options(3000000001u, 4000000000u)));
  t.add(make_segment(C, S, c + 1, s + 1, PSH | ACK, 502, ts_options(3000000002u, 4000000000u), 517));
  t.add(make_segment(S, C, s + 1, c + 518, ACK, 506, ts_options(4000000001u, 3000000002u)));
  t.add(make_segment(S, C, s + 1, c + 518, ACK, 506, ts_options(4000000002u, 3000000002u), 1448));
  t.add(make_segment(S, C, s + 1449, c + 518, PSH | ACK, 506, ts_options(4000000002u, 3000000002u), 1448));
  t.add(make_segment(C, S, c + 518, s + 2897, ACK, 501, ts_options(3000000003u, 4000000002u)));
  // 2. Joined mid-connection, first segment carries data (tcpdump prints it absolute).
  const char* D = "10.20.30.41:40000";
  const char* P = "10.20.0.5:5432";
  t.add(make_segment(D, P, 1234567890u, 987654321u, PSH | ACK, 1000, ts_options(11, 22), 100));
  t.add(make_segment(P, D, 987654321u, 1234567990u, ACK, 1001, ts_options(23, 11)));
  t.add(make_segment(P, D, 987654321u, 1234567990u, PSH | ACK, 1001, ts_options(24, 11), 60));
  // 3. Joined mid-connection with a pure ACK, whose seq tcpdump keeps as a reference it never prints.
  const char* R = "10.20.30.42:40001";
  const char* Q = "10.20.0.5:6379";
  t.add(make_segment(R, Q, 500000000u, 3000000000u, ACK, 2000, ts_options(31, 32)));
  t.add(make_segment(Q, R, 3000000000u, 500000000u, PSH | ACK, 2001, ts_options(33, 31), 50));
  t.add(make_segment(R, Q, 500000000u, 3000000050u, ACK, 2000, ts_options(34, 33)));
  t.add(make_segment(R, Q, 500000000u, 3000000050u, PSH | ACK, 2000, ts_options(35, 33), 20));
  // 4. SYNs nobody answers, retransmitted across midnight; then a closed port's RST-ACK.
  const char* N = "10.20.30.43:45000";
  const char* M = "10.20.0.5:19090";
  const std::uint32_t n = 668096838u;
  t.add(make_segment(N, M, n, 0, SYN, 29200, linux_syn_options(1460, 1759176699u, 0, 7)));
  t.add(make_segment(N, M, n, 0, SYN, 29200, linux_syn_options(1460, 1759177700u, 0, 7)), seconds(1));
  t.add(make_segment(N, M, n, 0, SYN, 29200, linux_syn_options(1460, 1759179704u, 0, 7)), seconds(2));
  t.add(make_segment(M, N, 0, n + 1, RST | ACK, 0, {}));
  // 5. An SSH banner (tcpdump 4.99 appends ": SSH: SSH-2.0-..."), an unaligned option list (printed
  //    with a trailing "eol"), a SYN without options and a zero window.
  const char* U = "10.20.30.44:50022";
  const char* V = "10.20.0.6:22";
  const std::uint32_t u = 4000000123u, v = 1999999999u;
  TcpOptions unaligned;
  unaligned.mss(1400);
  unaligned.sack_ok();
  t.add(make_segment(U, V, u, 0, SYN, 1024, unaligned));
  t.add(make_segment(V, U, v, u + 1, SYN | ACK, 0, {}));
  t.add(make_segment(U, V, u + 1, v + 1, ACK, 1024, {}));
  Segment& banner = t.add(make_segment(V, U, v + 1, u + 1, PSH | ACK, 0, {}));
  banner.payload = kBanner;
  t.add(make_segment(U, V, u + 1, v + 1 + static_cast<std::uint32_t>(kBanner.size()), FIN | ACK, 1024, {}));
  // 6. Loopback (tcpdump without -n calls it "localhost"), to port 80 (": HTTP").
  const char* L1 = "127.0.0.1:33333";
  const char* L2 = "127.0.0.1:80";
  t.add(make_segment(L1, L2, 2000000000u, 0, SYN, 65495, linux_syn_options(65495, 5, 0, 7)));
  t.add(make_segment(L2, L1, 2100000000u, 2000000001u, SYN | ACK, 65483, linux_syn_options(65495, 6, 5, 7)));
  t.add(make_segment(L1, L2, 2000000001u, 2100000001u, ACK, 512, ts_options(7, 6)));
  t.add(make_segment(L1, L2, 2000000001u, 2100000001u, PSH | ACK, 512, ts_options(8, 6), 77));
  for (auto& p : t.packets()) p.segment.ttl = static_cast<std::uint8_t>(40 + p.segment.seq % 20);
  return t.packets();
}

// Line numbers (1-based) where tcpdump's output starts a packet: every line not indented.
std::vector<std::uint64_t> packet_lines(const std::vector<std::string>& lines) {
  std::vector<std::uint64_t> out;
  for (std::size_t i = 0; i < lines.size(); ++i)
    if (!lines[i].empty() && lines[i][0] != ' ' && lines[i][0] != '\t') out.push_back(i + 1);
  return out;
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + '\n';
  return out;
}

struct RoundTrip {
  std::function<IpAddress(Ipv4Addr)> address = [](Ipv4Addr a) { return IpAddress::from_v4(a); };
  bool ttl = false;               // -v: the record carries the IP TTL / hop limit
  bool names_for_loopback = false;  // without -n: 127.0.0.1 is printed as a host name
  Encapsulation encapsulation = Encapsulation::None;
  std::string interface;          // -i any captures
};

// Compares every parsed packet with the segment it was printed from, field by field. The sequence
// numbers the text cannot give absolutely are not compared but returned as "INDEX seq|ack ORIGIN",
// so each test states exactly which ones those are.
std::vector<std::string> compare_with_segments(const TextCapture& cap, const std::vector<Packet>& packets,
                                               const std::vector<std::string>& lines, const RoundTrip& how) {
  std::vector<std::string> gaps;
  const auto frames = packet_lines(lines);
  EXPECT_EQ(cap.stats.skipped_lines, 0u);
  if (!cap.stats.skipped_examples.empty())
    ADD_FAILURE() << "line " << cap.stats.skipped_examples[0].line << ": " << cap.stats.skipped_examples[0].reason;
  EXPECT_EQ(cap.packets.size(), packets.size());
  EXPECT_EQ(frames.size(), packets.size());
  if (cap.packets.size() != packets.size() || frames.size() != packets.size()) return gaps;
  for (std::size_t i = 0; i < packets.size(); ++i) {
    const TextPacket& p = cap.packets[i];
    const PacketRecord& r = p.record;
    const Segment& s = packets[i].segment;
    SCOPED_TRACE("packet " + std::to_string(i) + ": " + lines[frames[i] - 1]);
    EXPECT_EQ(r.frame, frames[i]);
    EXPECT_EQ(r.ts.unix_ns, packets[i].when.unix_ns);
    const auto check_host = [&](const PacketEndpoint& got, bool is_name, const Endpoint& want, std::size_t side) {
      EXPECT_EQ(got.port, want.port);
      if (how.names_for_loopback && (want.addr.value >> 24) == 127) {
        ASSERT_TRUE(is_name);
        // The name is what tcpdump printed ("localhost"), behind a pseudo-address in 240.0.0.0/8.
        const std::string& line = lines[frames[i] - 1];
        const std::size_t start = side == 0 ? line.find(" IP ") + 4 : line.find(" > ") + 3;
        const std::string printed = line.substr(start, line.find_first_of(" :", start) - start);
        const std::string host = printed.substr(0, printed.rfind('.'));
        const std::string* name = cap.host_name(got.addr);
        ASSERT_NE(name, nullptr);
        EXPECT_EQ(*name, host);
        ASSERT_TRUE(got.addr.v4());
        EXPECT_EQ(got.addr.v4()->value >> 24, 240u);
      } else {
        EXPECT_FALSE(is_name);
        EXPECT_EQ(got.addr, how.address(want.addr)) << got.addr.str();
      }
    };
    check_host(r.src, p.src_is_name, s.src, 0);
    check_host(r.dst, p.dst_is_name, s.dst, 1);
    EXPECT_EQ(r.flags, s.flags);
    EXPECT_EQ(r.window, s.window);
    EXPECT_EQ(r.options, as_printed(s.options)) << describe(r.options) << " vs " << describe(s.options);
    EXPECT_TRUE(p.options_complete);
    EXPECT_EQ(r.payload_len, s.payload.empty() ? s.payload_len : s.payload.size());
    EXPECT_EQ(r.ttl, how.ttl ? s.ttl : 0);
    EXPECT_EQ(r.encapsulation, how.encapsulation);
    EXPECT_FALSE(r.truncated);
    EXPECT_EQ(p.interface, how.interface);
    if (is_absolute(p.seq_origin))
      EXPECT_EQ(r.seq, s.seq) << to_string(p.seq_origin);
    else
      gaps.push_back(std::to_string(i) + " seq " + std::string(to_string(p.seq_origin)));
    if (!(s.flags & ACK)) {
      EXPECT_EQ(p.ack_origin, SeqOrigin::Unknown);
      EXPECT_EQ(r.ack, 0u);
    } else if (is_absolute(p.ack_origin)) {
      EXPECT_EQ(r.ack, s.ack) << to_string(p.ack_origin);
    } else {
      gaps.push_back(std::to_string(i) + " ack " + std::string(to_string(p.ack_origin)));
    }
  }
  return gaps;
}

// Writes `packets` with PcapWriter, prints them with `tcpdump FLAGS`, parses the text.
struct Printed {
  std::vector<std::string> lines;
  TextCapture cap;
};
Printed print_and_parse(const std::vector<Packet>& packets, const std::string& flags) {
  TempDir dir;
  const std::string pcap = dir.file("capture.pcap");
  write_pcap(pcap, packets);
  Printed out;
  out.lines = run_tcpdump(dir, pcap, flags);
  out.cap = parse(join_lines(out.lines), on_day("2019-06-03"));
  return out;
}

// The numbers of ticket_trace() no text can give absolutely under tcpdump's default numbering:
// conversation 3 (packets 11-14) was joined with a pure ACK, and tcpdump's reference for the
// client's side is the seq of that ACK, which it never printed.
const std::vector<std::string> kJoinedWithPureAck = {"11 seq unknown", "12 ack relative", "13 seq unknown",
                                                     "14 seq relative"};

TEST(TcpdumpTextParser, RoundTripsTcpdumpNnOutput) {
  ASSERT_TRUE(have_tool("tcpdump"));
  const auto packets = ticket_trace();
  const Printed out = print_and_parse(packets, "-nn");
  const auto gaps = compare_with_segments(out.cap, packets, out.lines, {});
  EXPECT_EQ(gaps, kJoinedWithPureAck);
  EXPECT_EQ(out.cap.stats.numbering, SeqNumbering::Relative);
  EXPECT_EQ(out.cap.stats.day_wraps, 1u);
  // How the other numbers were recovered.
  const auto& p = out.cap.packets;
  EXPECT_EQ(p[2].ack_origin, SeqOrigin::Handshake);
  EXPECT_EQ(p[2].seq_origin, SeqOrigin::Inferred);
  EXPECT_EQ(p[6].seq_origin, SeqOrigin::Handshake);
  EXPECT_EQ(p[8].seq_origin, SeqOrigin::Printed);  // the reference line itself
  EXPECT_EQ(p[9].seq_origin, SeqOrigin::Inferred);  // from the first segment's ack
  EXPECT_EQ(p[9].ack_origin, SeqOrigin::FirstSegment);
  EXPECT_EQ(p[10].seq_origin, SeqOrigin::FirstSegment);
  EXPECT_EQ(p[10].ack_origin, SeqOrigin::FirstSegment);
  EXPECT_EQ(p[12].seq_origin, SeqOrigin::FirstSegment);
  EXPECT_EQ(p[12].ack_origin, SeqOrigin::Relative);
  EXPECT_EQ(p[18].seq_origin, SeqOrigin::Printed);  // the closed port's "seq 0, ack ISN+1"
  EXPECT_EQ(p[18].ack_origin, SeqOrigin::Printed);
}

TEST(TcpdumpTextParser, RoundTripsTcpdumpDateTimeOutput) {
  ASSERT_TRUE(have_tool("tcpdump"));
  const auto packets = ticket_trace();
  const Printed out = print_and_parse(packets, "-tttt -nn");
  EXPECT_EQ(compare_with_segments(out.cap, packets, out.lines, {}),
            kJoinedWithPureAck);
  EXPECT_EQ(out.cap.stats.day_wraps, 0u);  // the dates are printed
}

TEST(TcpdumpTextParser, RoundTripsTcpdumpEpochOutput) {
  ASSERT_TRUE(have_tool("tcpdump"));
  const auto packets = ticket_trace();
  const Printed out = print_and_parse(packets, "-tt -nn");
  EXPECT_EQ(compare_with_segments(out.cap, packets, out.lines, {}),
            kJoinedWithPureAck);
}

TEST(TcpdumpTextParser, RoundTripsTcpdumpAbsoluteSequenceOutputAndDetectsIt) {
  ASSERT_TRUE(have_tool("tcpdump"));
  const auto packets = ticket_trace();
  const Printed out = print_and_parse(packets, "-S -nn");
  EXPECT_EQ(out.cap.stats.numbering, SeqNumbering::Absolute);
  EXPECT_GT(out.cap.stats.absolute_votes, 0u);
  EXPECT_EQ(out.cap.stats.relative_votes, 0u);
  // With -S only the very first pure ACK of conversation 3 lacks a seq (nothing earlier to infer it).
  EXPECT_EQ(compare_with_segments(out.cap, packets, out.lines, {}), (std::vector<std::string>{"11 seq unknown"}));
  EXPECT_EQ(out.cap.packets[13].seq_origin, SeqOrigin::Inferred);  // from the server's "ack 500000000"
}

TEST(TcpdumpTextParser, RoundTripsTcpdumpOutputWithServiceAndHostNames) {
  ASSERT_TRUE(have_tool("tcpdump"));
  const auto packets = ticket_trace();
  const Printed out = print_and_parse(packets, "");  // no -n: ports and hosts by name
  ASSERT_GE(out.lines.size(), 4u);
  EXPECT_NE(out.lines[0].find("10.20.0.5.https: Flags [S]"), std::string::npos) << out.lines[0];
  RoundTrip how;
  how.names_for_loopback = true;
  EXPECT_EQ(compare_with_segments(out.cap, packets, out.lines, how),
            kJoinedWithPureAck);
  // Both loopback endpoints share the one pseudo-address, so the conversation still lines up.
  const auto& lo = out.cap.packets.back().record;
  EXPECT_EQ(lo.src.addr, lo.dst.addr);
  EXPECT_EQ(out.cap.host_names.size(), 1u);
  EXPECT_EQ(out.cap.stats.named_hosts, 4u);
  EXPECT_EQ(out.cap.packets[25].seq_origin, SeqOrigin::Printed);
  EXPECT_EQ(out.cap.packets[26].ack_origin, SeqOrigin::Handshake);
  EXPECT_EQ(out.cap.packets[27].seq_origin, SeqOrigin::Handshake);
}

TEST(TcpdumpTextParser, RoundTripsTcpdumpVerboseOutputJoiningContinuationLines) {
  ASSERT_TRUE(have_tool("tcpdump"));
  const auto packets = ticket_trace();
  for (const char* flags : {"-v -nn", "-vv -nn", "-v -nn -X"}) {
    SCOPED_TRACE(flags);
    const Printed out = print_and_parse(packets, flags);
    RoundTrip how;
    how.ttl = true;
    const auto gaps = compare_with_segments(out.cap, packets, out.lines, how);
    if (std::string(flags) == "-vv -nn") {
      // -vv prints seq on pure ACKs too, so tcpdump's reference for conversation 3 is known.
      EXPECT_EQ(gaps, std::vector<std::string>{});
    } else {
      EXPECT_EQ(gaps, kJoinedWithPureAck);
    }
    EXPECT_GT(out.lines.size(), 2 * packets.size() - 1);
  }
}

TEST(TcpdumpTextParser, RoundTripsTcpdumpLinkLevelOutput) {
  ASSERT_TRUE(have_tool("tcpdump"));
  const auto packets = ticket_trace();
  const Printed out = print_and_parse(packets, "-e -nn");
  ASSERT_FALSE(out.lines.empty());
  EXPECT_NE(out.lines[0].find(", ethertype IPv4 (0x0800), length "), std::string::npos) << out.lines[0];
  EXPECT_EQ(compare_with_segments(out.cap, packets, out.lines, {}),
            kJoinedWithPureAck);
}

TEST(TcpdumpTextParser, RoundTripsTheSharedVariedTraceInEveryNumbering) {
  // The formatter tests' trace: sequence wrap, loopback, every flag, tiny ISNs. Its mid-capture
  // conversation (192.168.7.9) has small numbers (5000, 70000), which the excerpt heuristic reads
  // as relative until that conversation's SYN-ACK.
  ASSERT_TRUE(have_tool("tcpdump"));
  const auto packets = handshake_data_teardown_trace();
  std::size_t first_mid = 0;
  while (first_mid < packets.size() && packets[first_mid].segment.src.addr.str() != "192.168.7.9") ++first_mid;
  ASSERT_LT(first_mid, packets.size());
  const std::string a = std::to_string(first_mid), b = std::to_string(first_mid + 1), c = std::to_string(first_mid + 2);
  {
    const Printed out = print_and_parse(packets, "-nn");
    EXPECT_EQ(compare_with_segments(out.cap, packets, out.lines, {}),
              (std::vector<std::string>{a + " seq unknown", a + " ack relative", b + " seq relative", b + " ack relative",
                                        c + " seq unknown", c + " ack relative"}));
    EXPECT_EQ(out.cap.stats.numbering, SeqNumbering::Relative);
  }
  {
    const Printed out = print_and_parse(packets, "-S -nn");
    EXPECT_EQ(out.cap.stats.numbering, SeqNumbering::Absolute);
    EXPECT_EQ(compare_with_segments(out.cap, packets, out.lines, {}), (std::vector<std::string>{a + " seq unknown"}));
  }
}

// Writes raw frames of any link type with libpcap.
void write_frames(const std::string& path, int linktype, const std::vector<std::pair<WallTime, std::vector<std::uint8_t>>>& frames) {
  pcap_t* p = pcap_open_dead(linktype, 262144);
  ASSERT_NE(p, nullptr);
  pcap_dumper_t* d = pcap_dump_open(p, path.c_str());
  ASSERT_NE(d, nullptr) << pcap_geterr(p);
  for (const auto& [when, frame] : frames) {
    pcap_pkthdr h{};
    h.ts.tv_sec = when.unix_ns / 1000000000;
    h.ts.tv_usec = (when.unix_ns % 1000000000) / 1000;
    h.caplen = h.len = static_cast<bpf_u_int32>(frame.size());
    pcap_dump(reinterpret_cast<u_char*>(d), &h, frame.data());
  }
  pcap_dump_close(d);
  pcap_close(p);
}

std::vector<std::string> run_tcpdump_on(const TempDir& dir, const std::string& pcap, const std::string& flags) {
  const auto r = run_command("TZ=UTC unshare --net tcpdump " + flags + " -r '" + pcap + "'", dir);
  EXPECT_EQ(r.exit_status, 0) << r.err;
  return split_lines(r.out);
}

// 2001:db8::a.b.c.d for an IPv4 address a.b.c.d.
IpAddress v6_of(Ipv4Addr a) {
  IpAddress r;
  r.v6 = true;
  r.bytes[0] = 0x20, r.bytes[1] = 0x01, r.bytes[2] = 0x0d, r.bytes[3] = 0xb8;
  for (int i = 0; i < 4; ++i) r.bytes[12 + i] = static_cast<std::uint8_t>(a.value >> (24 - 8 * i));
  return r;
}

TEST(TcpdumpTextParser, RoundTripsTcpdumpIpv6Output) {
  // PcapWriter writes IPv4; here the same TCP bytes go behind an IPv6 header (their checksum is then
  // wrong, which tcpdump shows only with -v).
  ASSERT_TRUE(have_tool("tcpdump"));
  auto packets = ticket_trace();
  std::erase_if(packets, [](const Packet& p) { return (p.segment.src.addr.value >> 24) == 127; });
  std::vector<std::pair<WallTime, std::vector<std::uint8_t>>> frames;
  for (const auto& p : packets) {
    const auto f4 = encode_ethernet_frame(p.segment);
    const std::vector<std::uint8_t> tcp(f4.begin() + kEthernetHeaderLen + kIpv4HeaderLen, f4.end());
    std::vector<std::uint8_t> f(f4.begin(), f4.begin() + 12);
    f.push_back(0x86), f.push_back(0xdd);
    const std::uint8_t ip6[8] = {0x60, 0x01, 0x23, 0x45, static_cast<std::uint8_t>(tcp.size() >> 8),
                                 static_cast<std::uint8_t>(tcp.size()), 6, p.segment.ttl};
    f.insert(f.end(), ip6, ip6 + 8);
    const auto s6 = v6_of(p.segment.src.addr), d6 = v6_of(p.segment.dst.addr);
    f.insert(f.end(), s6.bytes.begin(), s6.bytes.end());
    f.insert(f.end(), d6.bytes.begin(), d6.bytes.end());
    f.insert(f.end(), tcp.begin(), tcp.end());
    frames.emplace_back(p.when, std::move(f));
  }
  TempDir dir;
  const std::string pcap = dir.file("v6.pcap");
  write_frames(pcap, DLT_EN10MB, frames);
  RoundTrip how;
  how.address = v6_of;
  for (const char* flags : {"-nn", "-v -nn", "-S -nn", ""}) {
    SCOPED_TRACE(flags);
    const auto lines = run_tcpdump_on(dir, pcap, flags);
    ASSERT_FALSE(lines.empty());
    EXPECT_TRUE(lines[0].starts_with("23:59:58.500317 IP6 ")) << lines[0];
    EXPECT_NE(lines[0].find(" 2001:db8::a14:1e28.51234 > 2001:db8::a14:5."), std::string::npos) << lines[0];
    how.ttl = std::string(flags) == "-v -nn";
    const TextCapture cap = parse(join_lines(lines), on_day("2019-06-03"));
    const auto gaps = compare_with_segments(cap, packets, lines, how);
    if (std::string(flags) == "-S -nn")
      EXPECT_EQ(gaps, (std::vector<std::string>{"11 seq unknown"}));
    else
      EXPECT_EQ(gaps, kJoinedWithPureAck);
  }
}

TEST(TcpdumpTextParser, RoundTripsTcpdumpAnyInterfaceOutput) {
  // "-i any" captures are Linux cooked v2: tcpdump prints the interface and direction first.
  ASSERT_TRUE(have_tool("tcpdump"));
  const auto packets = ticket_trace();
  std::vector<std::pair<WallTime, std::vector<std::uint8_t>>> frames;
  for (std::size_t i = 0; i < packets.size(); ++i) {
    const auto f4 = encode_ethernet_frame(packets[i].segment);
    // protocol, reserved, ifindex 1 (lo in a fresh namespace), ARPHRD_ETHER, packet type
    // (0 = to us, 4 = outgoing), address length, address.
    std::vector<std::uint8_t> f = {0x08, 0x00, 0, 0, 0, 0, 0, 1, 0, 1, static_cast<std::uint8_t>(i % 2 ? 4 : 0), 6,
                                   2, 0, 1, 2, 3, 4, 0, 0};
    f.insert(f.end(), f4.begin() + kEthernetHeaderLen, f4.end());
    frames.emplace_back(packets[i].when, std::move(f));
  }
  TempDir dir;
  const std::string pcap = dir.file("any.pcap");
  write_frames(pcap, 276 /* DLT_LINUX_SLL2 */, frames);
  for (const char* flags : {"-nn", "-e -nn", "-v -nn"}) {
    SCOPED_TRACE(flags);
    const auto lines = run_tcpdump_on(dir, pcap, flags);
    ASSERT_FALSE(lines.empty());
    EXPECT_TRUE(lines[0].starts_with("23:59:58.500317 lo    In  ")) << lines[0];
    const TextCapture cap = parse(join_lines(lines), on_day("2019-06-03"));
    RoundTrip how;
    how.interface = "lo";
    how.ttl = std::string(flags) == "-v -nn";
    EXPECT_EQ(compare_with_segments(cap, packets, lines, how),
              kJoinedWithPureAck);
    ASSERT_EQ(cap.packets.size(), packets.size());
    for (std::size_t i = 0; i < cap.packets.size(); ++i)
      EXPECT_EQ(cap.packets[i].direction, i % 2 ? LinkDirection::Out : LinkDirection::In) << i;
  }
}

TEST(TcpdumpTextParser, RoundTripsVlanTaggedLinkLevelOutput) {
  ASSERT_TRUE(have_tool("tcpdump"));
  const auto packets = ticket_trace();
  std::vector<std::pair<WallTime, std::vector<std::uint8_t>>> frames;
  for (const auto& p : packets) {
    auto f = encode_ethernet_frame(p.segment);
    const std::uint8_t tag[4] = {0x81, 0x00, 0x00, 0x64};  // 802.1Q, VLAN 100
    f.insert(f.begin() + 12, tag, tag + 4);
    frames.emplace_back(p.when, std::move(f));
  }
  TempDir dir;
  const std::string pcap = dir.file("vlan.pcap");
  write_frames(pcap, DLT_EN10MB, frames);
  const auto lines = run_tcpdump_on(dir, pcap, "-e -nn");
  ASSERT_FALSE(lines.empty());
  EXPECT_NE(lines[0].find("vlan 100, p 0, ethertype IPv4 (0x0800), 10.20.30.40.51234 > "), std::string::npos) << lines[0];
  RoundTrip how;
  how.encapsulation = Encapsulation::Vlan;
  EXPECT_EQ(compare_with_segments(parse(join_lines(lines), on_day("2019-06-03")), packets, lines, how),
            kJoinedWithPureAck);
}

// ---- time stamps ----------------------------------------------------------------------------------

TEST(TcpdumpTextParser, ClockOnlyTimeStampsWrapAtMidnightButNotOnSmallBackwardSteps) {
  const std::string rest = " IP 10.0.0.1.1000 > 10.0.0.2.80: Flags [S], seq 1, win 100, length 0\n";
  const TextCapture cap = parse("23:59:59.999999" + rest + "23:59:59.500000" + rest +  // reordered: same day
                                    "00:00:00.000001" + rest + "13:00:00.000000" + rest +  // next day
                                    "01:30:00.000000" + rest +  // 11.5 h back: same day
                                    "14:00:00.000000" + rest +  // forward: same day
                                    "00:00:00.000000" + rest,   // 14 h back: the day after
                                on_day("2019-06-03"));
  ASSERT_EQ(cap.packets.size(), 7u);
  EXPECT_EQ(format_date_time(cap.packets[0].record.ts), "2019-06-03 23:59:59.999999");
  EXPECT_EQ(format_date_time(cap.packets[1].record.ts), "2019-06-03 23:59:59.500000");
  EXPECT_EQ(format_date_time(cap.packets[2].record.ts), "2019-06-04 00:00:00.000001");
  EXPECT_EQ(format_date_time(cap.packets[3].record.ts), "2019-06-04 13:00:00.000000");
  EXPECT_EQ(format_date_time(cap.packets[4].record.ts), "2019-06-04 01:30:00.000000");
  EXPECT_EQ(format_date_time(cap.packets[5].record.ts), "2019-06-04 14:00:00.000000");
  EXPECT_EQ(format_date_time(cap.packets[6].record.ts), "2019-06-05 00:00:00.000000");
  EXPECT_EQ(cap.stats.day_wraps, 2u);
}

TEST(TcpdumpTextParser, DefaultBaseDateIsTheUnixEpochDay) {
  const TextCapture cap = parse("17:39:27.970358 IP 10.0.0.1.1000 > 10.0.0.2.80: Flags [S], seq 1, win 100, length 0");
  EXPECT_EQ(format_date_time(cap.packets[0].record.ts), "1970-01-01 17:39:27.970358");
  EXPECT_TRUE(cap.packets[0].has_time);
}

TEST(TcpdumpTextParser, ReadsEveryTimeStampFormatTcpdumpPrints) {
  const std::string rest = " IP 10.0.0.1.1000 > 10.0.0.2.80: Flags [S], seq 1, win 100, length 0\n";
  const TextCapture cap = parse("2019-06-03 22:45:10.015335" + rest +   // -tttt
                                    "1559601910.015335" + rest +          // -tt
                                    "2019-06-03 22:45:10.015335123" + rest +  // -tttt --nano
                                    "22:45:10.5" + rest +                  // short fraction
                                    rest.substr(1),                        // -t: none
                                on_day("2019-06-03"));
  ASSERT_EQ(cap.packets.size(), 5u);
  const std::int64_t t = at("2019-06-03 22:45:10.015335").unix_ns;
  EXPECT_EQ(cap.packets[0].record.ts.unix_ns, t);
  EXPECT_EQ(cap.packets[1].record.ts.unix_ns, t);
  EXPECT_EQ(cap.packets[2].record.ts.unix_ns, t + 123);
  EXPECT_EQ(cap.packets[3].record.ts.unix_ns, at("2019-06-03 22:45:10.5").unix_ns);
  EXPECT_FALSE(cap.packets[4].has_time);
  EXPECT_EQ(cap.packets[4].record.ts.unix_ns, at("2019-06-03 00:00:00").unix_ns);
}

TEST(TcpdumpTextParser, RefusesDeltaTimeStampsAndImpossibleTimes) {
  const std::string rest = " IP 10.0.0.1.1000 > 10.0.0.2.80: Flags [S], seq 1, win 100, length 0\n";
  const TextCapture cap = parse(" 00:00:00.000000" + rest +  // -ttt / -ttttt
                                "25:00:00.000000" + rest + "23:60:00.000000" + rest + "2019-02-29 10:00:00.000000" + rest +
                                "22:45:10.0153351234" + rest + "99999999999.1" + rest + "22:45:10.015335" + rest);
  EXPECT_EQ(cap.packets.size(), 1u);
  ASSERT_EQ(cap.stats.skipped_examples.size(), 5u);
  EXPECT_EQ(cap.stats.skipped_lines, 6u);
  EXPECT_NE(cap.stats.skipped_examples[0].reason.find("-ttt"), std::string::npos);
  EXPECT_NE(cap.stats.skipped_examples[1].reason.find("out of range"), std::string::npos);
  EXPECT_NE(cap.stats.skipped_examples[3].reason.find("date '2019-02-29' out of range"), std::string::npos);
  EXPECT_NE(cap.stats.skipped_examples[4].reason.find("more than 9 fraction digits"), std::string::npos);
}

// ---- hosts, ports, options, flags -------------------------------------------------------------------

TEST(TcpdumpTextParser, HostNamesGetMarkedDeterministicPseudoAddresses) {
  const std::string text =
      "10:00:00.000000 IP db1.example.com.postgresql > 10.0.0.7.40000: Flags [S.], seq 5, ack 6, win 100, length 0\n"
      "10:00:00.000001 IP 10.0.0.7.40000 > DB1.example.com.5432: Flags [.], ack 1, win 100, length 0\n"
      "10:00:00.000002 IP6 db1.example.com.https > fe80::1.40000: Flags [S], seq 5, win 100, length 0\n"
      "10:00:00.000003 IP web-2.https > web_3.http: Flags [S], seq 5, win 100, length 0\n";
  const TextCapture cap = parse(text);
  ASSERT_EQ(cap.packets.size(), 4u);
  const auto& p = cap.packets;
  EXPECT_TRUE(p[0].src_is_name);
  EXPECT_FALSE(p[0].dst_is_name);
  EXPECT_EQ(p[0].record.src.port, 5432);
  // Same name (DNS names are case-insensitive), same address: the two lines are one conversation.
  EXPECT_EQ(p[1].record.dst.addr, p[0].record.src.addr);
  EXPECT_TRUE(p[1].dst_is_name);
  EXPECT_EQ(p[1].record.ack, 6u);
  EXPECT_EQ(p[1].ack_origin, SeqOrigin::Handshake);
  ASSERT_TRUE(p[0].record.src.addr.v4());
  EXPECT_EQ(p[0].record.src.addr.v4()->value >> 24, 240u);  // 240.0.0.0/8
  ASSERT_NE(cap.host_name(p[0].record.src.addr), nullptr);
  EXPECT_EQ(*cap.host_name(p[0].record.src.addr), "db1.example.com");
  EXPECT_EQ(cap.host_name(p[0].record.dst.addr), nullptr);  // 10.0.0.7 is a real address
  // An IPv6 line's name lands in 100::/64.
  EXPECT_TRUE(p[2].record.src.addr.v6);
  EXPECT_EQ(p[2].record.src.addr.str().substr(0, 5), "100::");
  EXPECT_EQ(p[2].record.src.port, 443);
  EXPECT_EQ(p[2].record.dst.addr, *IpAddress::parse("fe80::1"));
  EXPECT_EQ(cap.host_names.size(), 4u);
  EXPECT_EQ(cap.stats.named_hosts, 4u);
  // The mapping depends on the name only: another input gives the same pseudo-address.
  const TextCapture other = parse(text.substr(text.find("10:00:00.000003")) + text);
  EXPECT_EQ(other.packets[1].record.src.addr, p[0].record.src.addr);
  EXPECT_EQ(other.packets[0].record.src.addr, p[3].record.src.addr);
}

TEST(TcpdumpTextParser, UnknownServiceNamesAndNonAddressesAreSkippedWithAReason) {
  const TextCapture cap = parse(
      "10:00:00.000000 IP 10.0.0.1.not-a-service > 10.0.0.2.80: Flags [S], seq 1, win 100, length 0\n"
      "10:00:00.000000 IP 10.0.0.1.1000 > 10.0.0.2.65536: Flags [S], seq 1, win 100, length 0\n"
      "10:00:00.000000 IP 10.85.3 > 10.0.0.2.80: Flags [S], seq 1, win 100, length 0\n"
      "10:00:00.000000 IP 10.0.0.1.1000 > 2001:db8::1.80: Flags [S], seq 1, win 100, length 0\n"
      "10:00:00.000000 IP 10.0.0.1.1000 > 10.0.0.2.80: Flags [S], seq 1, win 100, length 0\n");
  EXPECT_EQ(cap.packets.size(), 1u);
  ASSERT_EQ(cap.stats.skipped_examples.size(), 4u);
  EXPECT_NE(cap.stats.skipped_examples[0].reason.find("unknown service name 'not-a-service'"), std::string::npos);
  EXPECT_NE(cap.stats.skipped_examples[1].reason.find("port 65536 out of range"), std::string::npos);
  EXPECT_NE(cap.stats.skipped_examples[2].reason.find("'10.85' is neither an IPv4 address nor a host name"),
            std::string::npos)
      << cap.stats.skipped_examples[2].reason;
  EXPECT_NE(cap.stats.skipped_examples[3].reason.find("neither an IPv4 address"), std::string::npos);
}

TEST(TcpdumpTextParser, OptionsKeepWireOrderAndMarkWhatTheyCannotHold) {
  const TextCapture cap = parse(
      "10:00:00.000000 IP 10.0.0.1.1000 > 10.0.0.2.80: Flags [.], ack 1, win 100, options "
      "[nop,nop,TS val 4294967295 ecr 0,nop,nop,sack 2 {1:2}{3:4}], length 0\n"
      "10:00:00.000001 IP 10.0.0.1.1000 > 10.0.0.2.80: Flags [S], seq 1, win 100, options [mss 1400,sackOK,eol], length 0\n"
      "10:00:00.000002 IP 10.0.0.1.1000 > 10.0.0.2.80: Flags [S], seq 1, win 100, options "
      "[unknown-99 0x0102,wscale 14,exp-1234], length 0\n"
      "10:00:00.000003 IP 10.0.0.1.1000 > 10.0.0.2.80: Flags [S], seq 1, win 100, options "
      "[nop,nop,nop,nop,nop,nop,nop,nop,nop,nop,nop,nop], length 0\n");
  ASSERT_EQ(cap.packets.size(), 4u);
  TcpOptions ts;
  ts.nop(), ts.nop(), ts.timestamp(4294967295u, 0), ts.nop(), ts.nop();
  EXPECT_EQ(cap.packets[0].record.options, ts);
  EXPECT_FALSE(cap.packets[0].options_complete);
  TcpOptions eol;
  eol.mss(1400), eol.sack_ok(), eol.push({TcpOptionKind::Eol});
  EXPECT_EQ(cap.packets[1].record.options, eol);
  EXPECT_TRUE(cap.packets[1].options_complete);
  TcpOptions ws;
  ws.wscale(14);
  EXPECT_EQ(cap.packets[2].record.options, ws);
  EXPECT_FALSE(cap.packets[2].options_complete);
  EXPECT_EQ(cap.packets[3].record.options.size(), TcpOptions::kCapacity);
  EXPECT_FALSE(cap.packets[3].options_complete);
}

TEST(TcpdumpTextParser, FlagLettersMapToBitsAndBadOnesAreRefused) {
  const std::string head = "10:00:00.000000 IP 10.0.0.1.1000 > 10.0.0.2.80: Flags [";
  const TextCapture cap = parse(head + "none], win 100, length 0\n" + head + "FSRP.UEW], seq 1, ack 2, win 100, urg 0, length 0\n" +
                                head + "SEW], seq 1, win 100, length 0\n" + head + "X], seq 1, win 100, length 0\n" + head +
                                "SS], seq 1, win 100, length 0\n" + head + "], seq 1, win 100, length 0\n");
  ASSERT_EQ(cap.packets.size(), 3u);
  EXPECT_EQ(cap.packets[0].record.flags, 0);
  EXPECT_EQ(cap.packets[1].record.flags, 0xff);
  EXPECT_EQ(cap.packets[2].record.flags, SYN | ECE | CWR);
  ASSERT_EQ(cap.stats.skipped_examples.size(), 3u);
  EXPECT_NE(cap.stats.skipped_examples[0].reason.find("unknown flag letter 'X'"), std::string::npos);
  EXPECT_NE(cap.stats.skipped_examples[1].reason.find("flag 'S' repeated"), std::string::npos);
  EXPECT_NE(cap.stats.skipped_examples[2].reason.find("empty Flags"), std::string::npos);
}

TEST(TcpdumpTextParser, SnapLengthTruncationIsMarkedNotGuessed) {
  const TextCapture cap = parse(
      "22:45:10.015335 IP 10.0.0.1.40000 > 10.0.0.2.22:  [|tcp]\n"
      "22:45:12.015337 IP 10.0.0.1.40000 > 10.0.0.2.22: Flags [.], ack 3000000000, win 502, options [nop,nop,TS [|tcp]>\n"
      "22:45:13.015338 IP 10.0.0.1.40000 > 10.0.0.2.22: Flags [P.], seq 0:21, ack 1, win 502, options [nop,nop,TS val 1 ecr 2], length 21 [|ssh]\n");
  ASSERT_EQ(cap.packets.size(), 2u);
  EXPECT_EQ(cap.stats.skipped_lines, 1u);
  EXPECT_NE(cap.stats.skipped_examples[0].reason.find("[|tcp]"), std::string::npos);
  const TextPacket& cut = cap.packets[0];
  EXPECT_TRUE(cut.record.truncated);
  EXPECT_FALSE(cut.options_complete);
  EXPECT_EQ(cut.record.options.size(), 2u);  // nop, nop; the cut "TS" is dropped
  EXPECT_EQ(cut.record.window, 502);
  EXPECT_EQ(cut.record.ack, 3000000000u);
  EXPECT_EQ(cap.stats.truncated, 1u);
  EXPECT_FALSE(cap.packets[1].record.truncated);  // "[|ssh]" cut the payload, not the TCP header
  EXPECT_EQ(cap.packets[1].record.payload_len, 21u);
  EXPECT_EQ(cap.packets[1].record.ack, 3000000000u);  // "ack 1" after the reference "ack 3000000000"
  EXPECT_EQ(cap.packets[1].ack_origin, SeqOrigin::FirstSegment);
}

// ---- relative numbers in excerpts -------------------------------------------------------------------

TEST(TcpdumpTextParser, ExcerptStartingAfterTheHandshakeKeepsRelativeNumbersMarked) {
  // Lines 4-9 of the seed's experiment 3: the SYN and SYN-ACK are not in the paste.
  const std::string text = read_file(kPrintouts + "exp3_server_close_then_nat_syn.txt");
  const auto lines = split_lines(text);
  ASSERT_GE(lines.size(), 9u);
  std::string excerpt;
  for (std::size_t i = 3; i < 9; ++i) excerpt += lines[i] + "\n";
  const TextCapture cap = parse(excerpt);
  ASSERT_EQ(cap.packets.size(), 6u);
  EXPECT_EQ(cap.stats.relative_numbers, 6u);
  const auto& p = cap.packets;
  EXPECT_EQ(p[0].seq_origin, SeqOrigin::Relative);  // "seq 1:22" kept as printed
  EXPECT_EQ(p[0].record.seq, 1u);
  EXPECT_EQ(p[0].ack_origin, SeqOrigin::Relative);
  EXPECT_EQ(p[0].record.ack, 1u);
  EXPECT_EQ(p[4].record.seq, 22u);  // the FIN, still relative
  EXPECT_EQ(p[4].seq_origin, SeqOrigin::Relative);
  EXPECT_EQ(p[1].seq_origin, SeqOrigin::Unknown);  // a pure ACK with nothing absolute to infer from
}

TEST(TcpdumpTextParser, ClosedPortResetAfterASynIsReadAsAbsolute) {
  // "seq 0" looks relative, but the ack is the SYN's ISN + 1.
  const TextCapture cap = parse(
      "10:00:00.000000 IP 10.0.0.1.40000 > 10.0.0.2.81: Flags [S], seq 123, win 100, length 0\n"
      "10:00:00.000001 IP 10.0.0.2.81 > 10.0.0.1.40000: Flags [R.], seq 0, ack 124, win 0, length 0\n");
  ASSERT_EQ(cap.packets.size(), 2u);
  EXPECT_EQ(cap.packets[1].seq_origin, SeqOrigin::Printed);
  EXPECT_EQ(cap.packets[1].ack_origin, SeqOrigin::Printed);
  EXPECT_EQ(cap.packets[1].record.ack, 124u);
}

// ---- odd but legitimate input ---------------------------------------------------------------------

TEST(TcpdumpTextParser, IgnoresTcpdumpMessagesBlankLinesIndentationCarriageReturnsAndByteOrderMark) {
  const std::string line = "22:45:10.015335 IP 10.0.0.1.40000 > 10.0.0.2.22: Flags [S], seq 1, win 100, length 0";
  const TextCapture cap = parse(
      "\xef\xbb\xbftcpdump: verbose output suppressed, use -v[v]... for full protocol decode\r\n"
      "listening on eth0, link-type EN10MB (Ethernet), snapshot length 262144 bytes\r\n"
      "reading from file x.pcap, link-type EN10MB (Ethernet), snapshot length 262144\r\n"
      "\r\n" + line + "\r\n  " + line + "\n\t" + line + "\n"
      "3 packets captured\n3 packets received by filter\n0 packets dropped by kernel\n");
  EXPECT_EQ(cap.packets.size(), 3u);
  EXPECT_EQ(cap.stats.lines, 10u);
  EXPECT_EQ(cap.stats.notice_lines, 6u);
  EXPECT_EQ(cap.stats.blank_lines, 1u);
  EXPECT_EQ(cap.stats.skipped_lines, 0u);
  EXPECT_EQ(cap.packets[1].record.frame, 6u);
}

TEST(TcpdumpTextParser, CountsNonTcpPacketsAndVerboseDetailLinesSeparately) {
  const TextCapture cap = parse(
      "10:00:00.000000 IP 10.0.0.1.53 > 10.0.0.2.4000: 1234 NXDomain 0/1/0 (100)\n"
      "10:00:00.000001 IP 10.0.0.2 > 10.0.0.1: ICMP 10.0.0.2 tcp port 81 unreachable, length 68\n"
      "10:00:00.000002 ARP, Request who-has 10.0.0.1 tell 10.0.0.2, length 28\n"
      "10:00:00.000003 IP (tos 0x0, ttl 61, id 1, offset 0, flags [DF], proto TCP (6), length 52)\n"
      "10.0.0.1.80 > 10.0.0.2.4000: Flags [P.], cksum 0x1234 (correct), seq 1:19, ack 1, win 502, length 18: HTTP, length: 18\n"
      "\tGET / HTTP/1.1\n"
      "\t0x0000:  4500 0034 0001 4000 4006 0000 0a00 0001  E..4..@.@.......\n"
      "10:00:00.000004 IP (tos 0x0, ttl 64, id 1, offset 0, flags [DF], proto TCP (6), length 52)\n");
  ASSERT_EQ(cap.packets.size(), 1u);
  EXPECT_EQ(cap.packets[0].record.frame, 4u);  // the -v header line, joined with the unindented next line
  EXPECT_EQ(cap.packets[0].record.ttl, 61);
  EXPECT_EQ(cap.packets[0].record.payload_len, 18u);
  EXPECT_EQ(cap.stats.other_packets, 3u);
  ASSERT_TRUE(cap.stats.first_other);
  EXPECT_EQ(cap.stats.first_other->line, 1u);
  EXPECT_EQ(cap.stats.continuation_lines, 2u);
  EXPECT_EQ(cap.stats.skipped_lines, 1u);  // the last header has no continuation
  EXPECT_EQ(cap.stats.skipped_examples[0].line, 8u);
  EXPECT_NE(cap.stats.skipped_examples[0].reason.find("continuation"), std::string::npos);
}

TEST(TcpdumpTextParser, LineByLineFeedingMatchesWholeText) {
  const std::string text = read_file(kPrintouts + "exp3_server_close_then_nat_syn.txt");
  TcpdumpTextParser parser(on_day("2019-06-03"));
  std::istringstream in(text);
  parser.feed(in);
  const TextCapture fed = parser.finish();
  const TextCapture whole = parse(text, on_day("2019-06-03"));
  ASSERT_EQ(fed.packets.size(), whole.packets.size());
  for (std::size_t i = 0; i < fed.packets.size(); ++i) {
    EXPECT_EQ(fed.packets[i].record.seq, whole.packets[i].record.seq);
    EXPECT_EQ(fed.packets[i].record.ack, whole.packets[i].record.ack);
    EXPECT_EQ(fed.packets[i].record.ts.unix_ns, whole.packets[i].record.ts.unix_ns);
  }
  EXPECT_THROW(parser.feed_line("x"), std::logic_error);
}

// ---- bad input ------------------------------------------------------------------------------------

TEST(TcpdumpTextParser, EmptyInputIsAClearError) {
  EXPECT_EQ(error_of(""), "<input>: empty input, no tcpdump lines");
  TextParseOptions o;
  o.source_name = "ticket.txt";
  EXPECT_EQ(error_of("\n\n  \n", o), "ticket.txt: empty input, no tcpdump lines");
  EXPECT_EQ(error_of("reading from file x.pcap, link-type EN10MB (Ethernet), snapshot length 262144\n"),
            "<input>: no tcpdump packet lines (1 tcpdump messages, 0 continuation lines)");
}

TEST(TcpdumpTextParser, GarbageOnlyNamesTheFileAndFirstBadLine) {
  TempDir dir;
  const std::string path = dir.file("ticket.txt");
  std::ofstream(path) << "\nHi, the server does not answer, see below\n22:45:10 it broke again\n";
  try {
    TcpdumpTextParser::parse_file(path);
    FAIL() << "no error";
  } catch (const UsageError& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg, path + ": no line parses as tcpdump TCP output; line 2: \"Hi, the server does not answer, see below\": "
                          "not a tcpdump line: no time stamp (HH:MM:SS.ffffff, YYYY-MM-DD HH:MM:SS.ffffff or SECONDS.ffffff)");
    EXPECT_EQ(msg.find('\n'), std::string::npos);
  }
  // Only non-TCP packets: says so.
  EXPECT_EQ(error_of("10:00:00.000000 IP 10.0.0.1.53 > 10.0.0.2.4000: 1234 NXDomain 0/1/0 (100)\n"),
            "<input>: no TCP packet in this tcpdump text (1 packet lines, none TCP; line 1: \"10:00:00.000000 IP "
            "10.0.0.1.53 > 10.0.0.2.4000: 1234 NXDomai...\" is not TCP ('1234'))");
}

TEST(TcpdumpTextParser, BinaryCapturesAreRefusedAsSuch) {
  TempDir dir;
  const std::string pcap = dir.file("capture.pcap");
  write_pcap(pcap, ticket_trace());
  try {
    TcpdumpTextParser::parse_file(pcap);
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_EQ(std::string(e.what()), pcap + ": looks like a binary capture, not tcpdump text (pcap file header)");
  }
  // The same bytes as text, and other binary data.
  EXPECT_NE(error_of(read_file(pcap)).find("looks like a binary capture, not tcpdump text"), std::string::npos);
  std::string nul = "22:45:10.015335 IP 10.0.0.1.1 > 10.0.0.2.2: Flags [S], seq 1, win 1, length 0\nab";
  nul += '\0';
  nul += "cd";
  EXPECT_EQ(error_of(nul), "<input>: looks like a binary capture, not tcpdump text (NUL bytes in line 2)");
  EXPECT_NE(error_of("\x1f\x8b\x08\x00rest").find("(gzip header)"), std::string::npos);
  EXPECT_NE(error_of("\n\r\r\n\x1c\x00\x00\x00" + std::string(20, '\0')).find("looks like a binary capture"), std::string::npos);
  EXPECT_NE(error_of("\n\r\r\n\x1c").find("no line parses as tcpdump"), std::string::npos);  // no NUL: garbage
  // A directory or a missing file.
  EXPECT_THROW(TcpdumpTextParser::parse_file(dir.file("")), UsageError);
  EXPECT_THROW(TcpdumpTextParser::parse_file(dir.file("missing.txt")), UsageError);
}

TEST(TcpdumpTextParser, MixedGarbageIsSkippedAndCountedWithLineNumbers) {
  const std::string good = "22:45:10.015335 IP 10.0.0.1.40000 > 10.0.0.2.22: Flags [S], seq 1, win 100, length 0\n";
  std::string text = "Customer says:\n" + good + "see ^^^ that one\n" + good + "\x01\x02\xff garbage\n";
  for (int i = 0; i < 10; ++i) text += "junk " + std::to_string(i) + "\n";
  text += good;
  const TextCapture cap = parse(text);
  EXPECT_EQ(cap.packets.size(), 3u);
  EXPECT_EQ(cap.stats.skipped_lines, 13u);
  ASSERT_EQ(cap.stats.skipped_examples.size(), TextParseStats::kMaxSkippedExamples);
  EXPECT_EQ(cap.stats.skipped_examples[0].line, 1u);
  EXPECT_EQ(cap.stats.skipped_examples[0].excerpt, "Customer says:");
  EXPECT_EQ(cap.stats.skipped_examples[1].line, 3u);
  EXPECT_EQ(cap.stats.skipped_examples[2].line, 5u);
  EXPECT_EQ(cap.stats.skipped_examples[2].excerpt, "??? garbage");  // control and non-ASCII bytes replaced
  EXPECT_EQ(cap.packets[2].record.frame, 16u);
}

TEST(TcpdumpTextParser, AbsurdNumbersAndBrokenFieldsAreSkippedWithTheirReason) {
  const std::string head = "22:45:10.015335 IP 10.0.0.1.40000 > 10.0.0.2.22: ";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"Flags [S], seq 99999999999, win 100, length 0", "seq 99999999999 out of range (at most 4294967295)"},
      {"Flags [.], ack 4294967296, win 100, length 0", "ack 4294967296 out of range"},
      {"Flags [S], seq 1, win 65536, length 0", "win 65536 out of range (at most 65535)"},
      {"Flags [S], seq 1, win 100, length 99999999999", "length 99999999999 out of range"},
      {"Flags [S], seq " + std::string(500, '9') + ", win 100, length 0", "seq 999999999999999999999999... out of range"},
      {"Flags [S], seq 1, win 100, options [mss 65536], length 0", "option mss 65536 out of range"},
      {"Flags [S], seq 1, win 100, options [wscale 256], length 0", "option wscale 256 out of range"},
      {"Flags [S], seq 1, win 100, options [TS val 4294967296 ecr 0], length 0", "option TS val 4294967296 out of range"},
      {"Flags [S], seq 1, win 100, options [TS val 1], length 0", "expected ' ecr '"},
      {"Flags [S], seq -1, win 100, length 0", "seq: expected a number, found '-1, win"},
      {"Flags [S], seq 1x, win 100, length 0", "seq: malformed number"},
      {"Flags [P.], seq 1:22, ack 1, win 100, length 2", "length 2 does not match seq 1:22"},
      {"Flags [P.], seq 1, ack 1, win 100, length 21", "length 21 without a seq range"},
      {"Flags [S], win 100, length 0", "no seq"},
      {"Flags [.], win 100, length 0", "'.' (ACK) but no ack"},
      {"Flags [S], seq 1, ack 5, win 100, length 0", "ack printed without the '.' (ACK) flag"},
      {"Flags [S], seq 1, length 0", "no 'win' field"},
      {"Flags [S], seq 1, win 100, bogus 5, length 0", "unexpected field 'bogus'"},
      {"Flags [S], seq 1, win 100, length 0x", "length: malformed number '0x'"},
      {"Flags [S], seq 1, win 100, length 0;", "unexpected ';' after length"},
      {"Flags [S] seq 1, win 100, length 0", "unexpected 'seq 1, win 100, leng...' after Flags"},
  };
  std::string text;
  for (const auto& [line, reason] : cases) text += head + line + "\n";
  text += head + "Flags [S], seq 1, win 100, length 0\n";
  TcpdumpTextParser parser;
  for (const auto& l : split_lines(text)) parser.feed_line(l);
  const TextCapture cap = parser.finish();
  EXPECT_EQ(cap.packets.size(), 1u);
  EXPECT_EQ(cap.stats.skipped_lines, cases.size());
  // Each case on its own, to see its reason.
  for (const auto& [line, reason] : cases) {
    const std::string msg = error_of(head + line);
    EXPECT_NE(msg.find(reason), std::string::npos) << line << "\n  -> " << msg;
    EXPECT_NE(msg.find("<input>: no line parses as tcpdump TCP output; line 1: "), std::string::npos) << msg;
  }
}

TEST(TcpdumpTextParser, LinesCutAnywhereAreSkippedOrGiveTheSamePacket) {
  // Every prefix of every line tcpdump printed: either refused, or exactly the full line's packet
  // (a cut inside the application summary after "length N" loses nothing).
  ASSERT_TRUE(have_tool("tcpdump"));
  const auto packets = ticket_trace();
  TempDir dir;
  const std::string pcap = dir.file("capture.pcap");
  write_pcap(pcap, packets);
  std::size_t prefixes = 0, accepted = 0;
  for (const char* flags : {"-nn", "-tttt", "-S -e -nn"}) {
    for (const std::string& line : run_tcpdump(dir, pcap, flags)) {
      const TextCapture full = parse(line);
      ASSERT_EQ(full.packets.size(), 1u) << line;
      const PacketRecord& want = full.packets[0].record;
      const std::size_t length_at = line.find(", length ", line.find("Flags ["));
      ASSERT_NE(length_at, std::string::npos);
      for (std::size_t k = 0; k < line.size(); ++k) {
        ++prefixes;
        const std::string cut = line.substr(0, k);
        try {
          const TextCapture got = parse(cut);
          ++accepted;
          ASSERT_EQ(got.packets.size(), 1u) << cut;
          const PacketRecord& r = got.packets[0].record;
          EXPECT_GT(k, length_at) << "accepted a line cut before its length field: " << cut;
          EXPECT_EQ(r.src, want.src) << cut;
          EXPECT_EQ(r.dst, want.dst) << cut;
          EXPECT_EQ(r.seq, want.seq) << cut;
          EXPECT_EQ(r.ack, want.ack) << cut;
          EXPECT_EQ(r.flags, want.flags) << cut;
          EXPECT_EQ(r.window, want.window) << cut;
          EXPECT_EQ(r.options, want.options) << cut;
          EXPECT_EQ(r.payload_len, want.payload_len) << cut;
          EXPECT_EQ(r.ts.unix_ns, want.ts.unix_ns) << cut;
        } catch (const UsageError& e) {
          EXPECT_NE(std::string(e.what()).find("<input>: "), std::string::npos);
        }
      }
    }
  }
  EXPECT_GT(prefixes, 10000u);
  EXPECT_GT(accepted, 0u);  // the SSH banner and HTTP lines can lose their summary
}

TEST(TcpdumpTextParser, RandomlyDamagedLinesNeverCrashOrLeakOtherErrors) {
  // Every line form the parser knows (taken from real tcpdump output), damaged at random.
  std::vector<std::vector<std::string>> samples;
  for (const auto& l : split_lines(read_file(kPrintouts + "exp3_server_close_then_nat_syn.txt"))) samples.push_back({l});
  ASSERT_FALSE(samples.empty());
  const std::string context = samples[0][0];
  for (const char* l : {
           "22:45:10.015335 02:00:05:06:07:08 > 02:00:01:02:03:04, ethertype 802.1Q (0x8100), length 78: vlan 100, p 0, "
           "ethertype IPv4 (0x0800), 10.0.0.1.40000 > 10.0.0.2.22: Flags [S], seq 100, win 64240, options [mss 1460,"
           "sackOK,TS val 1000 ecr 0,nop,wscale 7], length 0",
           "22:45:13.015338 ?     Out IP6 (flowlabel 0x12345, hlim 64, next-header TCP (6) payload length: 40) "
           "2001:db8::1.40000 > 2001:db8::2.443: Flags [S], cksum 0x0000 (incorrect -> 0x4f53), seq 100, win 64240, "
           "options [mss 1460,sackOK,TS val 1000 ecr 0,nop,wscale 7], length 0",
           "22:45:10.015335 lo    In  ifindex 1 02:00:01:02:03:04 ethertype IPv4 (0x0800), length 80: 10.0.0.1.40000 > "
           "10.0.0.2.22: Flags [S], seq 100, win 64240, options [mss 1460,sackOK,TS val 1000 ecr 0,nop,wscale 7], length 0",
           "22:45:10.015335  In 02:00:01:02:03:04 ethertype IPv4 (0x0800), length 76: 10.0.0.1.40000 > 10.0.0.2.22: Flags "
           "[S], seq 100, win 64240, length 0",
           "22:45:12.015337 IP 10.0.0.1.40000 > 10.0.0.2.22: Flags [.], ack 5001, win 502, options [nop,nop,TS [|tcp]>",
           "2019-06-03 22:45:14.015339 IP localhost.40000 > db1.example.com.https: Flags [.], ack 24, win 502, options "
           "[nop,nop,TS val 1001 ecr 5000,nop,nop,sack 1 {1900:2900}], length 0",
           "1559601913.015338 IP 10.0.0.1.40000 > 10.0.0.2.22: Flags [P.], seq 1:22, ack 1, win 502, options [nop,nop,TS "
           "val 1001 ecr 5000], length 21: SSH: SSH-2.0-OpenSSH_8.0",
           "IP6 ip6-localhost.ssh > ::1.40000: Flags [FSRP.UEW], seq 1, ack 2, win 0, urg 0, length 0",
       })
    samples.push_back({l});
  samples.push_back({"22:45:10.015335 IP (tos 0x0, ttl 64, id 1, offset 0, flags [DF], proto TCP (6), length 60, bad cksum 0 "
                     "(->26b9)!)",
                     "    10.0.0.1.40000 > 10.0.0.2.22: Flags [S], cksum 0x0000 (incorrect -> 0x986a), seq 100, win 64240, "
                     "options [mss 1460,sackOK,TS val 1000 ecr 0,nop,wscale 7], length 0"});
  // Each sample parses as it is.
  for (const auto& sample : samples) {
    std::string text;
    for (const auto& l : sample) text += l + "\n";
    EXPECT_EQ(parse(text).packets.size(), 1u) << text;
  }

  std::mt19937_64 rng(20240603);
  const std::string alphabet = "0123456789.:,[]{}() >SFRPUEWx-abcdefIP6\t\r";
  std::size_t parsed = 0;
  for (int iter = 0; iter < 30000; ++iter) {
    std::vector<std::string> sample = samples[rng() % samples.size()];
    std::string& l = sample[rng() % sample.size()];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !l.empty(); ++e) {
      const std::size_t at = rng() % l.size();
      switch (rng() % 5) {
        case 0: l[at] = alphabet[rng() % alphabet.size()]; break;
        case 1: l.erase(at, 1 + rng() % 8); break;
        case 2: l.insert(at, std::string(1 + rng() % 12, '9')); break;
        case 3: l.insert(at, l.substr(rng() % l.size(), 1 + rng() % 20)); break;
        case 4: l[at] = static_cast<char>(1 + rng() % 255); break;
      }
    }
    try {
      TcpdumpTextParser parser;
      parser.feed_line(context);  // a good line first, so that finish() always has a packet
      for (const auto& s : sample) parser.feed_line(s);
      const TextCapture cap = parser.finish();
      ++parsed;
      EXPECT_EQ(cap.stats.lines, 1 + sample.size());
      if (sample.size() == 1) {
        EXPECT_EQ(cap.packets.size() + cap.stats.skipped_lines + cap.stats.other_packets + cap.stats.blank_lines +
                      cap.stats.notice_lines + cap.stats.continuation_lines,
                  2u)
            << l;
      }
      for (const auto& p : cap.packets) EXPECT_LE(p.record.frame, 1 + sample.size());
    } catch (const UsageError& e) {
      ADD_FAILURE() << "unexpected error " << e.what() << " for " << l;
    }
  }
  EXPECT_EQ(parsed, 30000u);
}

}  // namespace
}  // namespace synscope::capture::testing

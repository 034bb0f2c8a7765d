#pragma once
// Reads tcpdump's TEXT output -- as people paste it into tickets -- back into PacketRecords, for
// `synscope analyze FILE`. It undoes what tcpdump (and capture/tcpdump_text.h, which imitates it)
// does when printing: service names for ports, host names, relative sequence numbers, clock-only
// time stamps.
//
//   TextCapture cap = TcpdumpTextParser::parse_file("ticket-1234.txt", {.base_date = day});
//   for (const TextPacket& p : cap.packets) use(p.record);   // record.frame = line number
//   if (cap.stats.skipped_lines) warn(cap.stats.skipped_examples[0].reason);
//
// or, line by line: TcpdumpTextParser p(opts); p.feed_line(l); ...; TextCapture cap = p.finish();
// Packets come out only at finish(): sequence numbers are resolved in a second pass over the whole
// input (see SEQUENCE NUMBERS below).
//
// ACCEPTED LINES (tcpdump 4.x TCP output over IPv4 and IPv6):
//   TIME [IFACE DIR] IP  SRC.PORT > DST.PORT: Flags [FLAGS], FIELDS..., length N[APP SUMMARY]
//   TIME [IFACE DIR] IP6 SRC.PORT > DST.PORT: ...
// * TIME: "HH:MM:SS.ffffff" (default), "YYYY-MM-DD HH:MM:SS.ffffff" (-tttt), "SECONDS.ffffff"
//   (-tt), 1 to 9 fraction digits (--nano), or none at all (-t; the packet gets the base date and
//   TextPacket::has_time = false). -ttt / -ttttt deltas, which tcpdump prints with one leading
//   space (" 00:00:00.000059"), are refused: they carry no clock time.
// * Lines may be indented (pasted from a console log): leading blanks before a time stamp are ignored.
//   CRLF line ends and a UTF-8 byte-order mark are ignored too.
// * "-i any" captures: "eth0  In  IP ..." / "lo    Out IP6 ..." (directions In, Out, B, M, P) ->
//   TextPacket::interface/direction.
// * "-e": Ethernet "MAC > MAC, ethertype IPv4 (0x0800), length N: ..." (802.1Q/QinQ tags ->
//   Encapsulation::Vlan), cooked v2 "ifindex N MAC ethertype ...", cooked v1 "In MAC ethertype ...".
// * "-v"/"-vv": the IPv4 header line "IP (tos ..., ttl 64, ...)" is joined with the indented
//   continuation line that carries the TCP part (also when a paste lost the indentation); IPv6's
//   "(flowlabel ..., hlim 64, ...)" is on the same line. ttl / hlim fill record.ttl (0 otherwise).
//   "cksum 0x... (correct)" is skipped. Other indented lines (-v payload details, -X/-x hex dumps)
//   are counted as continuation lines and ignored.
// * FIELDS: "seq A" or "seq A:B", "ack N", "win N", "urg N", "options [...]", "length N"; anything
//   after "length N" (tcpdump 4.99's ": HTTP", ": SSH: SSH-2.0-...", " [|ssh]") is ignored.
// * Flags: letters F S R P . U E W (any order, no repeats) or "none"; 'e' (AccECN's AE bit, printed
//   by tcpdump >= 4.99.4) is accepted and dropped: the record has no bit for it.
// * Options: "mss N", "sackOK", "TS val X ecr Y", "nop", "wscale N", "eol" become TcpOptions in
//   printed (= wire) order. Everything else ("sack 1 {a:b}", "unknown-N 0x..", "tfo ..", "md5 ..",
//   "mptcp ..") is skipped and the packet gets options_complete = false (also when more than
//   TcpOptions::kCapacity items were printed).
// * "[|tcp]" (tcpdump cut by the snapshot length): fields up to there are kept, record.truncated is
//   set; payload_len is then the seq range's size (0 if none was printed). A line where even the
//   flags were cut ("a.1 > b.2:  [|tcp]") is skipped.
// * tcpdump's own messages ("reading from file ...", "listening on ...", "N packets captured", ...)
//   and blank lines are counted, not errors. Lines that are tcpdump packets but not TCP (UDP, ICMP,
//   ARP, tunnels) are counted in stats.other_packets.
//
// STRICTNESS: a line that does not parse completely is skipped and counted (stats.skipped_lines, the
// first few with line number, excerpt and reason in stats.skipped_examples) -- never half-read. In
// particular a TCP line must end with "length N" (or "[|tcp]"), N must equal the printed seq range
// (so a paste that cut "length 21" to "length 2" is caught), every number must fit its field (seq
// 99999999999 is refused, not wrapped), "ack" must be printed iff the '.' flag is set, and "seq" must
// be printed whenever tcpdump prints it (SYN, FIN, RST or data).
//
// HOSTS: numeric addresses are exact. Without -n tcpdump prints host names ("localhost.ssh",
// "db1.example.com.5432"). A name cannot be turned back into its address, so the parser gives it a
// deterministic PSEUDO-ADDRESS in a reserved range and marks the packet (src_is_name/dst_is_name);
// TextCapture::host_names maps the pseudo-address back to the printed name for display:
//   * names on IPv4 lines ("IP")  -> 240.0.0.0/8 (class E, "reserved for future use", never routed):
//     240.h1.h2.h3 with h = the low 24 bits of FNV-1a-64 of the lower-cased name;
//   * names on IPv6 lines ("IP6") -> 100::/64 (RFC 6666 discard-only prefix): 100:: + FNV-1a-64.
//   A hash collision between two different names in one input moves the later name to the next
//   free address (so the mapping is a pure function of the name unless two names collide).
//   The same name always gets the same pseudo-address, so conversations still line up. (A numeric
//   address inside these ranges in the same input is not told apart by value; the flags tell.)
// PORTS printed as service names ("ssh", "https") are mapped back with the same table tcpdump uses
// (capture/tcp_services.h, Debian netbase's /etc/services); a name missing from it (a host with a
// different /etc/services) makes the line skipped with reason "unknown service name 'x'".
//
// TIME: default time stamps have no date: they are placed on options.base_date (UTC day; default
// 1970-01-01), and whenever the clock goes BACKWARDS by more than 12 h from the previous such line,
// the day advances (midnight wrap; stats.day_wraps counts them). Smaller backward steps (reordered
// "-i any" output) stay on the same day. tcpdump prints local time: the clock is taken as UTC.
//
// SEQUENCE NUMBERS. tcpdump prints absolute numbers for segments without ACK (SYN, bare RST/FIN) and
// keeps, per conversation (unordered address/port pair), a reference: the first ACK-carrying
// segment, or any SYN-ACK, stores "this side's ISN = seq, other side's ISN = ack - 1" and is printed
// absolute; later ACK-carrying segments print seq/ack minus those (see tcpdump_text.cpp, whose
// formatter this inverts). The parser replays that table:
//   * Reference from a SYN-ACK: later numbers become absolute, origin SeqOrigin::Handshake.
//   * Reference from the conversation's first ACK-carrying line (capture started mid-connection):
//     later numbers become absolute, origin SeqOrigin::FirstSegment -- exact when the text is
//     tcpdump's complete output. If that first line was a pure ACK, tcpdump's reference for the
//     sender's side is a seq it never printed: those numbers stay relative (SeqOrigin::Relative).
//   * EXCERPT HEURISTIC: a paste that starts after tcpdump's reference line shows relative numbers
//     with no reference at all. The first ACK-carrying, non-SYN line of a conversation is taken as
//     such a relative line when its ack (and seq, if printed) are below 2^24 -- unless they lie
//     within 2^24 of a number already known absolutely from an earlier line of the conversation
//     (e.g. a RST-ACK "seq 0, ack ISN+1" answering a SYN shown above). Random 32-bit ISNs fall
//     below 2^24 with probability 1/256, so a genuinely absolute line is rarely misread (and then
//     only loses precision: it is marked Relative, never made into wrong absolutes). Numbers of such
//     conversations are kept as printed and marked SeqOrigin::Relative until a SYN-ACK shows up.
//   * -S DETECTION (absolute numbers everywhere): every ACK-carrying line after a conversation's
//     reference votes: "absolute" when its printed number is within 2^24 of the reference while
//     as an offset it would be at least 2^28 (256 MB into the connection), "relative" in the
//     opposite case. More absolute than relative votes -> the whole input is read as -S output
//     (stats.numbering = Absolute) and every printed number is taken as is; fewer -> tcpdump's
//     default. Only on a tie (typically no such vote: every ISN below 2^28, as in hand-made or
//     simulated traces) do WEAK votes decide: the reading under which the number is at least 16
//     times closer to its reference ("ack 1" after ISN 5000 is relative, "ack 5001" absolute).
//     Inputs without any evidence (only SYNs, say) are read the default way.
//   * Pure ACKs (no data, SYN, FIN or RST) print no seq. It is inferred (SeqOrigin::Inferred) as the
//     sender's next sequence number: the furthest of its own earlier seq + length and of the peer's
//     earlier acks (a SYN or SYN-ACK restarts it). With nothing to infer from it is 0, origin
//     SeqOrigin::Unknown.
//   * Segments without the ACK flag print no ack: record.ack = 0, ack_origin = SeqOrigin::Unknown.
//
// ERRORS (synscope::UsageError, one line, naming options.source_name or the file):
//   * NUL bytes, or a pcap/pcapng/gzip/zstd file header: "looks like a binary capture, not tcpdump
//     text" (thrown as soon as it is seen);
//   * finish() with no TCP packet at all: empty input, or the first offending line's number,
//     excerpt and reason (or the first non-TCP packet line when there were only such lines).
// feed_line() after finish() throws std::logic_error.
#include <cstdint>
#include <istream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "capture/packet.h"
#include "core/time.h"

namespace synscope::capture {

// Where a TextPacket's seq or ack value came from (see "SEQUENCE NUMBERS" above).
enum class SeqOrigin : std::uint8_t {
  Printed,       // tcpdump printed the absolute number
  Handshake,     // printed relative; made absolute with the conversation's SYN-ACK
  FirstSegment,  // printed relative; made absolute with the conversation's first ACK-carrying line
  Inferred,      // not printed (pure ACK): the sender's next sequence number from earlier lines
  Relative,      // kept as printed: relative to an initial sequence number the text does not show
  Unknown,       // not printed and not inferable; the value is 0
};
// "printed", "handshake", "first-segment", "inferred", "relative", "unknown".
std::string_view to_string(SeqOrigin origin);
// True for Printed, Handshake, FirstSegment and Inferred: the value is an absolute sequence number.
constexpr bool is_absolute(SeqOrigin o) {
  return o == SeqOrigin::Printed || o == SeqOrigin::Handshake || o == SeqOrigin::FirstSegment ||
         o == SeqOrigin::Inferred;
}

// The packet direction a Linux "any" (cooked) capture prints: In, Out, B(roadcast), M(ulticast),
// P (to another host).
enum class LinkDirection : std::uint8_t { None, In, Out, Broadcast, Multicast, OtherHost };

enum class SeqNumbering : std::uint8_t {
  Relative,  // tcpdump's default
  Absolute,  // tcpdump -S
};

struct TextPacket {
  PacketRecord record;  // frame = 1-based line number of the packet's (first) line
  SeqOrigin seq_origin = SeqOrigin::Printed;
  SeqOrigin ack_origin = SeqOrigin::Printed;
  // The address is a pseudo-address standing for a printed host name (TextCapture::host_names).
  bool src_is_name = false;
  bool dst_is_name = false;
  // False when the printed option list had items TcpOptions cannot hold (sack blocks, unknown-N,
  // ...) or more than its capacity, or was cut by "[|tcp]".
  bool options_complete = true;
  // False for -t output (no time stamp): record.ts is then base_date at 00:00.
  bool has_time = true;
  std::string interface;  // "-i any": the interface name tcpdump printed ("eth0", "?"), else empty
  LinkDirection direction = LinkDirection::None;
};

struct TextParseOptions {
  // The UTC day for time stamps printed without a date (any instant of that day; its time of day is
  // ignored). Default: 1970-01-01.
  WallTime base_date{};
  // Names the input in error messages; parse_file() uses the path when this is left empty.
  std::string source_name;
};

struct SkippedLine {
  std::uint64_t line = 0;  // 1-based
  std::string excerpt;     // the start of the line, control and non-ASCII bytes as "?", "..." if cut
  std::string reason;
};

struct TextParseStats {
  static constexpr std::size_t kMaxSkippedExamples = 5;

  std::uint64_t lines = 0;               // physical lines read
  std::uint64_t packets = 0;             // TCP packets produced (== TextCapture::packets.size())
  std::uint64_t other_packets = 0;       // tcpdump packet lines that are not TCP (UDP, ICMP, ARP, ...)
  std::uint64_t blank_lines = 0;
  std::uint64_t notice_lines = 0;        // tcpdump's own messages ("reading from file ...")
  std::uint64_t continuation_lines = 0;  // indented detail lines not needed (-v payloads, -X dumps);
                                         // the -v continuations that were joined are not counted
  std::uint64_t skipped_lines = 0;       // lines that could not be parsed
  std::vector<SkippedLine> skipped_examples;  // the first kMaxSkippedExamples of them
  std::optional<SkippedLine> first_other;     // the first non-TCP packet line (reason: what it is)

  std::uint64_t truncated = 0;        // packets cut by "[|tcp]"
  std::uint64_t named_hosts = 0;      // packets with a host name (src or dst) instead of an address
  std::uint64_t relative_numbers = 0; // packets with a seq or ack kept relative (SeqOrigin::Relative)
  std::uint64_t day_wraps = 0;        // midnight wraps applied to clock-only time stamps
  SeqNumbering numbering = SeqNumbering::Relative;  // as detected (see -S DETECTION)
  std::uint64_t absolute_votes = 0;
  std::uint64_t relative_votes = 0;
  std::uint64_t weak_absolute_votes = 0;
  std::uint64_t weak_relative_votes = 0;
};

struct TextCapture {
  std::vector<TextPacket> packets;  // in input order
  TextParseStats stats;
  // Pseudo-address -> host name as printed, for every name in the input.
  std::map<IpAddress, std::string> host_names;

  // The printed name behind a pseudo-address, or nullptr for a real address.
  const std::string* host_name(const IpAddress& addr) const;
  // Just the records, for consumers that take PacketRecords.
  std::vector<PacketRecord> records() const;
};

class TcpdumpTextParser {
 public:
  explicit TcpdumpTextParser(TextParseOptions options = {});

  // One physical line; a trailing "\n" or "\r\n" is removed. Throws UsageError on NUL bytes.
  void feed_line(std::string_view line);
  // Every line of `in` (binary-safe). Throws UsageError on a read error or NUL bytes.
  void feed(std::istream& in);
  // Resolves sequence numbers and returns everything. Throws UsageError when the input held no TCP
  // packet (see ERRORS). The parser cannot be fed afterwards.
  TextCapture finish();

  // Whole inputs. parse_file() refuses unreadable paths and binary captures up front.
  static TextCapture parse_file(const std::string& path, TextParseOptions options = {});
  static TextCapture parse_text(std::string_view text, TextParseOptions options = {});

 private:
  enum class LineKind : std::uint8_t { Tcp, Other, PendingHeader };
  struct NameKey {
    bool v6;
    std::string name;  // lower-cased
    friend auto operator<=>(const NameKey&, const NameKey&) = default;
  };

  void process_packet_line(std::string_view text, std::uint64_t line_no);
  // Parses one packet line (a -v header already joined with its continuation). Throws the
  // .cpp's internal LineError for lines that do not parse; `what` describes Other lines.
  LineKind parse_line(std::string_view text, std::uint64_t line_no, TextPacket& out, std::string& what);
  void skip(std::uint64_t line_no, std::string_view text, std::string reason);
  IpAddress pseudo_address(std::string_view name, bool v6);
  void resolve_sequence_numbers();
  [[noreturn]] void throw_binary(std::string_view detail) const;
  const std::string& source() const;

  TextParseOptions options_;
  std::int64_t base_day_ = 0;  // days since 1970-01-01
  TextCapture capture_;
  std::uint64_t line_no_ = 0;
  bool finished_ = false;

  // A -v IPv4 header line waiting for its continuation.
  std::string pending_header_;
  std::uint64_t pending_line_ = 0;

  // Clock-only time stamps: day offset from base_day_ and the previous clock value (ns of day).
  std::int64_t day_offset_ = 0;
  std::optional<std::int64_t> prev_clock_ns_;

  std::map<NameKey, IpAddress> name_addresses_;
};

}  // namespace synscope::capture

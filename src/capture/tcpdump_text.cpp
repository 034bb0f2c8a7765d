#include "capture/tcpdump_text.h"

#include <fmt/format.h>

#include <charconv>
#include <iterator>
#include <string_view>

#include "capture/tcp_services.h"
#include "capture/tcp_wire.h"

namespace synscope::capture {

namespace {

// Decimal append without a format-string parse: this runs several times per printed line.
void append_uint(std::string& out, std::uint64_t v) {
  char buf[20];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, res.ptr);
}

std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

// Flag letters in tcpdump's order, lowest bit first (FIN .. CWR), so "[FP.]", "[S.]", "[SEW]";
// ACK is ".", ECE "E", CWR "W". An empty set prints "none".
void append_flags(std::string& out, std::uint8_t flags) {
  static constexpr std::pair<std::uint8_t, char> kLetters[] = {
      {tcp_flag::FIN, 'F'}, {tcp_flag::SYN, 'S'}, {tcp_flag::RST, 'R'}, {tcp_flag::PSH, 'P'},
      {tcp_flag::ACK, '.'}, {tcp_flag::URG, 'U'}, {tcp_flag::ECE, 'E'}, {tcp_flag::CWR, 'W'}};
  out += "Flags [";
  if (flags == 0) out += "none";
  for (auto [bit, letter] : kLetters)
    if (flags & bit) out += letter;
  out += ']';
}

// Prints the options from their wire bytes, walking them like tcpdump does: EOL ends the list
// (so padding after an unaligned list shows as a final "eol"), NOP is one byte, everything else
// is kind, length, data. Only the kinds our encoder can produce need handling.
void append_options(std::string& out, const TcpOptionBytes& bytes, std::size_t n) {
  auto it = std::back_inserter(out);
  out += ", options [";
  std::size_t i = 0;
  bool first = true;
  while (i < n) {
    if (!first) out += ',';
    first = false;
    const std::uint8_t kind = bytes[i];
    if (kind == 0) {
      out += "eol";
      break;
    }
    if (kind == 1) {
      out += "nop";
      ++i;
      continue;
    }
    const std::size_t len = bytes[i + 1];
    const std::uint8_t* data = bytes.data() + i + 2;
    const std::size_t data_len = len - 2;
    switch (kind) {
      case 2:
        out += "mss ";
        append_uint(out, (data[0] << 8) | data[1]);
        break;
      case 3:
        out += "wscale ";
        append_uint(out, data[0]);
        break;
      case 4: out += "sackOK"; break;
      case 8:
        out += "TS val ";
        append_uint(out, be32(data));
        out += " ecr ";
        append_uint(out, be32(data + 4));
        break;
      // RFC 1072/1644 relics tcpdump still decodes as one 32-bit number (valid with 4 data bytes).
      // tcpdump's name table has no entry for kind 13 (CC.ECHO): it prints an empty name.
      case 6: fmt::format_to(it, "echo {}", be32(data)); break;
      case 7: fmt::format_to(it, "echoreply {}", be32(data)); break;
      case 11: fmt::format_to(it, "cc {}", be32(data)); break;
      case 12: fmt::format_to(it, "ccnew {}", be32(data)); break;
      case 13: fmt::format_to(it, " {}", be32(data)); break;
      // RFC 6994 shared experimental option: tcpdump shows only the 16-bit ExID (needs >= 2 bytes).
      case 254: fmt::format_to(it, "exp-{:04x}", (data[0] << 8) | data[1]); break;
      default:
        // Kinds tcpdump has no decoder for; kinds it decodes specially (sack 5, md5 19, scps 20,
        // uto 28, tcp-ao 29, mptcp 30, tfo 34) are not emulated and also land here.
        fmt::format_to(it, "unknown-{}", kind);
        if (data_len) out += " 0x";
        for (std::size_t k = 0; k < data_len; ++k) fmt::format_to(it, "{:02x}", data[k]);
        break;
    }
    i += len;
  }
  out += ']';
}

// The one-line application summary tcpdump 4.99 prints after "length N". Its dissector is chosen
// by port, first match wins, in the order below (established against tcpdump 4.99.3 with every
// pair of these ports). Zero-filled data -- the simulator's default payload -- yields a constant
// per dissector. Real bytes are emulated only for SSH's version line; for the other ports a
// caller-supplied payload would need tcpdump's text-protocol parsers and gets the zero-data text.
void append_app_summary(std::string& out, const Segment& s, std::string_view payload, std::size_t length) {
  if (length == 0) return;
  const auto is = [&](std::uint16_t p) { return s.src.port == p || s.dst.port == p; };
  if (is(23)) return;  // telnet: decoded only with -v
  if (is(25)) return void(out += ": SMTP");
  if (is(43)) return void(out += ": WHOIS");
  if (is(179)) return void(out += ": BGP");
  if (is(6379)) return void(out += ": RESP [|resp]");
  if (is(22)) {
    // An SSH identification line: "SSH-" then printable ASCII up to LF or CR LF. Anything else
    // (no line end in this segment, a bare CR, a control or non-ASCII byte) prints nothing; data
    // that ends while still matching "SSH-" counts as truncated.
    if (payload.empty()) return;  // zero-filled data: the first byte is not 'S'
    static constexpr std::string_view kMagic = "SSH-";
    for (std::size_t i = 0; i < kMagic.size(); ++i) {
      if (i >= payload.size()) return void(out += " [|ssh]");
      if (payload[i] != kMagic[i]) return;
    }
    for (std::size_t i = kMagic.size(); i < payload.size(); ++i) {
      const auto c = static_cast<unsigned char>(payload[i]);
      const bool lf = c == '\n';
      const bool crlf = c == '\r' && i + 1 < payload.size() && payload[i + 1] == '\n';
      if (lf || crlf) {
        out += ": SSH: ";
        out.append(payload.substr(0, i));
        return;
      }
      if (c < 0x20 || c > 0x7e) return;
    }
    return;
  }
  if (is(10288)) return void(out += " BEEP (payload or undecoded)");
  if (is(21)) return void(out += ": FTP");
  if (is(80) || is(8080)) return void(out += ": HTTP");
  if (is(554) || is(8554)) return void(out += ": RTSP");
  if (is(639)) return void(out += ": msdp [|msdp]");
  if (is(323)) return void(out += ", RPKI-RTR");
}

}  // namespace

std::size_t TcpdumpFormatter::KeyHash::operator()(const Key& k) const {
  return static_cast<std::size_t>(mix64((std::uint64_t{k.lo_addr} << 32 | k.hi_addr) ^ mix64(k.ports)));
}

void TcpdumpFormatter::append_endpoint(std::string& out, const Endpoint& e) const {
  const std::uint32_t a = e.addr.value;
  for (int shift = 24; shift >= 0; shift -= 8) {
    append_uint(out, (a >> shift) & 0xff);
    out += '.';
  }
  if (style_.service_names) {
    if (auto name = tcp_service_name(e.port); !name.empty()) {
      out.append(name);
      return;
    }
  }
  append_uint(out, e.port);
}

void TcpdumpFormatter::append_time(std::string& out, WallTime when) {
  const std::int64_t second = when.whole_seconds();
  if (second != cached_second_) {
    const WallTime whole{second * 1000000000};
    cached_prefix_ = style_.date_time ? format_date_time(whole) : format_clock_time(whole);
    cached_prefix_.resize(cached_prefix_.size() - 6);  // keep "...HH:MM:SS." and drop "000000"
    cached_second_ = second;
  }
  out += cached_prefix_;
  // Microseconds, truncated like the pcap record's (and tcpdump's) microsecond time stamp.
  const auto micros = static_cast<std::uint32_t>((when.unix_ns - second * 1000000000) / 1000);
  char digits[6];
  for (int i = 5, v = static_cast<int>(micros); i >= 0; --i, v /= 10) digits[i] = static_cast<char>('0' + v % 10);
  out.append(digits, 6);
}

std::string TcpdumpFormatter::format(const Segment& segment, WallTime when) {
  std::string out;
  out.reserve(200);
  append(out, segment, when);
  return out;
}

void TcpdumpFormatter::append(std::string& out, const Segment& s, WallTime when) {
  append_time(out, when);
  out += " IP ";
  append_endpoint(out, s.src);
  out += " > ";
  append_endpoint(out, s.dst);
  out += ": ";
  append_flags(out, s.flags);

  // Relative sequence numbers. tcpdump only consults its table for segments that carry ACK. The
  // first such segment of a conversation -- or any one that also carries SYN, i.e. a SYN-ACK, even
  // when the conversation is known -- stores "this side's ISN = seq, other side's ISN = ack - 1"
  // and is printed absolute; later ones print seq and ack minus those. Pure SYNs, bare RSTs and
  // bare FINs never touch the table and always print absolute. Entries are never removed.
  std::uint32_t seq = s.seq, ack = s.ack;
  if (!style_.absolute_seq && (s.flags & tcp_flag::ACK)) {
    // Collating order: the numerically smaller address is "lo"; equal addresses (loopback) fall
    // back to the ports, so both directions always share one entry.
    const bool rev = s.src.addr.value > s.dst.addr.value ||
                     (s.src.addr.value == s.dst.addr.value && s.src.port > s.dst.port);
    const Endpoint& lo = rev ? s.dst : s.src;
    const Endpoint& hi = rev ? s.src : s.dst;
    const Key key{lo.addr.value, hi.addr.value, (std::uint32_t{lo.port} << 16) | hi.port};
    auto found = conversations_.find(key);
    if (found == conversations_.end() || (s.flags & tcp_flag::SYN)) {
      Reference ref = rev ? Reference{ack - 1, seq} : Reference{seq, ack - 1};
      conversations_.insert_or_assign(key, ref);
    } else {
      const Reference& ref = found->second;
      seq -= rev ? ref.hi_seq : ref.lo_seq;
      ack -= rev ? ref.lo_seq : ref.hi_seq;
    }
  }

  const std::size_t length = s.payload.empty() ? s.payload_len : s.payload.size();
  // "seq" appears when the segment occupies sequence space or could be a reset: data, SYN, FIN or
  // RST. With data it is the half-open range "first:first+length" (SYN/FIN not counted).
  if (length > 0 || (s.flags & (tcp_flag::SYN | tcp_flag::FIN | tcp_flag::RST))) {
    out += ", seq ";
    append_uint(out, seq);
    if (length > 0) {
      out += ':';
      append_uint(out, static_cast<std::uint32_t>(seq + length));
    }
  }
  if (s.flags & tcp_flag::ACK) {
    out += ", ack ";
    append_uint(out, ack);
  }
  out += ", win ";
  append_uint(out, s.window);
  if (s.flags & tcp_flag::URG) out += ", urg 0";  // the writer puts a zero urgent pointer on the wire

  TcpOptionBytes opt_bytes;
  if (const std::size_t n = encode_tcp_options(s.options, opt_bytes); n > 0) append_options(out, opt_bytes, n);

  out += ", length ";
  append_uint(out, length);
  if (style_.app_summaries) append_app_summary(out, s, s.payload, length);
}

}  // namespace synscope::capture

#include "capture/tcpdump_parser.h"

#include "capture/capture_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <utility>

#include "capture/tcp_services.h"
#include "core/error.h"
#include "core/seq.h"

namespace synscope::capture {

namespace {

constexpr std::int64_t kNsPerSec = 1'000'000'000;
constexpr std::int64_t kNsPerDay = 86'400 * kNsPerSec;
constexpr std::int64_t kHalfDayNs = kNsPerDay / 2;
constexpr std::size_t kMaxLineLength = 65536;
constexpr std::size_t kExcerptLength = 60;
constexpr std::uint64_t kU32Max = std::numeric_limits<std::uint32_t>::max();
// Sequence-number heuristics (see the header): "near" a reference, and "far" as an offset.
constexpr std::int64_t kNear = std::int64_t{1} << 24;
constexpr std::int64_t kFar = std::int64_t{1} << 28;

// Why a line does not parse; caught per line and turned into a skipped-line record.
struct LineError {
  std::string reason;
};
[[noreturn]] void fail(std::string reason) { throw LineError{std::move(reason)}; }

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_blank(char c) { return c == ' ' || c == '\t'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

std::string_view ltrim(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size() && is_blank(s[i])) ++i;
  return s.substr(i);
}

// At most `max` characters of `s`, control characters replaced by '?', "..." when cut.
std::string excerpt(std::string_view s, std::size_t max = kExcerptLength) {
  std::string out;
  for (char c : s.substr(0, max)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u >= 0x7f) ? '?' : c;  // one printable line whatever the bytes
  }
  if (s.size() > max) out += "...";
  return out;
}
std::string squote(std::string_view s, std::size_t max = 32) { return "'" + excerpt(s, max) + "'"; }

bool digits_at(std::string_view s, std::size_t pos, std::size_t n) {
  if (s.size() < pos + n) return false;
  for (std::size_t i = pos; i < pos + n; ++i)
    if (!is_digit(s[i])) return false;
  return true;
}
int two_digits(std::string_view s, std::size_t pos) { return (s[pos] - '0') * 10 + (s[pos + 1] - '0'); }
// "HH:MM:SS" at `pos` (digits and colons only; ranges are checked by the reader).
bool clock_at(std::string_view s, std::size_t pos) {
  return digits_at(s, pos, 2) && s.size() > pos + 7 && s[pos + 2] == ':' && digits_at(s, pos + 3, 2) &&
         s[pos + 5] == ':' && digits_at(s, pos + 6, 2);
}
// "YYYY-MM-DD HH:MM:SS" at the start.
bool date_at(std::string_view s) {
  return digits_at(s, 0, 4) && s.size() > 10 && s[4] == '-' && digits_at(s, 5, 2) && s[7] == '-' &&
         digits_at(s, 8, 2) && s[10] == ' ' && clock_at(s, 11);
}
// "SECONDS.FRACTION " (-tt) at the start: the blank keeps "10.0.0.1.22 > ..." out.
bool epoch_at(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size() && is_digit(s[i])) ++i;
  if (i == 0 || i >= s.size() || s[i] != '.') return false;
  std::size_t j = i + 1;
  while (j < s.size() && is_digit(s[j])) ++j;
  return j > i + 1 && j < s.size() && is_blank(s[j]);
}
bool starts_with_stamp(std::string_view s) { return clock_at(s, 0) || date_at(s) || epoch_at(s); }
// A line that begins a new packet: a time stamp, or "IP"/"IP6" for -t output.
bool starts_new_packet(std::string_view s) {
  return starts_with_stamp(s) || s.starts_with("IP ") || s.starts_with("IP6 ");
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}
unsigned days_in_month(std::int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// tcpdump's own messages, which pastes often include.
bool is_notice(std::string_view s) {
  for (std::string_view p : {"reading from file ", "listening on ", "tcpdump: ", "Warning: ", "dropped privs to ",
                             "tcpdump version ", "libpcap version "})
    if (s.starts_with(p)) return true;
  std::size_t i = 0;
  while (i < s.size() && is_digit(s[i])) ++i;
  if (i == 0) return false;
  std::string_view rest = s.substr(i);
  if (!rest.starts_with(" packet")) return false;
  rest.remove_prefix(7);
  if (rest.starts_with("s")) rest.remove_prefix(1);
  for (std::string_view p : {" captured", " received by filter", " dropped by kernel", " dropped by interface"})
    if (rest == p) return true;
  return false;
}

// "0x0010:  0a00 0002 ..." (-x / -X dumps that lost their indentation).
bool is_hex_dump(std::string_view s) {
  if (!s.starts_with("0x")) return false;
  std::size_t i = 2;
  while (i < s.size() && is_hex(s[i])) ++i;
  return i > 2 && i < s.size() && s[i] == ':';
}

// "02:00:01:02:03:04" at the start.
bool looks_like_mac(std::string_view s) {
  if (s.size() < 17) return false;
  for (std::size_t i = 0; i < 17; ++i) {
    if (i % 3 == 2) {
      if (s[i] != ':') return false;
    } else if (!is_hex(s[i])) {
      return false;
    }
  }
  return s.size() == 17 || s[17] == ' ' || s[17] == ',';
}

std::optional<LinkDirection> direction_of(std::string_view token) {
  if (token == "In") return LinkDirection::In;
  if (token == "Out") return LinkDirection::Out;
  if (token == "B") return LinkDirection::Broadcast;
  if (token == "M") return LinkDirection::Multicast;
  if (token == "P") return LinkDirection::OtherHost;
  return std::nullopt;
}

std::string_view first_token(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size() && !is_blank(s[i])) ++i;
  return s.substr(0, i);
}

// The index of the bracket closing the one at s[0] ('(' / '[' / '{'), counting nesting of all
// three kinds; npos when it never closes.
std::size_t matching_close(std::string_view s) {
  int depth = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '(' || c == '[' || c == '{') ++depth;
    if (c == ')' || c == ']' || c == '}') {
      if (--depth == 0) return i;
      if (depth < 0) return std::string_view::npos;
    }
  }
  return std::string_view::npos;
}

class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}
  bool empty() const { return s_.empty(); }
  std::string_view rest() const { return s_; }
  char peek() const { return s_.empty() ? '\0' : s_.front(); }
  bool starts_with(std::string_view p) const { return s_.starts_with(p); }
  bool eat(std::string_view p) {
    if (!s_.starts_with(p)) return false;
    s_.remove_prefix(p.size());
    return true;
  }
  void advance(std::size_t n) { s_.remove_prefix(std::min(n, s_.size())); }
  std::size_t skip_blanks() {
    std::size_t n = 0;
    while (n < s_.size() && is_blank(s_[n])) ++n;
    s_.remove_prefix(n);
    return n;
  }
  std::string_view take_digits() {
    std::size_t n = 0;
    while (n < s_.size() && is_digit(s_[n])) ++n;
    const auto d = s_.substr(0, n);
    s_.remove_prefix(n);
    return d;
  }
  // What comes next, for messages.
  std::string describe_next() const { return s_.empty() ? "the end of the line" : squote(s_, 20); }

 private:
  std::string_view s_;
};

// A decimal number for field `what`, at most `max`.
std::uint64_t read_number(Cursor& c, std::uint64_t max, std::string_view what) {
  const std::string_view d = c.take_digits();
  if (d.empty()) fail(fmt::format("{}: expected a number, found {}", what, c.describe_next()));
  std::uint64_t v = 0;
  const auto [ptr, ec] = std::from_chars(d.data(), d.data() + d.size(), v);
  if (ec != std::errc{} || v > max) fail(fmt::format("{} {} out of range (at most {})", what, excerpt(d, 24), max));
  if (is_alpha(c.peek()) || c.peek() == '.') fail(fmt::format("{}: malformed number {}", what, squote(std::string(d) + std::string(c.rest().substr(0, 8)))));
  return v;
}

// ---- time stamps -------------------------------------------------------------------------------

struct Stamp {
  enum class Kind : std::uint8_t { None, Clock, Absolute } kind = Kind::None;
  std::int64_t ns = 0;  // Clock: since midnight; Absolute: since the Unix epoch
};

std::int64_t read_fraction(Cursor& c, bool required) {
  if (!c.eat(".")) {
    if (required) fail("time stamp: expected '.' and a fraction");
    return 0;
  }
  const std::string_view d = c.take_digits();
  if (d.empty()) fail("time stamp: no digits after '.'");
  if (d.size() > 9) fail("time stamp: more than 9 fraction digits");
  std::int64_t v = 0;
  for (char ch : d) v = v * 10 + (ch - '0');
  for (std::size_t i = d.size(); i < 9; ++i) v *= 10;
  return v;
}

std::int64_t read_clock(Cursor& c) {
  const std::string_view s = c.rest();
  const int h = two_digits(s, 0), m = two_digits(s, 3), sec = two_digits(s, 6);
  if (h > 23 || m > 59 || sec > 60) fail(fmt::format("time stamp {} out of range", squote(s.substr(0, 8))));
  c.advance(8);
  return (h * 3600LL + m * 60LL + sec) * kNsPerSec + read_fraction(c, false);
}

Stamp read_stamp(Cursor& c) {
  const std::string_view s = c.rest();
  if (date_at(s)) {
    const std::int64_t y = std::stoll(std::string(s.substr(0, 4)));
    const unsigned mo = static_cast<unsigned>(two_digits(s, 5)), d = static_cast<unsigned>(two_digits(s, 8));
    if (y < 1970 || y > 2261 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
      fail(fmt::format("date {} out of range", squote(s.substr(0, 10))));
    c.advance(11);
    const std::int64_t ns = read_clock(c);
    return {Stamp::Kind::Absolute, days_from_civil(y, mo, d) * kNsPerDay + ns};
  }
  if (clock_at(s, 0)) return {Stamp::Kind::Clock, read_clock(c)};
  if (epoch_at(s)) {
    const std::string_view d = c.take_digits();
    std::uint64_t secs = 0;
    const auto [ptr, ec] = std::from_chars(d.data(), d.data() + d.size(), secs);
    if (ec != std::errc{} || secs > 9'000'000'000ULL) fail(fmt::format("time stamp {} out of range", squote(d)));
    return {Stamp::Kind::Absolute, static_cast<std::int64_t>(secs) * kNsPerSec + read_fraction(c, true)};
  }
  return {};
}

// ---- addresses ---------------------------------------------------------------------------------

// RFC 1123 host name: dot-separated labels of letters, digits, '-' and '_' (seen in the wild), the
// last one not all-numeric (which keeps a cut "10.85.3" from passing as a name).
bool is_host_name(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  std::size_t label = 0;
  bool label_has_alpha = false;
  for (char c : s) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      label_has_alpha = false;
      continue;
    }
    if (!(is_alpha(c) || is_digit(c) || c == '-' || c == '_')) return false;
    if (++label > 63) return false;
    if (!is_digit(c)) label_has_alpha = true;
  }
  return label > 0 && label_has_alpha;
}

struct HostPort {
  std::optional<IpAddress> addr;  // numeric
  std::string_view name;          // otherwise a host name
  std::uint16_t port = 0;
};

// Service name -> port, built from the same table the formatter prints from.
std::optional<std::uint16_t> port_of_service(std::string_view name) {
  static const auto* table = [] {
    auto* m = new std::map<std::string, std::uint16_t, std::less<>>();
    for (std::uint32_t p = 1; p <= 65535; ++p)
      if (auto n = tcp_service_name(static_cast<std::uint16_t>(p)); !n.empty())
        m->emplace(std::string(n), static_cast<std::uint16_t>(p));
    return m;
  }();
  if (auto it = table->find(name); it != table->end()) return it->second;
  return std::nullopt;
}

HostPort parse_endpoint(std::string_view text, bool v6, std::string_view role) {
  const std::size_t dot = text.rfind('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == text.size())
    fail(fmt::format("{} {}: expected ADDRESS.PORT", role, squote(text, 48)));
  const std::string_view host = text.substr(0, dot), port_text = text.substr(dot + 1);
  HostPort hp;
  if (std::all_of(port_text.begin(), port_text.end(), is_digit)) {
    Cursor pc(port_text);
    hp.port = static_cast<std::uint16_t>(read_number(pc, 65535, fmt::format("{} port", role)));
  } else if (auto p = port_of_service(port_text)) {
    hp.port = *p;
  } else {
    fail(fmt::format("{} {}: unknown service name {} (not in tcpdump's /etc/services table)", role,
                     squote(text, 48), squote(port_text)));
  }
  if (!v6) {
    if (auto a = Ipv4Addr::parse(host)) {
      hp.addr = IpAddress::from_v4(*a);
      return hp;
    }
  } else if (host.find(':') != std::string_view::npos) {
    if (auto a = IpAddress::parse(host); a && a->v6) {
      hp.addr = *a;
      return hp;
    }
  }
  if (!is_host_name(host))
    fail(fmt::format("{} address {} is neither an {} address nor a host name", role, squote(host, 48),
                     v6 ? "IPv6" : "IPv4"));
  hp.name = host;
  return hp;
}

// ---- TCP ---------------------------------------------------------------------------------------

std::uint8_t parse_flags(std::string_view letters) {
  if (letters == "none") return 0;
  if (letters.empty()) fail("empty Flags []");
  std::uint8_t flags = 0;
  bool ae = false;
  for (char c : letters) {
    std::uint8_t bit = 0;
    switch (c) {
      case 'F': bit = tcp_flag::FIN; break;
      case 'S': bit = tcp_flag::SYN; break;
      case 'R': bit = tcp_flag::RST; break;
      case 'P': bit = tcp_flag::PSH; break;
      case '.': bit = tcp_flag::ACK; break;
      case 'U': bit = tcp_flag::URG; break;
      case 'E': bit = tcp_flag::ECE; break;
      case 'W': bit = tcp_flag::CWR; break;
      case 'e':  // AccECN's AE bit (tcpdump >= 4.99.4): no room for it in the record
        if (ae) fail("flag 'e' repeated in Flags [" + std::string(letters) + "]");
        ae = true;
        continue;
      default: fail(fmt::format("unknown flag letter {} in Flags [{}]", squote(std::string(1, c)), excerpt(letters, 16)));
    }
    if (flags & bit) fail(fmt::format("flag {} repeated in Flags [{}]", squote(std::string(1, c)), excerpt(letters, 16)));
    flags |= bit;
  }
  return flags;
}

struct TcpFields {
  std::uint8_t flags = 0;
  std::optional<std::uint32_t> seq, seq_end, ack, win, length;
  TcpOptions options;
  bool options_complete = true;
  bool truncated = false;
};

void add_option(TcpFields& f, TcpOption o) {
  if (f.options.size() == TcpOptions::kCapacity) {
    f.options_complete = false;
    return;
  }
  f.options.push(o);
}

// One item of "options [...]". Returns false when it is a kind the record cannot hold. Known kinds
// with impossible values fail the line.
bool parse_option(std::string_view item, TcpFields& f) {
  Cursor c(item);
  if (item == "nop") return add_option(f, {TcpOptionKind::Nop}), true;
  if (item == "eol") return add_option(f, {TcpOptionKind::Eol}), true;
  if (item == "sackOK") return add_option(f, {TcpOptionKind::SackPermitted}), true;
  if (c.eat("mss ")) {
    const auto v = read_number(c, 65535, "option mss");
    if (!c.empty()) fail(fmt::format("option {}: unexpected {}", squote(item), c.describe_next()));
    return add_option(f, {TcpOptionKind::Mss, static_cast<std::uint32_t>(v)}), true;
  }
  if (c.eat("wscale ")) {
    const auto v = read_number(c, 255, "option wscale");
    if (!c.empty()) fail(fmt::format("option {}: unexpected {}", squote(item), c.describe_next()));
    return add_option(f, {TcpOptionKind::WindowScale, static_cast<std::uint32_t>(v)}), true;
  }
  if (c.eat("TS val ")) {
    const auto val = read_number(c, kU32Max, "option TS val");
    if (!c.eat(" ecr ")) fail(fmt::format("option {}: expected ' ecr '", squote(item)));
    const auto ecr = read_number(c, kU32Max, "option TS ecr");
    if (!c.empty()) fail(fmt::format("option {}: unexpected {}", squote(item), c.describe_next()));
    return add_option(f, {TcpOptionKind::Timestamp, static_cast<std::uint32_t>(val), static_cast<std::uint32_t>(ecr)}),
           true;
  }
  return false;  // sack blocks, unknown-N, tfo, md5, mptcp, echo, cc, exp-XXXX, ...
}

// After "options [": the list up to its closing bracket (or up to "[|tcp]").
void parse_options(Cursor& c, TcpFields& f) {
  const std::string_view rest = c.rest();
  // matching_close() wants the opening bracket; the cursor is just past it.
  const std::size_t close = matching_close(std::string_view(rest.data() - 1, rest.size() + 1));
  std::string_view list;
  if (close == std::string_view::npos) {
    const std::size_t cut = rest.find("[|");
    if (cut == std::string_view::npos) fail("options [ is never closed (truncated line?)");
    list = rest.substr(0, cut);
    f.truncated = true;
    f.options_complete = false;
  } else {
    list = rest.substr(0, close - 1);
  }
  // Items are comma-separated at brace depth 0 ("sack 2 {a:b}{c:d}" has no commas, but be safe).
  std::size_t start = 0;
  int depth = 0;
  for (std::size_t i = 0; i <= list.size(); ++i) {
    const char ch = i < list.size() ? list[i] : ',';
    if (ch == '{' || ch == '[' || ch == '(') ++depth;
    if (ch == '}' || ch == ']' || ch == ')') --depth;
    if (ch == ',' && depth <= 0) {
      const std::string_view item = list.substr(start, i - start);
      start = i + 1;
      if (item.empty()) {
        if (!f.truncated) fail("options [...]: empty item");
        continue;
      }
      if (f.truncated && i == list.size()) {
        // The last item before "[|tcp]" may itself be cut ("TS "): keep it only if it parses.
        try {
          if (!parse_option(item, f)) f.options_complete = false;
        } catch (const LineError&) {
          f.options_complete = false;
        }
        continue;
      }
      if (!parse_option(item, f)) f.options_complete = false;
    }
  }
  if (f.truncated)
    c.advance(c.rest().size());
  else
    c.advance(close);  // past the ']'
}

// The text after "SRC > DST: ", which starts with "Flags [".
TcpFields parse_tcp(std::string_view body) {
  Cursor c(body);
  TcpFields f;
  c.eat("Flags [");
  const std::size_t close = c.rest().find(']');
  if (close == std::string_view::npos) fail("Flags [ is never closed (truncated line?)");
  f.flags = parse_flags(c.rest().substr(0, close));
  c.advance(close + 1);
  std::string_view last = "Flags";
  while (true) {
    const std::size_t blanks = c.skip_blanks();
    if (c.empty()) break;
    if (c.eat("[|tcp]")) {
      f.truncated = true;
      break;
    }
    if (blanks || !c.eat(", ")) fail(fmt::format("unexpected {} after {}", c.describe_next(), last));
    if (c.eat("cksum ")) {
      // "cksum 0x1c46 (correct)" / "(incorrect -> 0x986a)" / "(unverified)": ignored.
      const std::size_t paren = c.rest().find(')');
      const std::size_t comma = c.rest().find(", ");
      if (paren == std::string_view::npos || (comma != std::string_view::npos && comma < paren))
        fail("malformed cksum field");
      c.advance(paren + 1);
      last = "cksum";
    } else if (c.eat("seq ")) {
      f.seq = static_cast<std::uint32_t>(read_number(c, kU32Max, "seq"));
      if (c.eat(":")) f.seq_end = static_cast<std::uint32_t>(read_number(c, kU32Max, "seq range end"));
      last = "seq";
    } else if (c.eat("ack ")) {
      f.ack = static_cast<std::uint32_t>(read_number(c, kU32Max, "ack"));
      last = "ack";
    } else if (c.eat("win ")) {
      f.win = static_cast<std::uint32_t>(read_number(c, 65535, "win"));
      last = "win";
    } else if (c.eat("urg ")) {
      read_number(c, 65535, "urg");
      last = "urg";
    } else if (c.eat("options [")) {
      parse_options(c, f);
      if (f.truncated) break;
      last = "options";
    } else if (c.eat("length ")) {
      f.length = static_cast<std::uint32_t>(read_number(c, kU32Max, "length"));
      // tcpdump 4.99's application summaries follow (": HTTP", " [|ssh]", ", RPKI-RTR").
      const char next = c.peek();
      if (!(c.empty() || next == ':' || next == ' ' || next == ','))
        fail(fmt::format("unexpected {} after length", c.describe_next()));
      break;
    } else {
      fail(fmt::format("unexpected field {}", squote(first_token(c.rest()), 20)));
    }
  }

  using namespace tcp_flag;
  if (!f.truncated) {
    if (!f.length) fail("line ends before 'length N' (truncated line?)");
    if (!f.win) fail("no 'win' field");
    if (!f.seq && (*f.length > 0 || (f.flags & (SYN | FIN | RST))))
      fail("no seq although tcpdump prints it for SYN, FIN, RST and data");
    if ((f.flags & ACK) && !f.ack) fail("Flags has '.' (ACK) but no ack number is printed");
  }
  if (f.ack && !(f.flags & ACK)) fail("ack printed without the '.' (ACK) flag");
  if (f.seq_end) {
    const std::uint32_t range = *f.seq_end - *f.seq;
    if (f.length && range != *f.length)
      fail(fmt::format("length {} does not match seq {}:{} (truncated line?)", *f.length, *f.seq, *f.seq_end));
    if (!f.length) f.length = range;  // cut by [|tcp] after the seq range
  } else if (f.length && *f.length > 0 && !f.truncated) {
    fail(fmt::format("length {} without a seq range A:B", *f.length));
  }
  return f;
}

// ---- sequence-number resolution -----------------------------------------------------------------

struct ConvKey {
  PacketEndpoint a, b;
  friend auto operator<=>(const ConvKey&, const ConvKey&) = default;
};
ConvKey conv_key(const PacketRecord& r) { return r.src <= r.dst ? ConvKey{r.src, r.dst} : ConvKey{r.dst, r.src}; }
// 0 when the sender is the key's first endpoint (also for src == dst, as in tcpdump).
int side_of(const PacketRecord& r) { return r.src <= r.dst ? 0 : 1; }
std::int64_t distance(std::uint32_t a, std::uint32_t b) {
  const std::int64_t d = s32_diff(a, b);
  return d < 0 ? -d : d;
}
bool near(std::uint32_t v, const std::optional<std::uint32_t>& ref) { return ref && distance(v, *ref) < kNear; }
void advance_to(std::optional<std::uint32_t>& next, std::uint32_t v, bool restart) {
  if (restart || !next || seq_after(v, *next)) next = v;
}

IpAddress pseudo_from_hash(std::uint64_t h, bool v6) {
  if (!v6) return IpAddress::from_v4(Ipv4Addr{0xf0000000u | static_cast<std::uint32_t>(h & 0xffffff)});
  IpAddress a;
  a.v6 = true;
  a.bytes[0] = 0x01;  // 100::/64
  for (int i = 0; i < 8; ++i) a.bytes[8 + i] = static_cast<std::uint8_t>(h >> (56 - 8 * i));
  return a;
}

}  // namespace

std::string_view to_string(SeqOrigin origin) {
  switch (origin) {
    case SeqOrigin::Printed: return "printed";
    case SeqOrigin::Handshake: return "handshake";
    case SeqOrigin::FirstSegment: return "first-segment";
    case SeqOrigin::Inferred: return "inferred";
    case SeqOrigin::Relative: return "relative";
    case SeqOrigin::Unknown: return "unknown";
  }
  return "?";
}

const std::string* TextCapture::host_name(const IpAddress& addr) const {
  const auto it = host_names.find(addr);
  return it == host_names.end() ? nullptr : &it->second;
}

std::vector<PacketRecord> TextCapture::records() const {
  std::vector<PacketRecord> out;
  out.reserve(packets.size());
  for (const auto& p : packets) out.push_back(p.record);
  return out;
}

TcpdumpTextParser::TcpdumpTextParser(TextParseOptions options) : options_(std::move(options)) {
  base_day_ = floor_div(options_.base_date.unix_ns, kNsPerDay);
}

const std::string& TcpdumpTextParser::source() const {
  static const std::string kDefault = "<input>";
  return options_.source_name.empty() ? kDefault : options_.source_name;
}

void TcpdumpTextParser::throw_binary(std::string_view detail) const {
  throw UsageError(fmt::format("{}: looks like a binary capture, not tcpdump text ({})", source(), detail));
}

void TcpdumpTextParser::skip(std::uint64_t line_no, std::string_view text, std::string reason) {
  auto& st = capture_.stats;
  ++st.skipped_lines;
  if (st.skipped_examples.size() < TextParseStats::kMaxSkippedExamples)
    st.skipped_examples.push_back({line_no, excerpt(text), std::move(reason)});
}

void TcpdumpTextParser::feed_line(std::string_view line) {
  if (finished_) throw std::logic_error("TcpdumpTextParser: feed_line() after finish()");
  ++line_no_;
  ++capture_.stats.lines;
  if (line_no_ == 1)
    if (auto magic = capture_magic(line)) throw_binary(*magic);
  if (line.find('\0') != std::string_view::npos) throw_binary(fmt::format("NUL bytes in line {}", line_no_));
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line_no_ == 1 && line.starts_with("\xef\xbb\xbf")) line.remove_prefix(3);  // UTF-8 BOM

  const std::string_view trimmed = ltrim(line);
  if (!pending_header_.empty()) {
    std::string header = std::move(pending_header_);
    pending_header_.clear();
    if (!trimmed.empty() && !starts_new_packet(trimmed) && line.size() <= kMaxLineLength) {
      process_packet_line(header + " " + std::string(trimmed), pending_line_);
      return;
    }
    skip(pending_line_, header, "-v header line without the continuation line that holds the packet");
  }
  if (line.size() > kMaxLineLength) {
    skip(line_no_, line, fmt::format("line longer than {} characters", kMaxLineLength));
    return;
  }
  if (trimmed.empty()) {
    ++capture_.stats.blank_lines;
    return;
  }
  if (trimmed.size() != line.size()) {  // indented
    if (line[0] == ' ' && clock_at(line, 1)) {
      skip(line_no_, line,
           "relative time stamp (tcpdump -ttt or -ttttt) gives no clock time; print with -tttt instead");
      return;
    }
    if (!starts_new_packet(trimmed)) {
      ++capture_.stats.continuation_lines;
      return;
    }
  }
  if (is_notice(trimmed)) {
    ++capture_.stats.notice_lines;
    return;
  }
  if (is_hex_dump(trimmed)) {
    ++capture_.stats.continuation_lines;
    return;
  }
  process_packet_line(trimmed, line_no_);
}

void TcpdumpTextParser::feed(std::istream& in) {
  std::string line;
  while (std::getline(in, line)) feed_line(line);
  if (in.bad()) throw UsageError(fmt::format("{}: read error", source()));
}

void TcpdumpTextParser::process_packet_line(std::string_view text, std::uint64_t line_no) {
  TextPacket packet;
  std::string what;
  LineKind kind;
  try {
    kind = parse_line(text, line_no, packet, what);
  } catch (const LineError& e) {
    skip(line_no, text, e.reason);
    return;
  }
  switch (kind) {
    case LineKind::Tcp: capture_.packets.push_back(std::move(packet)); break;
    case LineKind::PendingHeader:
      pending_header_ = std::string(text);
      pending_line_ = line_no;
      break;
    case LineKind::Other:
      ++capture_.stats.other_packets;
      if (!capture_.stats.first_other) capture_.stats.first_other = SkippedLine{line_no, excerpt(text), what};
      break;
  }
}

TcpdumpTextParser::LineKind TcpdumpTextParser::parse_line(std::string_view text, std::uint64_t line_no,
                                                          TextPacket& out, std::string& what) {
  Cursor c(text);
  const Stamp stamp = read_stamp(c);
  if (stamp.kind != Stamp::Kind::None) {
    if (c.skip_blanks() == 0) {
      if (c.empty()) fail("nothing after the time stamp");
      fail(fmt::format("unexpected {} after the time stamp", c.describe_next()));
    }
  } else if (!c.starts_with("IP ") && !c.starts_with("IP6 ")) {
    fail("not a tcpdump line: no time stamp (HH:MM:SS.ffffff, YYYY-MM-DD HH:MM:SS.ffffff or SECONDS.ffffff)");
  }

  // Applies the time stamp; called only once the line is known to be a packet.
  const auto time_of = [&]() -> WallTime {
    switch (stamp.kind) {
      case Stamp::Kind::None: return WallTime{base_day_ * kNsPerDay};
      case Stamp::Kind::Absolute: return WallTime{stamp.ns};
      case Stamp::Kind::Clock:
        if (prev_clock_ns_ && stamp.ns < *prev_clock_ns_ - kHalfDayNs) {
          ++day_offset_;
          ++capture_.stats.day_wraps;
        }
        prev_clock_ns_ = stamp.ns;
        return WallTime{(base_day_ + day_offset_) * kNsPerDay + stamp.ns};
    }
    return {};
  };

  // "-i any": "IFACE DIR " (cooked v2), or "DIR MAC ..." (cooked v1 with -e).
  {
    const std::string_view r = c.rest();
    const std::string_view t1 = first_token(r);
    const std::string_view after1 = r.substr(t1.size());
    const std::string_view r2 = ltrim(after1);
    const std::size_t b1 = after1.size() - r2.size();
    const std::string_view t2 = first_token(r2);
    if (b1 > 0 && !t1.empty() && t1 != "IP" && t1 != "IP6" && r2.size() > t2.size()) {
      if (auto d = direction_of(t2)) {
        out.interface = std::string(t1);
        out.direction = *d;
        c.advance(t1.size() + b1 + t2.size());
        c.skip_blanks();
      } else if (auto d1 = direction_of(t1); d1 && looks_like_mac(r2)) {
        out.direction = *d1;
        c.advance(t1.size() + b1);
      }
    }
  }

  // Network layer: "IP " / "IP6 ", or a -e link-level header ending in an IP ethertype.
  bool v6 = false;
  Encapsulation encapsulation = Encapsulation::None;
  if (c.eat("IP6 ")) {
    v6 = true;
  } else if (c.eat("IP ")) {
    v6 = false;
  } else {
    const std::string_view r = c.rest();
    constexpr std::string_view kV4 = "ethertype IPv4 (0x0800), ", kV6 = "ethertype IPv6 (0x86dd), ";
    const std::size_t p4 = r.find(kV4), p6 = r.find(kV6);
    const std::size_t p = std::min(p4, p6);
    const bool link_header = looks_like_mac(r) || r.starts_with("ifindex ");
    if (p == std::string_view::npos || !link_header) {
      time_of();
      what = link_header ? "not an IP packet" : fmt::format("not an IP packet ({})", squote(first_token(r), 20));
      return LineKind::Other;
    }
    v6 = p == p6;
    if (r.substr(0, p).find("vlan ") != std::string_view::npos) encapsulation = Encapsulation::Vlan;
    c.advance(p + kV4.size());
    if (c.eat("length ")) {
      read_number(c, 1u << 20, "frame length");
      if (!c.eat(": ")) fail(fmt::format("unexpected {} after the frame length", c.describe_next()));
    }
  }

  // -v: "(tos 0x0, ttl 64, ...)" (IPv4, continued on the next line) or "(flowlabel ..., hlim 64, ...)".
  std::uint8_t ttl = 0;
  if (c.peek() == '(') {
    const std::size_t close = matching_close(c.rest());
    if (close == std::string_view::npos) fail("the -v header's parentheses never close (truncated line?)");
    const std::string_view header = c.rest().substr(1, close - 1);
    const std::string_view key = v6 ? "hlim " : "ttl ";
    for (std::size_t at = header.find(key); at != std::string_view::npos; at = header.find(key, at + 1)) {
      if (at != 0 && header[at - 1] != ' ') continue;
      Cursor tc(header.substr(at + key.size()));
      ttl = static_cast<std::uint8_t>(read_number(tc, 255, v6 ? "hlim" : "ttl"));
      break;
    }
    c.advance(close + 1);
    c.skip_blanks();
    if (c.empty()) return LineKind::PendingHeader;
  }

  // "SRC > DST: BODY".
  const std::string_view r = c.rest();
  const std::size_t gt = r.find(" > ");
  if (gt == std::string_view::npos) fail("expected 'SOURCE > DESTINATION:' (truncated line?)");
  std::size_t colon = r.find(": ", gt + 3);
  if (colon == std::string_view::npos) {
    if (!r.ends_with(':')) fail("expected ':' after the destination (truncated line?)");
    colon = r.size() - 1;
  }
  const std::string_view src_text = r.substr(0, gt), dst_text = r.substr(gt + 3, colon - gt - 3);
  const std::string_view body = ltrim(r.substr(std::min(colon + 2, r.size())));
  if (!body.starts_with("Flags [")) {
    if (body.starts_with("[|tcp]")) fail("tcpdump cut the TCP header before its flags ([|tcp]: snapshot length too small)");
    if (body.size() < 7 && std::string_view("Flags [").starts_with(body))
      fail("line ends inside the TCP header (truncated line?)");
    time_of();
    what = fmt::format("not TCP ({})", squote(first_token(body), 20));
    return LineKind::Other;
  }
  const HostPort src = parse_endpoint(src_text, v6, "source");
  const HostPort dst = parse_endpoint(dst_text, v6, "destination");
  const TcpFields f = parse_tcp(body);

  // Everything parsed: nothing below can fail.
  PacketRecord& rec = out.record;
  rec.frame = line_no;
  rec.ts = time_of();
  out.has_time = stamp.kind != Stamp::Kind::None;
  rec.src = {src.addr ? *src.addr : pseudo_address(src.name, v6), src.port};
  rec.dst = {dst.addr ? *dst.addr : pseudo_address(dst.name, v6), dst.port};
  out.src_is_name = !src.addr;
  out.dst_is_name = !dst.addr;
  rec.flags = f.flags;
  rec.seq = f.seq.value_or(0);
  rec.ack = f.ack.value_or(0);
  out.seq_origin = f.seq ? SeqOrigin::Printed : SeqOrigin::Unknown;
  out.ack_origin = f.ack ? SeqOrigin::Printed : SeqOrigin::Unknown;
  rec.window = static_cast<std::uint16_t>(f.win.value_or(0));
  rec.options = f.options;
  out.options_complete = f.options_complete && !f.truncated;
  rec.payload_len = f.length.value_or(0);
  rec.ttl = ttl;
  rec.encapsulation = encapsulation;
  rec.truncated = f.truncated;
  return LineKind::Tcp;
}

IpAddress TcpdumpTextParser::pseudo_address(std::string_view name, bool v6) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](char ch) { return (ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch - 'A' + 'a') : ch; });
  NameKey key{v6, lower};
  if (auto it = name_addresses_.find(key); it != name_addresses_.end()) return it->second;
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a 64
  for (unsigned char ch : lower) {
    h ^= ch;
    h *= 0x100000001b3ULL;
  }
  for (;; ++h) {
    const IpAddress a = pseudo_from_hash(h, v6);
    if (capture_.host_names.contains(a)) continue;  // another name has it
    capture_.host_names.emplace(a, std::string(name));
    name_addresses_.emplace(std::move(key), a);
    return a;
  }
}

void TcpdumpTextParser::resolve_sequence_numbers() {
  using namespace tcp_flag;
  auto& packets = capture_.packets;
  auto& st = capture_.stats;

  // 1. Vote: tcpdump's default (relative) or -S (absolute)? Replay tcpdump's reference table and
  //    compare each later printed number with its reference under both readings.
  {
    struct VoteConv {
      bool exists = false;
      std::optional<std::uint32_t> isn[2];
    };
    std::map<ConvKey, VoteConv> table;
    const auto vote = [&](std::uint32_t printed, const std::optional<std::uint32_t>& ref) {
      if (!ref) return;
      const std::int64_t as_offset = distance(printed, 0), as_absolute = distance(printed, *ref);
      if (as_absolute < kNear && as_offset >= kFar)
        ++st.absolute_votes;
      else if (as_offset < kNear && as_absolute >= kFar)
        ++st.relative_votes;
      else if (as_absolute * 16 <= as_offset)
        ++st.weak_absolute_votes;
      else if (as_offset * 16 <= as_absolute)
        ++st.weak_relative_votes;
    };
    for (const auto& p : packets) {
      const PacketRecord& r = p.record;
      if (!(r.flags & ACK)) continue;
      VoteConv& v = table[conv_key(r)];
      const int s = side_of(r), o = 1 - s;
      const bool seq_printed = p.seq_origin == SeqOrigin::Printed, ack_printed = p.ack_origin == SeqOrigin::Printed;
      if (!v.exists || (r.flags & SYN)) {
        v.exists = true;
        v.isn[s] = seq_printed ? std::optional<std::uint32_t>(r.seq) : std::nullopt;
        v.isn[o] = ack_printed ? std::optional<std::uint32_t>(r.ack - 1) : std::nullopt;
        continue;
      }
      if (seq_printed) vote(r.seq, v.isn[s]);
      if (ack_printed) vote(r.ack, v.isn[o]);
    }
    const bool absolute = st.absolute_votes != st.relative_votes ? st.absolute_votes > st.relative_votes
                                                                  : st.weak_absolute_votes > st.weak_relative_votes;
    st.numbering = absolute ? SeqNumbering::Absolute : SeqNumbering::Relative;
  }

  // 2. Rebuild absolute numbers, infer pure ACKs' seq.
  struct Conv {
    bool exists = false;  // tcpdump has a reference for it
    SeqOrigin kind = SeqOrigin::FirstSegment;
    std::optional<std::uint32_t> isn[2];
    std::optional<std::uint32_t> next[2];  // each side's next sequence number, as far as known
  };
  std::map<ConvKey, Conv> table;
  const bool relative = st.numbering == SeqNumbering::Relative;
  for (auto& p : packets) {
    PacketRecord& r = p.record;
    Conv& cv = table[conv_key(r)];
    const int s = side_of(r), o = 1 - s;
    const bool syn = r.flags & SYN, fin = r.flags & FIN, has_ack = r.flags & ACK;
    const bool seq_printed = p.seq_origin == SeqOrigin::Printed, ack_printed = p.ack_origin == SeqOrigin::Printed;

    if (relative && has_ack) {
      if (!cv.exists || syn) {
        // tcpdump stores a reference and prints this line absolute -- unless this is an excerpt
        // whose first line of the conversation is already relative.
        const bool first = !cv.exists;
        cv.exists = true;
        bool excerpt_line = false;
        if (first && !syn && ack_printed) {
          const bool known_absolute = near(r.ack, cv.next[o]) || (seq_printed && near(r.seq, cv.next[s]));
          excerpt_line = !known_absolute && r.ack < kNear && (!seq_printed || r.seq < kNear);
        }
        if (!ack_printed || excerpt_line) {
          // No usable reference: a line cut before its ack, or relative numbers without a base.
          cv.isn[0] = cv.isn[1] = std::nullopt;
          if (excerpt_line) {
            if (seq_printed) p.seq_origin = SeqOrigin::Relative;
            p.ack_origin = SeqOrigin::Relative;
          }
        } else {
          cv.kind = syn ? SeqOrigin::Handshake : SeqOrigin::FirstSegment;
          cv.isn[s] = seq_printed ? std::optional<std::uint32_t>(r.seq) : std::nullopt;
          cv.isn[o] = r.ack - 1;
        }
      } else {
        if (seq_printed) {
          if (cv.isn[s]) {
            r.seq += *cv.isn[s];
            p.seq_origin = cv.kind;
          } else {
            p.seq_origin = SeqOrigin::Relative;
          }
        }
        if (ack_printed) {
          if (cv.isn[o]) {
            r.ack += *cv.isn[o];
            p.ack_origin = cv.kind;
          } else {
            p.ack_origin = SeqOrigin::Relative;
          }
        }
      }
    }

    if (p.seq_origin == SeqOrigin::Unknown) {
      if (cv.next[s]) {
        r.seq = *cv.next[s];
        p.seq_origin = SeqOrigin::Inferred;
      } else {
        r.seq = 0;
      }
    }
    if (p.ack_origin == SeqOrigin::Unknown) r.ack = 0;

    const auto exact = [](SeqOrigin o2) { return is_absolute(o2) && o2 != SeqOrigin::Inferred; };
    if (exact(p.seq_origin)) advance_to(cv.next[s], r.seq + r.payload_len + (syn ? 1 : 0) + (fin ? 1 : 0), syn);
    if (exact(p.ack_origin)) advance_to(cv.next[o], r.ack, syn);
  }
}

TextCapture TcpdumpTextParser::finish() {
  if (finished_) throw std::logic_error("TcpdumpTextParser: finish() called twice");
  finished_ = true;
  if (!pending_header_.empty()) {
    skip(pending_line_, pending_header_, "-v header line without the continuation line that holds the packet");
    pending_header_.clear();
  }
  auto& st = capture_.stats;
  if (capture_.packets.empty()) {
    const std::string& src = source();
    if (st.lines == st.blank_lines) throw UsageError(fmt::format("{}: empty input, no tcpdump lines", src));
    if (!st.skipped_examples.empty()) {
      const SkippedLine& first = st.skipped_examples.front();
      throw UsageError(fmt::format("{}: no line parses as tcpdump TCP output; line {}: \"{}\": {}", src, first.line,
                                   first.excerpt, first.reason));
    }
    if (st.first_other)
      throw UsageError(fmt::format("{}: no TCP packet in this tcpdump text ({} packet lines, none TCP; line {}: \"{}\" is {})",
                                   src, st.other_packets, st.first_other->line, st.first_other->excerpt,
                                   st.first_other->reason));
    throw UsageError(fmt::format("{}: no tcpdump packet lines ({} tcpdump messages, {} continuation lines)", src,
                                 st.notice_lines, st.continuation_lines));
  }
  resolve_sequence_numbers();
  st.packets = capture_.packets.size();
  for (const auto& p : capture_.packets) {
    if (p.record.truncated) ++st.truncated;
    if (p.src_is_name || p.dst_is_name) ++st.named_hosts;
    if (p.seq_origin == SeqOrigin::Relative || p.ack_origin == SeqOrigin::Relative) ++st.relative_numbers;
  }
  return std::move(capture_);
}

TextCapture TcpdumpTextParser::parse_text(std::string_view text, TextParseOptions options) {
  TcpdumpTextParser parser(std::move(options));
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    parser.feed_line(text.substr(start, nl - start));
    start = nl + 1;
  }
  return parser.finish();
}

TextCapture TcpdumpTextParser::parse_file(const std::string& path, TextParseOptions options) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw UsageError(path + ": is a directory, not a tcpdump text file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  if (options.source_name.empty()) options.source_name = path;
  TcpdumpTextParser parser(std::move(options));
  char head[4] = {};
  in.read(head, sizeof head);
  if (auto magic = capture_magic(std::string_view(head, static_cast<std::size_t>(in.gcount()))))
    parser.throw_binary(*magic);
  in.clear();
  in.seekg(0);
  parser.feed(in);
  return parser.finish();
}

}  // namespace synscope::capture

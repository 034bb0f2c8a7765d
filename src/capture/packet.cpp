#include "capture/packet.h"

#include <charconv>

namespace synscope::capture {

namespace {

constexpr char kHex[] = "0123456789abcdef";

// Parses 1-4 hex digits; returns the end of the group or nullptr.
const char* parse_hex_group(const char* p, const char* end, std::uint16_t& out) {
  std::uint32_t v = 0;
  int digits = 0;
  for (; p != end && digits < 5; ++p, ++digits) {
    const char c = *p;
    std::uint32_t d;
    if (c >= '0' && c <= '9')
      d = static_cast<std::uint32_t>(c - '0');
    else if (c >= 'a' && c <= 'f')
      d = static_cast<std::uint32_t>(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
      d = static_cast<std::uint32_t>(c - 'A' + 10);
    else
      break;
    v = (v << 4) | d;
  }
  if (digits == 0 || digits > 4) return nullptr;
  out = static_cast<std::uint16_t>(v);
  return p;
}

// Parses a run of colon-separated groups (no "::" inside), where the last element may be a dotted
// IPv4 address (counted as two groups) when `allow_v4` is set. Returns false when malformed.
bool parse_groups(std::string_view text, bool allow_v4, std::uint16_t* groups, int& count) {
  count = 0;
  if (text.empty()) return true;
  const char* p = text.data();
  const char* end = p + text.size();
  while (true) {
    // An embedded IPv4 address must be the last element: a group with a dot and no colon after it.
    const std::string_view rest(p, static_cast<std::size_t>(end - p));
    const auto colon = rest.find(':');
    if (rest.substr(0, colon).find('.') != std::string_view::npos) {
      if (colon != std::string_view::npos) return false;
      if (!allow_v4) return false;
      auto v4 = Ipv4Addr::parse(rest);
      if (!v4 || count > 6) return false;
      groups[count++] = static_cast<std::uint16_t>(v4->value >> 16);
      groups[count++] = static_cast<std::uint16_t>(v4->value);
      return true;
    }
    if (count >= 8) return false;
    std::uint16_t g = 0;
    const char* next = parse_hex_group(p, end, g);
    if (!next) return false;
    groups[count++] = g;
    p = next;
    if (p == end) return true;
    if (*p != ':') return false;
    ++p;
    if (p == end) return false;  // trailing single colon
  }
}

}  // namespace

IpAddress IpAddress::from_v4(Ipv4Addr a) {
  IpAddress r;
  r.bytes[10] = 0xff;
  r.bytes[11] = 0xff;
  r.bytes[12] = static_cast<std::uint8_t>(a.value >> 24);
  r.bytes[13] = static_cast<std::uint8_t>(a.value >> 16);
  r.bytes[14] = static_cast<std::uint8_t>(a.value >> 8);
  r.bytes[15] = static_cast<std::uint8_t>(a.value);
  r.v6 = false;
  return r;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.find(':') == std::string_view::npos) {
    auto v4 = Ipv4Addr::parse(text);
    if (!v4) return std::nullopt;
    return from_v4(*v4);
  }
  std::uint16_t head[8], tail[8];
  int nhead = 0, ntail = 0;
  const auto dc = text.find("::");
  if (dc == std::string_view::npos) {
    if (!parse_groups(text, true, head, nhead) || nhead != 8) return std::nullopt;
  } else {
    if (text.find("::", dc + 1) != std::string_view::npos) return std::nullopt;  // at most one "::"
    const auto left = text.substr(0, dc);
    const auto right = text.substr(dc + 2);
    if (!left.empty() && left.back() == ':') return std::nullopt;  // ":::"
    if (!right.empty() && right.front() == ':') return std::nullopt;
    if (!parse_groups(left, false, head, nhead)) return std::nullopt;
    if (!parse_groups(right, true, tail, ntail)) return std::nullopt;
    if (nhead + ntail > 7) return std::nullopt;  // "::" stands for at least one group
  }
  IpAddress r;
  r.v6 = true;
  for (int i = 0; i < nhead; ++i) {
    r.bytes[2 * i] = static_cast<std::uint8_t>(head[i] >> 8);
    r.bytes[2 * i + 1] = static_cast<std::uint8_t>(head[i]);
  }
  for (int i = 0; i < ntail; ++i) {
    const int g = 8 - ntail + i;
    r.bytes[2 * g] = static_cast<std::uint8_t>(tail[i] >> 8);
    r.bytes[2 * g + 1] = static_cast<std::uint8_t>(tail[i]);
  }
  return r;
}

std::optional<Ipv4Addr> IpAddress::v4() const {
  if (v6) return std::nullopt;
  return Ipv4Addr{(std::uint32_t{bytes[12]} << 24) | (std::uint32_t{bytes[13]} << 16) |
                  (std::uint32_t{bytes[14]} << 8) | bytes[15]};
}

std::string IpAddress::str() const {
  const auto dotted = [this](std::string& s) {
    for (int i = 12; i < 16; ++i) {
      if (i > 12) s += '.';
      char buf[4];
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, bytes[i]);
      (void)ec;
      s.append(buf, end);
    }
  };
  std::string s;
  if (!v6) {
    dotted(s);
    return s;
  }
  std::uint16_t g[8];
  for (int i = 0; i < 8; ++i) g[i] = static_cast<std::uint16_t>((bytes[2 * i] << 8) | bytes[2 * i + 1]);
  // IPv4-mapped addresses print the way inet_ntop and RFC 5952 §5 do: ::ffff:a.b.c.d.
  if (g[0] == 0 && g[1] == 0 && g[2] == 0 && g[3] == 0 && g[4] == 0 && g[5] == 0xffff) {
    s = "::ffff:";
    dotted(s);
    return s;
  }
  // RFC 5952 §4.2: compress the longest run of two or more zero groups, the first one on a tie.
  int best = -1, best_len = 1;
  for (int i = 0; i < 8;) {
    if (g[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && g[j] == 0) ++j;
    if (j - i > best_len) best = i, best_len = j - i;
    i = j;
  }
  for (int i = 0; i < 8; ++i) {
    if (i == best) {
      s += "::";
      i += best_len - 1;
      continue;
    }
    if (i > 0 && !(best >= 0 && i == best + best_len)) s += ':';
    // §4.1: no leading zeros; §4.3: lowercase.
    bool started = false;
    for (int shift = 12; shift >= 0; shift -= 4) {
      const int d = (g[i] >> shift) & 0xf;
      if (d || started || shift == 0) {
        s += kHex[d];
        started = true;
      }
    }
  }
  return s;
}

}  // namespace synscope::capture

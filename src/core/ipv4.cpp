#include "core/ipv4.h"

#include <charconv>

namespace synscope {

std::string Ipv4Addr::str() const {
  return std::to_string(value >> 24) + '.' + std::to_string((value >> 16) & 0xff) + '.' +
         std::to_string((value >> 8) & 0xff) + '.' + std::to_string(value & 0xff);
}

std::optional<Ipv4Addr> Ipv4Addr::parse(std::string_view text) {
  std::uint32_t v = 0;
  const char* p = text.data();
  const char* end = text.data() + text.size();
  for (int i = 0; i < 4; ++i) {
    unsigned octet = 0;
    auto [next, ec] = std::from_chars(p, end, octet);
    if (ec != std::errc{} || next == p || octet > 255 || next - p > 3) return std::nullopt;
    v = (v << 8) | octet;
    p = next;
    if (i < 3) {
      if (p == end || *p != '.') return std::nullopt;
      ++p;
    }
  }
  if (p != end) return std::nullopt;
  return Ipv4Addr{v};
}

std::string Endpoint::str() const { return addr.str() + ':' + std::to_string(port); }

std::optional<Endpoint> Endpoint::parse(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  auto addr = Ipv4Addr::parse(text.substr(0, colon));
  if (!addr) return std::nullopt;
  unsigned port = 0;
  auto ps = text.substr(colon + 1);
  auto [next, ec] = std::from_chars(ps.data(), ps.data() + ps.size(), port);
  if (ec != std::errc{} || next != ps.data() + ps.size() || port > 65535 || ps.empty()) return std::nullopt;
  return Endpoint{*addr, static_cast<std::uint16_t>(port)};
}

}  // namespace synscope

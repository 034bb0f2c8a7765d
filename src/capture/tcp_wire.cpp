#include "capture/tcp_wire.h"

#include <algorithm>

namespace synscope::capture {


std::size_t encode_tcp_options(const TcpOptions& opts, TcpOptionBytes& out) {
  std::size_t n = 0;
  for (const auto& o : opts) {
    std::uint8_t item[2 + 8];
    std::size_t len = 0;
    const auto kind = static_cast<std::uint8_t>(o.kind);
    switch (o.kind) {
      case TcpOptionKind::Eol:
      case TcpOptionKind::Nop:
        item[0] = kind;
        len = 1;
        break;
      case TcpOptionKind::Mss:
        item[0] = kind, item[1] = 4;
        put_be16(item + 2, o.a);
        len = 4;
        break;
      case TcpOptionKind::WindowScale:
        item[0] = kind, item[1] = 3, item[2] = static_cast<std::uint8_t>(o.a);
        len = 3;
        break;
      case TcpOptionKind::SackPermitted:
        item[0] = kind, item[1] = 2;
        len = 2;
        break;
      case TcpOptionKind::Timestamp:
        item[0] = kind, item[1] = 10;
        put_be32(item + 2, o.a);
        put_be32(item + 6, o.b);
        len = 10;
        break;
      default: {  // not a kind Segment knows: see the header comment for the convention
        const std::size_t data = std::min<std::uint32_t>(o.b, 4);
        item[0] = kind;
        item[1] = static_cast<std::uint8_t>(2 + data);
        for (std::size_t i = 0; i < data; ++i) item[2 + i] = static_cast<std::uint8_t>(o.a >> (8 * (data - 1 - i)));
        len = 2 + data;
        break;
      }
    }
    if (n + len > kMaxTcpOptionBytes) break;
    std::copy(item, item + len, out.begin() + static_cast<std::ptrdiff_t>(n));
    n += len;
  }
  // Pad: the first pad byte is EOL (0) and so are the rest, which is what RFC 793 asks for.
  while (n % 4 != 0) out[n++] = 0;
  return n;
}

std::uint32_t ones_complement_add(const std::uint8_t* data, std::size_t len, std::uint32_t sum) {
  // 64-bit accumulator so long payloads need no folding inside the loop.
  std::uint64_t acc = sum;
  std::size_t i = 0;
  for (; i + 1 < len; i += 2) acc += (std::uint32_t{data[i]} << 8) | data[i + 1];
  if (i < len) acc += std::uint32_t{data[i]} << 8;  // odd trailing byte, padded with zero
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return static_cast<std::uint32_t>(acc);
}

}  // namespace synscope::capture

// NETLINK_SOCK_DIAG dump replies (parse_sock_diag_reply, what dump_tcp_sockets() runs on every
// recv() buffer): message lengths shorter or longer than the buffer, truncated inet_diag_msg,
// attribute lists (INET_DIAG_SKMEMINFO) running off the end, error messages without an errno.
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "fuzz_support.h"
#include "live/sock_diag.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // An exactly sized heap copy: aligned as recv()'s buffer is, and ASan sees any read past its end.
  std::unique_ptr<std::uint8_t[]> buf(new std::uint8_t[size ? size : 1]);
  if (size) std::memcpy(buf.get(), data, size);
  synscope::live::SocketDump out;
  try {
    (void)synscope::live::parse_sock_diag_reply(buf.get(), size, out);
  } catch (const std::runtime_error& e) {
    synscope::fuzz::check_one_line(e.what());
  }
  for (const auto& l : out.listeners) (void)l.endpoint();
  return 0;
}

// parse_sock_diag_reply: the pure half of dump_tcp_sockets(), on hand-built netlink replies —
// well-formed ones (LISTEN with INET_DIAG_SKMEMINFO, SYN_RECV, SYN_SENT, NLMSG_DONE) and the damaged
// ones fuzz/sock_diag_fuzzer.cpp explores (issue 8): an error message without its errno, an errno of
// INT_MIN (negating it was undefined), attributes and messages running off the end of the buffer.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>

#include <climits>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "live/sock_diag.h"

namespace synscope::live {
namespace {

// A reply buffer, 4-byte aligned like recv()'s, built message by message.
struct Reply {
  std::vector<std::uint32_t> words;
  std::size_t bytes = 0;

  void put(const void* p, std::size_t n) {
    words.resize((bytes + n + 3) / 4 + 1);
    if (n) std::memcpy(reinterpret_cast<char*>(words.data()) + bytes, p, n);
    bytes += n;
    bytes = (bytes + 3) / 4 * 4;  // NLMSG_ALIGN
  }
  void message(std::uint16_t type, const void* payload, std::size_t n, std::uint32_t claimed_len = 0) {
    nlmsghdr h{};
    h.nlmsg_len = claimed_len ? claimed_len : static_cast<std::uint32_t>(NLMSG_LENGTH(n));
    h.nlmsg_type = type;
    h.nlmsg_flags = NLM_F_MULTI;
    const std::size_t start = bytes;
    put(&h, sizeof h);
    bytes = start + NLMSG_HDRLEN;
    put(payload, n);
  }
  void diag(std::uint8_t state, const char* addr, std::uint16_t port, std::uint32_t rq, std::uint32_t wq,
            const std::vector<std::uint32_t>& skmem = {}) {
    std::vector<char> body(sizeof(inet_diag_msg));
    inet_diag_msg m{};
    m.idiag_family = AF_INET;
    m.idiag_state = state;
    m.idiag_rqueue = rq;
    m.idiag_wqueue = wq;
    m.idiag_inode = 4242;
    m.id.idiag_sport = htons(port);
    inet_pton(AF_INET, addr, m.id.idiag_src);
    std::memcpy(body.data(), &m, sizeof m);
    if (!skmem.empty()) {
      rtattr a{};
      a.rta_type = INET_DIAG_SKMEMINFO;
      a.rta_len = static_cast<unsigned short>(RTA_LENGTH(skmem.size() * 4));
      const std::size_t at = body.size();
      body.resize(at + RTA_SPACE(skmem.size() * 4));
      std::memcpy(body.data() + at, &a, sizeof a);
      std::memcpy(body.data() + at + RTA_LENGTH(0), skmem.data(), skmem.size() * 4);
    }
    message(SOCK_DIAG_BY_FAMILY, body.data(), body.size());
  }
  void error(int errnum) { message(NLMSG_ERROR, &errnum, sizeof errnum); }
  void done() {
    int zero = 0;
    message(NLMSG_DONE, &zero, sizeof zero);
  }
  const void* data() const { return words.data(); }
};

TEST(SockDiagParse, ListenersRequestsAndTheEndOfTheDump) {
  Reply r;
  std::vector<std::uint32_t> skmem(SK_MEMINFO_VARS, 0);
  skmem[SK_MEMINFO_DROPS] = 17;
  r.diag(10, "127.0.0.1", 8080, 3, 2, skmem);  // LISTEN, A=3 > B=2
  r.diag(3, "127.0.0.1", 8080, 0, 0);          // SYN_RECV
  r.diag(2, "10.0.0.1", 40000, 0, 0);          // SYN_SENT
  SocketDump out;
  EXPECT_FALSE(parse_sock_diag_reply(r.data(), r.bytes, out));  // no NLMSG_DONE yet: more to come
  ASSERT_EQ(out.listeners.size(), 1u);
  EXPECT_EQ(out.listeners[0].endpoint(), "127.0.0.1:8080");
  EXPECT_EQ(out.listeners[0].accept_queue, 3u);
  EXPECT_EQ(out.listeners[0].backlog, 2u);
  EXPECT_TRUE(out.listeners[0].full());
  EXPECT_EQ(out.listeners[0].drops, 17u);
  EXPECT_EQ(out.listeners[0].inode, 4242u);
  ASSERT_EQ(out.requests.size(), 1u);
  EXPECT_EQ(out.requests[0].port, 8080);
  EXPECT_EQ(out.syn_sent, 1u);
  Reply end;
  end.done();
  EXPECT_TRUE(parse_sock_diag_reply(end.data(), end.bytes, out));
  Reply enoent;  // IPv6 disabled: the family has no TCP diag, nothing to list
  enoent.error(-ENOENT);
  EXPECT_TRUE(parse_sock_diag_reply(enoent.data(), enoent.bytes, out));
}

TEST(SockDiagParse, ErrorsAreNamedAndDamagedErrorsRefused) {
  SocketDump out;
  Reply perm;
  perm.error(-EPERM);
  try {
    parse_sock_diag_reply(perm.data(), perm.bytes, out);
    FAIL() << "an error message must throw";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "sock_diag: Operation not permitted");
  }
  Reply int_min;  // found by the fuzzer: -INT_MIN is undefined
  int_min.error(INT_MIN);
  EXPECT_THROW(
      {
        try {
          parse_sock_diag_reply(int_min.data(), int_min.bytes, out);
        } catch (const std::runtime_error& e) {
          EXPECT_NE(std::string(e.what()).find("malformed netlink error message"), std::string::npos) << e.what();
          throw;
        }
      },
      std::runtime_error);
  Reply ack;  // error 0 is an acknowledgement, not the "Success" error
  ack.error(0);
  EXPECT_THROW(parse_sock_diag_reply(ack.data(), ack.bytes, out), std::runtime_error);
  Reply cut;  // an error message too short to hold its errno
  cut.message(NLMSG_ERROR, nullptr, 0);
  EXPECT_THROW(parse_sock_diag_reply(cut.data(), cut.bytes, out), std::runtime_error);
  EXPECT_TRUE(out.listeners.empty());
}

TEST(SockDiagParse, MessagesAndAttributesRunningOffTheEndAreNotRead) {
  SocketDump out;
  std::vector<std::uint32_t> skmem(SK_MEMINFO_VARS, 5);
  Reply r;
  r.diag(10, "0.0.0.0", 22, 0, 128, skmem);
  // Cut the buffer inside the SKMEMINFO attribute: the message's own length now runs past the end,
  // so NLMSG_OK refuses it and nothing is read beyond the buffer.
  EXPECT_FALSE(parse_sock_diag_reply(r.data(), r.bytes - 8, out));
  EXPECT_TRUE(out.listeners.empty());
  // A message claiming less than an inet_diag_msg is skipped; one claiming more than the buffer ends
  // the walk.
  Reply short_msg;
  const char tiny[8] = {};
  short_msg.message(SOCK_DIAG_BY_FAMILY, tiny, sizeof tiny);
  short_msg.message(SOCK_DIAG_BY_FAMILY, tiny, sizeof tiny, 1u << 20);
  EXPECT_FALSE(parse_sock_diag_reply(short_msg.data(), short_msg.bytes, out));
  EXPECT_TRUE(out.listeners.empty());
  // An attribute whose length is shorter than the drops field: no drops rather than a wrong value.
  Reply small_attr;
  small_attr.diag(10, "0.0.0.0", 23, 0, 128, {1, 2});
  EXPECT_FALSE(parse_sock_diag_reply(small_attr.data(), small_attr.bytes, out));
  ASSERT_EQ(out.listeners.size(), 1u);
  EXPECT_FALSE(out.listeners[0].drops);
  EXPECT_FALSE(parse_sock_diag_reply(nullptr, 0, out));  // an empty read
}

}  // namespace
}  // namespace synscope::live

#include "sim/nat.h"

#include <gtest/gtest.h>

#include <set>

namespace synscope::sim {
namespace {

using namespace tcp_flag;

Endpoint ep(const char* text) { return *Endpoint::parse(text); }
Ipv4Addr ip(const char* text) { return *Ipv4Addr::parse(text); }

// The seed's box: clients reach 10.85.3.51:29090, which is DNATed to the server and SNATed to the
// box's address so the server answers through it.
NatSpec seed_spec() {
  NatSpec s;
  s.host = "nat";
  s.dnat.push_back(DnatRule{ip("10.85.3.51"), 29090, ep("10.85.3.111:19090")});
  s.snat.push_back(SnatRule{ip("10.85.3.111"), 19090, ip("10.85.3.51")});
  return s;
}

Segment seg(const char* src, const char* dst, std::uint8_t flags, std::uint32_t tsval = 1000, std::uint32_t tsecr = 0) {
  Segment s;
  s.src = ep(src);
  s.dst = ep(dst);
  s.flags = flags;
  s.seq = 0x12345678;
  s.ack = (flags & ACK) ? 0x9abcdef0 : 0;
  s.window = 29200;
  if (flags & SYN) {
    s.options.mss(1460);
    s.options.sack_ok();
    s.options.timestamp(tsval, tsecr);
    s.options.nop();
    s.options.wscale(7);
  } else {
    s.options.nop();
    s.options.nop();
    s.options.timestamp(tsval, tsecr);
  }
  return s;
}

SimTime at_s(double s) { return SimTime{static_cast<std::int64_t>(s * 1e9)}; }

// The seed's NAT box plus helpers that drive whole exchanges through it.
struct Box {
  NatTable nat{seed_spec(), ip("10.85.3.51")};

  // Runs a whole handshake for `client` and returns the source the server sees.
  Endpoint connect(const char* client, double t) {
    auto syn = nat.translate(seg(client, "10.85.3.51:29090", SYN), at_s(t));
    EXPECT_TRUE(syn.has_value());
    const Endpoint seen = syn->src;
    Segment synack = seg("10.85.3.111:19090", "10.85.3.51:1", SYN | ACK);
    synack.dst = seen;
    EXPECT_TRUE(nat.translate(synack, at_s(t)).has_value());
    EXPECT_TRUE(nat.translate(seg(client, "10.85.3.51:29090", ACK), at_s(t)).has_value());
    return seen;
  }
  std::optional<Segment> from_server(Endpoint to, std::uint8_t flags, double t) {
    Segment s = seg("10.85.3.111:19090", "10.85.3.51:1", flags);
    s.dst = to;
    return nat.translate(s, at_s(t));
  }
};

TEST(NatTable, KeepsSourcePortWhenFree) {
  Box box;
  auto& nat = box.nat;
  auto out = nat.translate(seg("10.0.0.1:40000", "10.85.3.51:29090", SYN), at_s(1));
  ASSERT_TRUE(out);
  EXPECT_EQ(out->src, ep("10.85.3.51:40000"));
  EXPECT_EQ(out->dst, ep("10.85.3.111:19090"));
  EXPECT_EQ(nat.size(), 1u);
  EXPECT_EQ(nat.stats().port_changed, 0u);
}

TEST(NatTable, SameSourcePortFromDifferentClientsToDifferentServersIsKept) {
  NatSpec spec = seed_spec();
  spec.dnat.push_back(DnatRule{ip("10.85.3.51"), 29091, ep("10.85.3.112:19090")});
  spec.snat[0].match_daddr.reset();  // any destination
  NatTable t(spec, ip("10.85.3.51"));
  auto a = t.translate(seg("10.0.0.1:40000", "10.85.3.51:29090", SYN), at_s(1));
  auto b = t.translate(seg("10.0.0.2:40000", "10.85.3.51:29091", SYN), at_s(1));
  ASSERT_TRUE(a && b);
  // Uniqueness is per reply tuple, so the port may repeat towards a different server.
  EXPECT_EQ(a->src.port, 40000);
  EXPECT_EQ(b->src.port, 40000);
}

TEST(NatTable, PicksAnotherPortOnCollision) {
  Box box;
  auto& nat = box.nat;
  auto a = nat.translate(seg("10.0.0.1:40000", "10.85.3.51:29090", SYN), at_s(1));
  auto b = nat.translate(seg("10.0.0.2:40000", "10.85.3.51:29090", SYN), at_s(1));
  auto c = nat.translate(seg("10.0.0.3:40000", "10.85.3.51:29090", SYN), at_s(1));
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(a->src, ep("10.85.3.51:40000"));
  EXPECT_EQ(b->src.addr, ip("10.85.3.51"));
  EXPECT_NE(b->src.port, 40000);
  EXPECT_GE(b->src.port, 1024);
  EXPECT_NE(c->src.port, 40000);
  EXPECT_NE(c->src.port, b->src.port);
  EXPECT_EQ(nat.stats().port_changed, 2u);

  // Deterministic: a fresh table given the same packets picks the same ports.
  NatTable again(seed_spec(), ip("10.85.3.51"));
  again.translate(seg("10.0.0.1:40000", "10.85.3.51:29090", SYN), at_s(1));
  auto b2 = again.translate(seg("10.0.0.2:40000", "10.85.3.51:29090", SYN), at_s(1));
  auto c2 = again.translate(seg("10.0.0.3:40000", "10.85.3.51:29090", SYN), at_s(1));
  EXPECT_EQ(b2->src, b->src);
  EXPECT_EQ(c2->src, c->src);
}

TEST(NatTable, PrivilegedSourcePortStaysPrivilegedOnCollision) {
  Box box;
  auto& nat = box.nat;
  nat.translate(seg("10.0.0.1:800", "10.85.3.51:29090", SYN), at_s(1));
  auto b = nat.translate(seg("10.0.0.2:800", "10.85.3.51:29090", SYN), at_s(1));
  ASSERT_TRUE(b);
  EXPECT_GE(b->src.port, 600);
  EXPECT_LE(b->src.port, 1023);
  EXPECT_NE(b->src.port, 800);
}

TEST(NatTable, ReplyDirectionIsUntranslated) {
  Box box;
  auto& nat = box.nat;
  const Endpoint a = box.connect("10.0.0.1:40000", 1);
  const Endpoint b = box.connect("10.0.0.2:40000", 1);
  ASSERT_NE(a, b);
  auto to_a = box.from_server(a, ACK | PSH, 2);
  auto to_b = box.from_server(b, ACK | PSH, 2);
  ASSERT_TRUE(to_a && to_b);
  // The reverse mapping restores what each client originally addressed, and reaches the right one.
  EXPECT_EQ(to_a->src, ep("10.85.3.51:29090"));
  EXPECT_EQ(to_a->dst, ep("10.0.0.1:40000"));
  EXPECT_EQ(to_b->src, ep("10.85.3.51:29090"));
  EXPECT_EQ(to_b->dst, ep("10.0.0.2:40000"));
  EXPECT_EQ(nat.state_of(ep("10.0.0.1:40000"), ep("10.85.3.51:29090")), CtState::Established);
}

TEST(NatTable, TimestampsUntouched) {
  Box box;
  auto& nat = box.nat;
  Segment in = seg("10.0.0.1:40000", "10.85.3.51:29090", SYN, 2630890245u, 0);
  in.ttl = 61;
  in.ip_id = 777;
  auto out = nat.translate(in, at_s(1));
  ASSERT_TRUE(out);
  EXPECT_EQ(out->options, in.options);
  EXPECT_EQ(out->options.ts()->val, 2630890245u);
  EXPECT_EQ(out->seq, in.seq);
  EXPECT_EQ(out->ack, in.ack);
  EXPECT_EQ(out->window, in.window);
  EXPECT_EQ(out->flags, in.flags);
  EXPECT_EQ(out->ttl, in.ttl);
  EXPECT_EQ(out->ip_id, in.ip_id);

  // Two clients' TS clocks reach the server side by side, under one source address.
  auto other = nat.translate(seg("10.0.0.2:50000", "10.85.3.51:29090", SYN, 5u), at_s(1));
  ASSERT_TRUE(other);
  EXPECT_EQ(other->src.addr, out->src.addr);
  EXPECT_EQ(other->options.ts()->val, 5u);
}

TEST(NatTable, PayloadPassesThrough) {
  Box box;
  auto& nat = box.nat;
  box.connect("10.0.0.1:40000", 1);
  Segment data = seg("10.85.3.111:19090", "10.85.3.51:40000", ACK | PSH);
  data.payload = "SSH-2.0-OpenSSH_7.4\r\n";
  data.payload_len = static_cast<std::uint32_t>(data.payload.size());
  auto out = nat.translate(data, at_s(2));
  ASSERT_TRUE(out);
  EXPECT_EQ(out->payload, data.payload);
  EXPECT_EQ(out->payload_len, data.payload_len);
}

TEST(NatTable, EntriesExpireAfterClose) {
  Box box;
  auto& nat = box.nat;
  const Endpoint seen = box.connect("10.0.0.1:40000", 1);
  const Endpoint client = ep("10.0.0.1:40000"), vip = ep("10.85.3.51:29090");
  // Server closes first: FIN, the client ACKs and FINs, the server ACKs.
  ASSERT_TRUE(box.from_server(seen, FIN | ACK, 5));
  EXPECT_EQ(nat.state_of(client, vip), CtState::FinWait);
  ASSERT_TRUE(nat.translate(seg("10.0.0.1:40000", "10.85.3.51:29090", ACK), at_s(5)));
  EXPECT_EQ(nat.state_of(client, vip), CtState::CloseWait);
  ASSERT_TRUE(nat.translate(seg("10.0.0.1:40000", "10.85.3.51:29090", FIN | ACK), at_s(6)));
  EXPECT_EQ(nat.state_of(client, vip), CtState::LastAck);
  ASSERT_TRUE(box.from_server(seen, ACK, 6));
  EXPECT_EQ(nat.state_of(client, vip), CtState::TimeWait);
  EXPECT_EQ(nat.size(), 1u);

  nat.expire(at_s(6 + 119.9));
  EXPECT_EQ(nat.size(), 1u);
  nat.expire(at_s(6 + 120));
  EXPECT_EQ(nat.size(), 0u);
  EXPECT_FALSE(nat.state_of(client, vip));
  EXPECT_EQ(nat.stats().expired, 1u);
  // Gone both ways: a late server segment is no longer forwarded.
  EXPECT_FALSE(box.from_server(seen, ACK, 127));
}

TEST(NatTable, UnansweredSynExpiresAfterSynSentTimeout) {
  Box box;
  auto& nat = box.nat;
  ASSERT_TRUE(nat.translate(seg("10.0.0.1:40000", "10.85.3.51:29090", SYN), at_s(0)));
  // A retransmitted SYN refreshes the entry.
  ASSERT_TRUE(nat.translate(seg("10.0.0.1:40000", "10.85.3.51:29090", SYN), at_s(3)));
  nat.expire(at_s(122.9));
  EXPECT_EQ(nat.size(), 1u);
  nat.expire(at_s(123));
  EXPECT_EQ(nat.size(), 0u);
}

TEST(NatTable, ResetEntryExpiresAfterTenSeconds) {
  Box box;
  auto& nat = box.nat;
  const Endpoint seen = box.connect("10.0.0.1:40000", 1);
  ASSERT_TRUE(box.from_server(seen, RST, 2));
  EXPECT_EQ(nat.state_of(ep("10.0.0.1:40000"), ep("10.85.3.51:29090")), CtState::Close);
  nat.expire(at_s(11.9));
  EXPECT_EQ(nat.size(), 1u);
  nat.expire(at_s(12));
  EXPECT_EQ(nat.size(), 0u);
}

TEST(NatTable, EstablishedEntryLivesFiveDays) {
  Box box;
  auto& nat = box.nat;
  box.connect("10.0.0.1:40000", 0);
  nat.expire(at_s(431999));
  EXPECT_EQ(nat.size(), 1u);
  nat.expire(at_s(432000));
  EXPECT_EQ(nat.size(), 0u);
}

TEST(NatTable, NewSynReopensTimeWaitEntryAndKeepsPort) {
  Box box;
  auto& nat = box.nat;
  const Endpoint first = box.connect("10.0.0.1:40000", 1);
  ASSERT_TRUE(box.from_server(first, FIN | ACK, 2));
  ASSERT_TRUE(nat.translate(seg("10.0.0.1:40000", "10.85.3.51:29090", FIN | ACK), at_s(2)));
  ASSERT_TRUE(box.from_server(first, ACK, 2));
  ASSERT_EQ(nat.state_of(ep("10.0.0.1:40000"), ep("10.85.3.51:29090")), CtState::TimeWait);

  // Another client with the same port cannot take the TIME_WAIT entry's reply tuple ...
  auto other = nat.translate(seg("10.0.0.2:40000", "10.85.3.51:29090", SYN), at_s(3));
  ASSERT_TRUE(other);
  EXPECT_NE(other->src.port, 40000);
  // ... but the same client reusing its port replaces the entry and keeps the port.
  auto again = nat.translate(seg("10.0.0.1:40000", "10.85.3.51:29090", SYN), at_s(4));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->src, ep("10.85.3.51:40000"));
  EXPECT_EQ(nat.state_of(ep("10.0.0.1:40000"), ep("10.85.3.51:29090")), CtState::SynSent);
  EXPECT_EQ(nat.stats().reopened, 1u);
  EXPECT_EQ(nat.size(), 2u);
}

TEST(NatTable, SynOnEstablishedEntryIsForwardedUnchangedMapping) {
  Box box;
  auto& nat = box.nat;
  const Endpoint seen = box.connect("10.0.0.1:40000", 1);
  auto syn = nat.translate(seg("10.0.0.1:40000", "10.85.3.51:29090", SYN), at_s(2));
  ASSERT_TRUE(syn);
  EXPECT_EQ(syn->src, seen);
  EXPECT_EQ(nat.state_of(ep("10.0.0.1:40000"), ep("10.85.3.51:29090")), CtState::Established);
}

TEST(NatTable, NonMatchingSegmentIsNotForwarded) {
  Box box;
  auto& nat = box.nat;
  Segment out;
  // No rule for port 22 on the box: its own sshd should answer.
  EXPECT_FALSE(nat.translate(seg("10.0.0.1:40000", "10.85.3.51:22", SYN), at_s(1)));
  EXPECT_EQ(nat.process(seg("10.0.0.1:40000", "10.85.3.51:22", SYN), at_s(1), out), NatAction::NotNat);
  // Only a SYN creates a mapping: a stray ACK or SYN-ACK to the DNAT address is not forwarded.
  EXPECT_EQ(nat.process(seg("10.0.0.1:40000", "10.85.3.51:29090", ACK), at_s(1), out), NatAction::NotNat);
  EXPECT_EQ(nat.process(seg("10.0.0.1:40000", "10.85.3.51:29090", SYN | ACK), at_s(1), out), NatAction::NotNat);
  // A reply-direction segment with no mapping behind it.
  EXPECT_EQ(nat.process(seg("10.85.3.111:19090", "10.85.3.51:40000", ACK), at_s(1), out), NatAction::NotNat);
  EXPECT_EQ(nat.size(), 0u);
}

TEST(NatTable, SnatOnlyRewritesSourceOfForwardedTraffic) {
  NatSpec spec;
  spec.snat.push_back(SnatRule{std::nullopt, 0, ip("192.0.2.1")});
  NatTable t(spec, ip("192.0.2.1"));
  auto out = t.translate(seg("10.0.0.7:33000", "198.51.100.9:443", SYN), at_s(0));
  ASSERT_TRUE(out);
  EXPECT_EQ(out->src, ep("192.0.2.1:33000"));
  EXPECT_EQ(out->dst, ep("198.51.100.9:443"));
  auto back = t.translate(seg("198.51.100.9:443", "192.0.2.1:33000", SYN | ACK), at_s(0));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->dst, ep("10.0.0.7:33000"));
  // SNAT is POSTROUTING: traffic for the box itself is not rewritten.
  EXPECT_FALSE(t.translate(seg("10.0.0.7:33001", "192.0.2.1:22", SYN), at_s(0)));
}

TEST(NatTable, DnatWithoutPortKeepsDestinationPort) {
  NatSpec spec;
  spec.dnat.push_back(DnatRule{std::nullopt, 8080, Endpoint{ip("10.1.1.1"), 0}});
  NatTable t(spec, ip("10.1.1.254"));
  auto out = t.translate(seg("10.0.0.1:40000", "10.1.1.254:8080", SYN), at_s(0));
  ASSERT_TRUE(out);
  EXPECT_EQ(out->dst, ep("10.1.1.1:8080"));
  EXPECT_EQ(out->src, ep("10.0.0.1:40000"));  // no SNAT rule: the client's address is kept
}

TEST(NatTable, FirstMatchingDnatRuleWins) {
  NatSpec spec;
  spec.dnat.push_back(DnatRule{ip("10.1.1.254"), 80, ep("10.1.1.1:8080")});
  spec.dnat.push_back(DnatRule{std::nullopt, 80, ep("10.1.1.2:8080")});
  NatTable t(spec, ip("10.1.1.254"));
  EXPECT_EQ(t.translate(seg("10.0.0.1:40000", "10.1.1.254:80", SYN), at_s(0))->dst, ep("10.1.1.1:8080"));
  EXPECT_EQ(t.translate(seg("10.0.0.1:40000", "10.1.1.253:80", SYN), at_s(0))->dst, ep("10.1.1.2:8080"));
}

TEST(NatTable, DropsWhenPortSpaceIsExhausted) {
  NatTable t(seed_spec(), ip("10.85.3.51"));
  // Every client uses source port 40000; the box has 64512 unprivileged ports towards the server.
  std::set<std::uint16_t> ports;
  Segment out;
  for (std::uint32_t i = 0; i < 64512; ++i) {
    Segment s = seg("10.0.0.1:40000", "10.85.3.51:29090", SYN);
    s.src.addr.value = 0x0b000000 + i;
    ASSERT_EQ(t.process(s, at_s(1), out), NatAction::Forward) << i;
    ports.insert(out.src.port);
  }
  EXPECT_EQ(ports.size(), 64512u);
  Segment s = seg("10.0.0.1:40000", "10.85.3.51:29090", SYN);
  s.src.addr.value = 0x0c000000;
  EXPECT_EQ(t.process(s, at_s(1), out), NatAction::Drop);
  EXPECT_EQ(t.stats().dropped, 1u);
}

TEST(NatTable, ChurnKeepsTableConsistent) {
  // Many short connections, each closed with RST; after the CLOSE timeout the table is empty
  // and every mapping along the way translated back to its own client.
  NatTable t(seed_spec(), ip("10.85.3.51"));
  Segment out;
  for (std::uint32_t i = 0; i < 20000; ++i) {
    const double now = i * 0.001;
    Segment s = seg("10.0.0.1:40000", "10.85.3.51:29090", SYN);
    s.src.addr.value = 0x0a000000 + (i % 5000);
    s.src.port = static_cast<std::uint16_t>(30000 + (i * 7) % 200);
    ASSERT_EQ(t.process(s, at_s(now), out), NatAction::Forward);
    Segment reply = seg("10.85.3.111:19090", "10.85.3.51:1", RST | ACK);
    reply.dst = out.src;
    ASSERT_EQ(t.process(reply, at_s(now), out), NatAction::Forward);
    ASSERT_EQ(out.dst, s.src);
  }
  EXPECT_GT(t.size(), 0u);
  t.expire(at_s(20 + 10));
  EXPECT_EQ(t.size(), 0u);
}

TEST(NatTable, TimeGoingBackwardsIsTreatedAsLatest) {
  NatTable t(seed_spec(), ip("10.85.3.51"));
  ASSERT_TRUE(t.translate(seg("10.0.0.1:40000", "10.85.3.51:29090", SYN), at_s(100)));
  ASSERT_TRUE(t.translate(seg("10.0.0.2:40000", "10.85.3.51:29090", SYN), at_s(50)));
  t.expire(at_s(219.9));
  EXPECT_EQ(t.size(), 2u);
  t.expire(at_s(220));
  EXPECT_EQ(t.size(), 0u);
}

}  // namespace
}  // namespace synscope::sim

// SPDX-License-Identifier: GPL-2.0
/* synscope trace: the kernel side. Four programs:
 *  - syn_ingress (TC ingress, tcx or clsact): for each inbound SYN, find the socket it will hit with
 *    bpf_skc_lookup_tcp (the lookup tcp_v4_rcv does next, §2) and read the listener's queues
 *    (A, B, Q, young: §6) before the kernel decides; for a final ACK of a handshake we saw
 *    answered, read the same numbers through the request's listener (§5.1 step 7).
 *  - syn_egress (TC egress): what actually leaves: SYN-ACK (from a request, or a cookie
 *    SYN-ACK with no request behind it, §10) or RST.
 *  - syn_ingress_lo (TC ingress of a loopback device, alone): both jobs, since on lo every packet
 *    that leaves comes straight back in (the tracer attaches no egress program there).
 *  - synack_retrans (raw tracepoint tcp_retransmit_synack): the SYN-ACK timer (§5.3), which is
 *    what follows a final ACK dropped on a full accept queue (§5.2).
 * No decision is made here: userspace applies the model's rules to the numbers (model::decide_syn).
 * fentry/kprobes would see the decision itself; on kernels that refuse them (§17) this is the path. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "syn_trace_event.h"

char LICENSE[] SEC("license") = "GPL";

/* Generic kfunc (6.2+): `obj` as a read-only pointer to the BTF type `btf_id`. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;

/* Observers let the packet go on to whatever else is attached: TC_ACT_UNSPEC continues the
 * clsact filter chain, and is TCX_NEXT for tcx links. TC_ACT_OK would end the chain. */
#define TC_NEXT (-1)
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define IPPROTO_TCP_ 6
#define TCPF_FIN 0x01
#define TCPF_SYN 0x02
#define TCPF_RST 0x04
#define TCPF_ACK 0x10
#define AF_INET_ 2
#define AF_INET6_ 10

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 4 << 20);
} events SEC(".maps");

/* Wake the reader only when the buffer is filling up: it drains the buffer on its own every
 * 100 ms, and a wakeup per record (a syscall and a context switch in the reader per SYN) was most
 * of the tracer's cost under a SYN load (bench/trace_overhead.sh). */
static __always_inline __u64 wakeup_flags(void) {
  return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > (1 << 20) ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct syn_trace_config);
} trace_config SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, SYN_TRACE_STAT_COUNT);
  __type(key, __u32);
  __type(value, __u64);
} stats SEC(".maps");

/* Handshakes whose SYN-ACK we saw leave: only their ACKs are worth a socket lookup, so an
 * established connection's data costs one hash probe, not a lookup. */
struct handshake_key {
  __u8 peer[16];
  __u8 local[16];
  __u16 peer_port, local_port;
};
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, struct handshake_key);
  __type(value, __u8);
} handshakes SEC(".maps");

static __always_inline void stat_add(__u32 which) {
  __u64 *v = bpf_map_lookup_elem(&stats, &which);
  if (v) *v += 1;
}

static __always_inline struct syn_trace_config *get_config(void) {
  __u32 zero = 0;
  return bpf_map_lookup_elem(&trace_config, &zero);
}

/* One parsed TCP segment: addresses as on the wire. */
struct segment {
  __u8 family;
  __u8 flags;
  __u8 has_ts;
  __u8 saddr[16], daddr[16];
  __u16 sport, dport; /* network order */
  __u32 seq, ack_seq, tsval;
  __u32 l4, doff;               /* TCP header offset and length */
  struct bpf_sock_tuple tuple; /* inbound orientation: src = peer */
  __u32 tuple_len;
};

/* Scratch space for the TCP options: a map value, because the option walk reads at offsets
 * the verifier cannot pin down, which it allows in a map value but not on the stack. */
struct options_buf {
  __u8 b[128]; /* indices are masked to 6 bits (+3): every read stays in bounds */
};
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct options_buf);
} options_scratch SEC(".maps");

/* idx & 63, done in the register the load uses: clang would otherwise drop a mask it can prove
 * redundant from an earlier bounds check, which the verifier tracked on another register. */
static __always_inline __u32 mask63(__u32 idx) {
  asm volatile("%[v] &= 0x3f" : [v] "+r"(idx));
  return idx;
}

/* TSval from the TCP options (RFC 7323 kind 8): (1 << 32) | TSval, or 0 when absent. Bounded walk
 * over at most 40 bytes. A global (not inlined) function: the verifier checks it once, on its own,
 * instead of once for each path of each program that reaches it (the loop's states multiplied
 * the programs' verification, and the tracer's start-up, several times over). */
__attribute__((noinline)) __u64 ts_option_walk(struct __sk_buff *skb, __u32 opt_off, __u32 opt_len) {
  __u32 zero = 0;
  struct options_buf *o = bpf_map_lookup_elem(&options_scratch, &zero);
  if (!o || opt_len == 0 || opt_len > 40) return 0;
  /* (n - 1) & 63 + 1 keeps the verifier's range at [1, 64] for n in [1, 40]. */
  if (bpf_skb_load_bytes(skb, opt_off, o->b, ((opt_len - 1) & 0x3f) + 1) < 0) return 0;
  __u32 i = 0;
  for (int n = 0; n < 20; n++) {
    if (i >= opt_len || i >= 40) return 0;
    __u8 kind = o->b[mask63(i)];
    if (kind == 0) return 0;
    if (kind == 1) { i++; continue; }
    __u8 len = o->b[mask63(i + 1)];
    if (len < 2) return 0;
    if (kind == 8 && len == 10 && i + 10 <= opt_len) {
      __u32 j = mask63(i + 2);
      return (1ULL << 32) | ((__u32)o->b[j] << 24) | ((__u32)o->b[j + 1] << 16) | ((__u32)o->b[j + 2] << 8) |
             (__u32)o->b[j + 3];
    }
    i += len;
  }
  return 0;
}

/* The SYN's TSval: first where a Linux client puts it (MSS at option byte 0, SACK-permitted at 4,
 * the timestamp option at 6: kinds and lengths checked, read by direct packet access, no helper
 * call), else by walking the options. */
static __always_inline void parse_ts(struct __sk_buff *skb, __u32 opt_off, __u32 opt_len, struct segment *s) {
  void *data = (void *)(long)skb->data;
  void *end = (void *)(long)skb->data_end;
  if (opt_len >= 16 && opt_off <= 128) {
    const __u8 *o = data + (opt_off & 0xff);
    if ((const void *)(o + 16) <= end && o[0] == 2 && o[1] == 4 && o[6] == 8 && o[7] == 10) {
      s->tsval = ((__u32)o[8] << 24) | ((__u32)o[9] << 16) | ((__u32)o[10] << 8) | (__u32)o[11];
      s->has_ts = 1;
      return;
    }
  }
  __u64 ts = ts_option_walk(skb, opt_off, opt_len);
  if (ts >> 32) {
    s->tsval = (__u32)ts;
    s->has_ts = 1;
  }
}

/* Copy `len` header bytes at `off`: straight from the linear data when they are there (the common
 * case: the stack keeps protocol headers linear), else through bpf_skb_load_bytes. The helper call
 * per header was a measurable share of the per-packet cost on a loopback SYN load. */
static __always_inline int load_header(struct __sk_buff *skb, __u32 off, void *dst, __u32 len) {
  void *data = (void *)(long)skb->data;
  void *end = (void *)(long)skb->data_end;
  if (off <= 128 && data + off + len <= end) {
    __builtin_memcpy(dst, data + (off & 0xff), len);
    return 0;
  }
  return bpf_skb_load_bytes(skb, off, dst, len);
}

/* Addresses, ports, sequence numbers and flags (the TSval is read separately, for SYNs only). */
static __always_inline int parse_segment(struct __sk_buff *skb, struct segment *s) {
  __u32 l4 = 0;
  if (skb->protocol == bpf_htons(ETH_P_IP)) {
    struct iphdr ip;
    if (load_header(skb, 14, &ip, sizeof(ip)) < 0) return -1;
    if (ip.protocol != IPPROTO_TCP_ || ip.ihl < 5) return -1;
    if (ip.frag_off & bpf_htons(0x3fff)) return -1; /* fragments: not a SYN we can read */
    s->family = 4;
    __builtin_memcpy(s->saddr, &ip.saddr, 4);
    __builtin_memcpy(s->daddr, &ip.daddr, 4);
    l4 = 14 + ip.ihl * 4;
  } else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
    struct ipv6hdr ip6;
    if (load_header(skb, 14, &ip6, sizeof(ip6)) < 0) return -1;
    if (ip6.nexthdr != IPPROTO_TCP_) return -1; /* extension headers: not followed */
    s->family = 6;
    __builtin_memcpy(s->saddr, &ip6.saddr, 16);
    __builtin_memcpy(s->daddr, &ip6.daddr, 16);
    l4 = 14 + sizeof(ip6);
  } else {
    return -1;
  }
  struct tcphdr th;
  if (load_header(skb, l4, &th, sizeof(th)) < 0) return -1;
  s->sport = th.source;
  s->dport = th.dest;
  s->seq = bpf_ntohl(th.seq);
  s->ack_seq = bpf_ntohl(th.ack_seq);
  s->flags = ((__u8 *)&th)[13];
  s->l4 = l4;
  s->doff = th.doff * 4;
  return 0;
}

/* The lookup tuple for a segment travelling towards this host: src = peer. */
static __always_inline void set_tuple(struct segment *s, const __u8 *peer, __u16 peer_port, const __u8 *local, __u16 local_port) {
  if (s->family == 4) {
    __builtin_memcpy(&s->tuple.ipv4.saddr, peer, 4);
    __builtin_memcpy(&s->tuple.ipv4.daddr, local, 4);
    s->tuple.ipv4.sport = peer_port;
    s->tuple.ipv4.dport = local_port;
    s->tuple_len = sizeof(s->tuple.ipv4);
  } else {
    __builtin_memcpy(s->tuple.ipv6.saddr, peer, 16);
    __builtin_memcpy(s->tuple.ipv6.daddr, local, 16);
    s->tuple.ipv6.sport = peer_port;
    s->tuple.ipv6.dport = local_port;
    s->tuple_len = sizeof(s->tuple.ipv6);
  }
}

static __always_inline __u8 found_of(__u32 state) {
  switch (state) {
    case 1: return SYN_TRACE_FOUND_ESTABLISHED;
    case 6: return SYN_TRACE_FOUND_TIME_WAIT;
    case 10: return SYN_TRACE_FOUND_LISTEN;
    case 12: return SYN_TRACE_FOUND_NEW_SYN_RECV;
    default: return SYN_TRACE_FOUND_OTHER;
  }
}

/* A, B, Q, young and the bound address of a listening socket (§6, §13), read with CO-RE probe
 * reads: for the raw tracepoint, whose arguments are plain pointers. The request queue lives in
 * inet_connection_sock, which tcp_sock embeds. */
static __always_inline void read_listener(const struct sock *lsk, struct syn_trace_event *e) {
  const struct inet_connection_sock *icsk = (const struct inet_connection_sock *)lsk;
  e->accept_queue = BPF_CORE_READ(lsk, sk_ack_backlog);
  e->backlog = BPF_CORE_READ(lsk, sk_max_ack_backlog);
  e->syn_queue = BPF_CORE_READ(icsk, icsk_accept_queue.qlen.counter);
  e->young = BPF_CORE_READ(icsk, icsk_accept_queue.young.counter);
  e->listener_port = BPF_CORE_READ(lsk, __sk_common.skc_num);
  if (BPF_CORE_READ(lsk, __sk_common.skc_family) == AF_INET6_) {
    BPF_CORE_READ_INTO(&e->listener_addr, lsk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
  } else {
    __u32 a = BPF_CORE_READ(lsk, __sk_common.skc_rcv_saddr);
    __builtin_memcpy(e->listener_addr, &a, 4);
  }
  e->listener_known = 1;
}

/* The same numbers through a BTF pointer (what bpf_skc_to_tcp_sock gives syn_ingress for a
 * SYN that finds its listener): plain loads the verifier guards, instead of one probe-read helper call
 * per field, on the per-SYN path. */
static __always_inline void read_listener_btf(struct sock *lsk, struct syn_trace_event *e) {
  struct inet_connection_sock *icsk = (struct inet_connection_sock *)lsk;
  e->accept_queue = lsk->sk_ack_backlog;
  e->backlog = lsk->sk_max_ack_backlog;
  e->syn_queue = icsk->icsk_accept_queue.qlen.counter;
  e->young = icsk->icsk_accept_queue.young.counter;
  e->listener_port = lsk->__sk_common.skc_num;
  if (lsk->__sk_common.skc_family == AF_INET6_) {
    __builtin_memcpy(e->listener_addr, lsk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8, 16);
  } else {
    __u32 a = lsk->__sk_common.skc_rcv_saddr;
    __builtin_memcpy(e->listener_addr, &a, 4);
  }
  e->listener_known = 1;
}

static __always_inline void fill_common(struct syn_trace_event *e, __u8 kind, const struct segment *s, int inbound) {
  e->ts_ns = bpf_ktime_get_ns();
  e->kind = kind;
  e->family = s->family;
  e->tcp_flags = s->flags;
  e->has_ts = s->has_ts;
  e->tsval = s->tsval;
  e->seq = s->seq;
  e->ack_seq = s->ack_seq;
  if (inbound) {
    __builtin_memcpy(e->peer_addr, s->saddr, 16);
    __builtin_memcpy(e->local_addr, s->daddr, 16);
    e->peer_port = s->sport;
    e->local_port = s->dport;
  } else {
    __builtin_memcpy(e->peer_addr, s->daddr, 16);
    __builtin_memcpy(e->local_addr, s->saddr, 16);
    e->peer_port = s->dport;
    e->local_port = s->sport;
  }
}

static __always_inline void key_of(struct handshake_key *k, const __u8 *peer, __u16 peer_port, const __u8 *local, __u16 local_port) {
  __builtin_memcpy(k->peer, peer, 16);
  __builtin_memcpy(k->local, local, 16);
  k->peer_port = peer_port;
  k->local_port = local_port;
}

/* The port filter, in network order (0 = every port). */
static __always_inline __u16 filter_port(void) {
  struct syn_trace_config *cfg = get_config();
  return cfg ? bpf_htons(cfg->port) : 0;
}

/* A SYN-ACK or an RST: an answer, which inbound (on a device other than lo) comes from a remote
 * server to one of our own connect()s, and outbound (or back in on lo) from one of our ports. */
static __always_inline int is_answer(__u8 flags) {
  return (flags & TCPF_RST) || (flags & (TCPF_SYN | TCPF_ACK)) == (TCPF_SYN | TCPF_ACK);
}

/* A segment arriving at a local port that is not an answer: a SYN, or an ACK of a handshake we saw
 * answered. For those to the traced port: find the socket the kernel's own lookup will find (§2
 * step 3), read the listener's numbers, and record them. */
static __always_inline int trace_inbound(struct __sk_buff *skb, struct segment *s) {
  if (!(s->flags & (TCPF_SYN | TCPF_ACK))) return TC_NEXT;
  __u16 port = filter_port();
  if (port && s->dport != port) return TC_NEXT;
  int is_syn = !(s->flags & TCPF_ACK);
  struct handshake_key k = {};
  if (is_syn) {
    if (s->doff > 20) parse_ts(skb, s->l4 + 20, s->doff - 20, s);
  } else {
    key_of(&k, s->saddr, s->sport, s->daddr, s->dport);
    if (!bpf_map_lookup_elem(&handshakes, &k)) return TC_NEXT;
  }
  stat_add(SYN_TRACE_STAT_SEEN);

  set_tuple(s, s->saddr, s->sport, s->daddr, s->dport);
  struct bpf_sock *sk = bpf_skc_lookup_tcp(skb, &s->tuple, s->tuple_len, BPF_F_CURRENT_NETNS, 0);
  __u8 found = SYN_TRACE_FOUND_NONE;
  struct syn_trace_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
  if (!e) {
    stat_add(SYN_TRACE_STAT_LOST);
    if (sk) bpf_sk_release(sk);
    return TC_NEXT;
  }
  __builtin_memset(e, 0, sizeof(*e));
  fill_common(e, is_syn ? SYN_TRACE_SYN_IN : SYN_TRACE_ACK_IN, s, 1);
  if (sk) {
    found = found_of(sk->state);
    if (found == SYN_TRACE_FOUND_LISTEN) {
      struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);
      if (tp) read_listener_btf((struct sock *)tp, e);
    } else if (found == SYN_TRACE_FOUND_NEW_SYN_RECV) {
      struct tcp_request_sock *treq = bpf_skc_to_tcp_request_sock(sk);
      if (treq) {
        /* skc_listener sits in a union, which the verifier reads as a plain number, not a
         * pointer it can follow: bpf_rdonly_cast makes it one it can read through with plain
         * (fault-tolerant) loads, instead of one probe-read helper call per field. */
        struct tcp_sock *lsk = bpf_rdonly_cast((void *)treq->req.req.__req_common.skc_listener,
                                               bpf_core_type_id_kernel(struct tcp_sock)); /* a TCP listener */
        if (lsk) read_listener_btf((struct sock *)lsk, e);
      }
    }
    bpf_sk_release(sk);
  }
  e->found = found;
  if (!is_syn) {
    /* Forget the handshake once this ACK ends it, so the table holds only handshakes in flight
     * (an LRU insert that must evict costs several times one that finds a free slot): when the
     * child exists or nothing is there, or when the accept queue has room, so that this ACK
     * creates the child under every profile's rule (§5.1 step 7, §14). A final ACK that meets a
     * full queue keeps the entry: the client's next ACK is the one to watch (§5.2), and a
     * retransmitted SYN-ACK puts the entry back in any case (trace_outbound). */
    int over = found != SYN_TRACE_FOUND_NEW_SYN_RECV && found != SYN_TRACE_FOUND_LISTEN;
    if (over || (e->listener_known && e->accept_queue < e->backlog)) bpf_map_delete_elem(&handshakes, &k);
    if (over) {
      bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP); /* the handshake is over: report nothing */
      return TC_NEXT;
    }
  }
  bpf_ringbuf_submit(e, wakeup_flags());
  return TC_NEXT;
}

/* An answer this host sends (SYN-ACK or RST) from the traced port, seen leaving (syn_egress) or, on
 * a loopback device, arriving back (syn_ingress_lo). `owner` is the socket that sent it when the
 * hook still sees it: at egress a normal SYN-ACK carries its request sock as skb->sk; at loopback
 * ingress the skb has been orphaned on its way through the device, so `owner` is NULL and the
 * lookup answers. */
static __always_inline int trace_outbound(struct __sk_buff *skb, struct segment *s, struct bpf_sock *owner) {
  __u16 port = filter_port();
  if (port && s->sport != port) return TC_NEXT;
  int synack = (s->flags & (TCPF_SYN | TCPF_ACK)) == (TCPF_SYN | TCPF_ACK);
  stat_add(SYN_TRACE_STAT_SEEN);
  struct syn_trace_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
  if (!e) {
    stat_add(SYN_TRACE_STAT_LOST);
    return TC_NEXT;
  }
  __builtin_memset(e, 0, sizeof(*e));
  fill_common(e, synack ? SYN_TRACE_SYNACK_OUT : SYN_TRACE_RST_OUT, s, 0);
  if (synack) {
    /* A request in ehash behind this SYN-ACK means a queued request; only the listener means a
     * cookie (§10: cookie mode keeps no request; 4.4+ insert the request before sending the
     * SYN-ACK, §3.4, so it is there when the SYN-ACK is seen, at egress or back at loopback
     * ingress, before the client can have answered it). The lookup uses the tuple as the server
     * sees it (src = peer), exactly as the kernel will for the client's ACK (§2 step 3). */
    if (owner && owner->state == SYN_TRACE_FOUND_NEW_SYN_RECV) {
      e->found = SYN_TRACE_FOUND_NEW_SYN_RECV;
    } else {
      set_tuple(s, s->daddr, s->dport, s->saddr, s->sport);
      struct bpf_sock *sk = bpf_skc_lookup_tcp(skb, &s->tuple, s->tuple_len, BPF_F_CURRENT_NETNS, 0);
      if (sk) {
        e->found = found_of(sk->state);
        bpf_sk_release(sk);
      }
    }
    struct handshake_key k = {};
    key_of(&k, s->daddr, s->dport, s->saddr, s->sport);
    __u8 one = 1;
    bpf_map_update_elem(&handshakes, &k, &one, BPF_ANY);
  }
  bpf_ringbuf_submit(e, wakeup_flags());
  return TC_NEXT;
}

SEC("tc")
int syn_ingress(struct __sk_buff *skb) {
  struct segment s = {};
  if (parse_segment(skb, &s) < 0 || is_answer(s.flags)) return TC_NEXT; /* answers to our own connect()s */
  return trace_inbound(skb, &s);
}

SEC("tc")
int syn_egress(struct __sk_buff *skb) {
  struct segment s = {};
  if (parse_segment(skb, &s) < 0 || !is_answer(s.flags)) return TC_NEXT;
  return trace_outbound(skb, &s, skb->sk);
}

/* The one program on a loopback device (IFF_LOOPBACK). Every segment sent through lo egress comes
 * back through lo ingress (the device hands it straight to the receive path), so a second program at
 * egress would see each packet twice over for nothing. Here, at ingress:
 *  - SYN, and ACKs of handshakes in flight: the inbound side, as syn_ingress (dest = local port);
 *  - SYN-ACK and RST: on lo these are all this host's own answers, just after they left (a
 *    remote server's SYN-ACK arrives on another device): the outbound side, as syn_egress
 *    (source = local port), with a lookup for the SYN-ACK's request sock, since the device
 *    orphaned the skb on its way through (skb->sk is not the request here). */
SEC("tc")
int syn_ingress_lo(struct __sk_buff *skb) {
  struct segment s = {};
  if (parse_segment(skb, &s) < 0) return TC_NEXT;
  return is_answer(s.flags) ? trace_outbound(skb, &s, NULL) : trace_inbound(skb, &s);
}

/* tcp:tcp_retransmit_synack(const struct sock *sk, const struct request_sock *req) */
SEC("raw_tp/tcp_retransmit_synack")
int BPF_PROG(synack_retrans, const struct sock *sk, const struct request_sock *req) {
  struct syn_trace_config *cfg = get_config();
  __u32 ino = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
  if (cfg && cfg->netns_ino && ino != cfg->netns_ino) return 0;
  __u16 lport = BPF_CORE_READ(req, __req_common.skc_num);
  if (cfg && cfg->port && lport != cfg->port) return 0;
  struct syn_trace_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
  if (!e) {
    stat_add(SYN_TRACE_STAT_LOST);
    return 0;
  }
  __builtin_memset(e, 0, sizeof(*e));
  e->ts_ns = bpf_ktime_get_ns();
  e->kind = SYN_TRACE_SYNACK_RETRANS;
  e->netns_ino = ino;
  __u16 fam = BPF_CORE_READ(req, __req_common.skc_family);
  if (fam == AF_INET6_) {
    e->family = 6;
    BPF_CORE_READ_INTO(&e->peer_addr, req, __req_common.skc_v6_daddr.in6_u.u6_addr8);
    BPF_CORE_READ_INTO(&e->local_addr, req, __req_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
  } else {
    e->family = 4;
    __u32 d = BPF_CORE_READ(req, __req_common.skc_daddr);
    __u32 l = BPF_CORE_READ(req, __req_common.skc_rcv_saddr);
    __builtin_memcpy(e->peer_addr, &d, 4);
    __builtin_memcpy(e->local_addr, &l, 4);
  }
  e->peer_port = BPF_CORE_READ(req, __req_common.skc_dport);
  e->local_port = bpf_htons(lport);
  read_listener(sk, e);
  bpf_ringbuf_submit(e, wakeup_flags());
  return 0;
}

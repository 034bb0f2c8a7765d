/* The record the BPF programs (syn_trace.bpf.c) hand to userspace through the ring buffer, and
 * the configuration they read. Shared by the BPF C source and the C++ tracer, so plain C with
 * fixed-width kernel types only. Addresses and ports are as on the wire (network order) except
 * where a field says otherwise. */
#ifndef SYNSCOPE_SYN_TRACE_EVENT_H
#define SYNSCOPE_SYN_TRACE_EVENT_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* What the programs saw. The prediction (which rule of the listen path decides) is made in
 * userspace from these numbers with the model's own rules (model::decide_syn, §3, §14). */
enum syn_trace_kind {
  SYN_TRACE_SYN_IN = 1,         /* TC ingress: SYN (no ACK) for a local port */
  SYN_TRACE_ACK_IN = 2,         /* TC ingress: ACK of a handshake we saw answered (final ACK, re-ACK, cookie ACK) */
  SYN_TRACE_SYNACK_OUT = 3,     /* TC egress: SYN-ACK leaving; `found` says request (normal) or listener (cookie) */
  SYN_TRACE_RST_OUT = 4,        /* TC egress: RST leaving a local port */
  SYN_TRACE_SYNACK_RETRANS = 5, /* raw tracepoint tcp:tcp_retransmit_synack (§5.3) */
};

/* What bpf_skc_lookup_tcp found for the segment's 4-tuple (kernel TCP states, include/net/tcp_states.h). */
enum syn_trace_found {
  SYN_TRACE_FOUND_NONE = 0,
  SYN_TRACE_FOUND_ESTABLISHED = 1,
  SYN_TRACE_FOUND_TIME_WAIT = 6,
  SYN_TRACE_FOUND_LISTEN = 10,
  SYN_TRACE_FOUND_NEW_SYN_RECV = 12,
  SYN_TRACE_FOUND_OTHER = 255,
};

struct syn_trace_event {
  __u64 ts_ns;            /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
  __u8 kind;              /* enum syn_trace_kind */
  __u8 family;            /* 4 or 6 */
  __u8 found;             /* enum syn_trace_found */
  __u8 tcp_flags;         /* byte 13 of the TCP header */
  __u8 has_ts;            /* the segment carried a timestamp option */
  __u8 listener_known;    /* the listener's queue numbers below were read */
  __u16 pad0;
  /* Peer and local end, whatever the direction of the segment. Network order. */
  __u8 peer_addr[16];
  __u8 local_addr[16];
  __u16 peer_port;        /* network order */
  __u16 local_port;       /* network order */
  __u32 seq;              /* host order */
  __u32 ack_seq;          /* host order */
  __u32 tsval;            /* host order, when has_ts */
  /* The listener (§6): A = sk_ack_backlog, B = sk_max_ack_backlog, Q = request queue qlen,
   * Y = young requests. Read in the instant before the kernel handles the segment. */
  __u32 accept_queue;
  __u32 backlog;
  __u32 syn_queue;
  __u32 young;
  __u8 listener_addr[16]; /* the listener's bound address (0.0.0.0 / :: for a wildcard) */
  __u16 listener_port;    /* host order */
  __u16 pad1;
  __u32 netns_ino;        /* raw tracepoint only: the listener's network namespace */
};

struct syn_trace_config {
  __u16 port;             /* host order; 0 = every local port */
  __u16 pad;
  __u32 netns_ino;        /* namespace the raw tracepoint reports (0 = all) */
};

/* Per-CPU counters the programs keep about themselves. */
enum syn_trace_stat {
  SYN_TRACE_STAT_LOST = 0,      /* ring buffer full: event not delivered */
  SYN_TRACE_STAT_SEEN = 1,      /* segments that passed the port filter */
  SYN_TRACE_STAT_COUNT = 2,
};

#endif

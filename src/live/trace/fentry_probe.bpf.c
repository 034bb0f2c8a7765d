// SPDX-License-Identifier: GPL-2.0
/* Start-up probe: does this kernel let us load a BPF tracing program (fentry) on the listen path?
 * If it loads, fentry could see conn_request's own decision; §17 records that 6.18 here refuses it
 * (EPERM), which is why the tracer's working path is TC + a raw tracepoint (syn_trace.bpf.c). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("fentry/tcp_conn_request")
int BPF_PROG(probe_conn_request) {
  return 0;
}

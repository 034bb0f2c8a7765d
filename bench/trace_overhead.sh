#!/usr/bin/env bash
# Whole-process cost of `synscope trace` on a SYN load, measured in one run: the connection rate a
# loopback server sustains (connect / accept / close, bench/trace_syn_load.c) in a network namespace
# of its own, with and without `synscope trace --netns NS --port P` attached, alternating (which goes
# first alternates too) for --rounds rounds. Every connection is a SYN the tracer looks up, predicts,
# and confirms from its SYN-ACK, plus a final ACK: the full per-SYN path. The tracer's own CPU counts
# (it shares the machine's cores with the load), and its output goes to /dev/null.
#
# Prints each round with its ratio, the median rates, and the median of the per-round ratios (the
# headline: the two runs of a round share the machine of the moment) against the issue's target:
#
#   traced rate >= 0.95 x untraced rate   (cost < 5 %)
#
# --mode top (default) prints live tables (what one runs on a busy server); --mode events prints one
# line per segment, --mode json one JSON object per segment. Needs root (namespace, BPF).
# Exit status 0 when the target is met, 1 when it is missed, 2 on error.
#
# usage: bench/trace_overhead.sh [--rounds R] [--seconds S] [--clients C] [--mode top|events|json]
#                                [--build DIR] [--no-build]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build-trace}
ROUNDS=5
SECONDS_PER_RUN=4
CLIENTS=1
MODE=top
DO_BUILD=1
PORT=9099

die() { echo "trace_overhead: $*" >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --rounds) ROUNDS=$2; shift 2 ;;
    --seconds) SECONDS_PER_RUN=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    --mode) MODE=$2; shift 2 ;;
    --build) BUILD=$2; shift 2 ;;
    --no-build) DO_BUILD=0; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
[[ $ROUNDS -ge 1 ]] || die "--rounds must be at least 1"
case $MODE in top) MODE_FLAG=--top ;; events) MODE_FLAG= ;; json) MODE_FLAG=--json ;; *) die "--mode top|events|json" ;; esac
[[ $(id -u) -eq 0 ]] || die "needs root (a network namespace and BPF programs)"

if [[ $DO_BUILD == 1 ]]; then
  [[ -f $BUILD/CMakeCache.txt ]] || cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSYNSCOPE_BENCH=OFF >/dev/null
  cmake --build "$BUILD" --target synscope --parallel 2 >/dev/null || die "build failed (cmake --build $BUILD --target synscope)"
fi
SYNSCOPE=$BUILD/synscope
[[ -x $SYNSCOPE ]] || die "no $SYNSCOPE"

TMP=$(mktemp -d)
NS=synscope-bench-$$
TRACER=
cleanup() {
  [[ -n $TRACER ]] && kill -INT "$TRACER" 2>/dev/null && wait "$TRACER" 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
cc -O2 -pthread "$ROOT/bench/trace_syn_load.c" -o "$TMP/trace_syn_load" || die "cannot compile bench/trace_syn_load.c"
ip netns add "$NS" || die "ip netns add $NS failed"
ip -n "$NS" link set lo up

load() { ip netns exec "$NS" "$TMP/trace_syn_load" "$PORT" "$SECONDS_PER_RUN" "$CLIENTS" | sed -n 's/.*rate=\([0-9]*\).*/\1/p'; }

traced_load() {
  # shellcheck disable=SC2086
  "$SYNSCOPE" trace --netns "$NS" --port "$PORT" $MODE_FLAG >"$TMP/trace.out" 2>"$TMP/trace.err" &
  TRACER=$!
  for _ in $(seq 600); do grep -q '^synscope trace:' "$TMP/trace.err" 2>/dev/null && break; sleep 0.05; done  # loading the programs takes seconds on a busy machine
  grep -q '^synscope trace:' "$TMP/trace.err" || die "the tracer did not start: $(cat "$TMP/trace.err")"
  local rate
  rate=$(load)
  kill -INT "$TRACER"
  wait "$TRACER" || die "the tracer failed: $(cat "$TMP/trace.err")"
  TRACER=
  local traced
  traced=$(sed -n 's/^traced \([0-9]*\) handshake segments.*/\1/p' "$TMP/trace.out")
  echo "$rate $traced"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo "# trace_overhead: $ROUNDS rounds x ${SECONDS_PER_RUN}s, $CLIENTS client thread(s), trace mode $MODE, $(nproc) CPUs, kernel $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
head -1 "$TMP/trace.err" 2>/dev/null || true
plain=() traced=()
for ((r = 1; r <= ROUNDS; r++)); do
  if ((r % 2)); then
    p=$(load); read -r t n < <(traced_load)
  else
    read -r t n < <(traced_load); p=$(load)
  fi
  [[ -n $p && -n $t ]] || die "round $r: no rate measured"
  plain+=("$p") traced+=("$t")
  printf 'round %d: untraced %8d conn/s   traced %8d conn/s   ratio %s   (%s segments traced)\n' "$r" "$p" "$t" \
    "$(awk -v t="$t" -v p="$p" 'BEGIN {printf "%.3f", t / p}')" "${n:-?}"
done
head -1 "$TMP/trace.err"
mp=$(printf '%s\n' "${plain[@]}" | median)
mt=$(printf '%s\n' "${traced[@]}" | median)
# The headline is the median of the per-round ratios: the two runs of a round are back to back
# and share the machine's state of the moment, which the medians of the two columns do not.
pr=$(for ((i = 0; i < ROUNDS; i++)); do awk -v t="${traced[i]}" -v p="${plain[i]}" 'BEGIN {printf "%.4f\n", t / p}'; done | median)
ratio=$(awk -v r="$pr" 'BEGIN {printf "%.3f", r}')
cost=$(awk -v r="$pr" 'BEGIN {printf "%.1f", (1 - r) * 100}')
echo "medians: untraced $mp conn/s, traced $mt conn/s (ratio of medians $(awk -v t="$mt" -v p="$mp" 'BEGIN {printf "%.3f", t / p}'))"
echo "median of per-round ratios: $ratio (cost $cost %), target >= 0.95; load average now $(cut -d' ' -f1-3 /proc/loadavg)"
awk -v r="$ratio" 'BEGIN {exit !(r >= 0.95)}' && exit 0 || exit 1

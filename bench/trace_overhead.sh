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
# line per segment, --mode json one JSON object per segment. --trace-args 'ARGS' adds arguments to
# the tracer (e.g. --loopback-egress: both TC programs on lo, the design before issue 6).
# --compare 'ARGS' runs a second traced variant (the tracer with ARGS) in every round as well, the
# three runs of a round in rotating order, and reports both variants' ratios to the same untraced
# runs: the way to compare two variants on this machine, whose speed drifts. Needs root.
# Exit status 0 when the target is met (by the first variant), 1 when it is missed, 2 on error.
#
# usage: bench/trace_overhead.sh [--rounds R] [--seconds S] [--clients C] [--mode top|events|json]
#                                [--trace-args ARGS] [--compare ARGS] [--build DIR] [--no-build]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build-trace}
ROUNDS=5
SECONDS_PER_RUN=4
CLIENTS=1
MODE=top
DO_BUILD=1
PORT=9099
TRACE_ARGS=
COMPARE=
HAVE_COMPARE=0

die() { echo "trace_overhead: $*" >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --rounds) ROUNDS=$2; shift 2 ;;
    --seconds) SECONDS_PER_RUN=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    --mode) MODE=$2; shift 2 ;;
    --trace-args) TRACE_ARGS=$2; shift 2 ;;
    --compare) COMPARE=$2; HAVE_COMPARE=1; shift 2 ;;
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

traced_load() {  # traced_load 'EXTRA TRACER ARGS'
  # shellcheck disable=SC2086
  "$SYNSCOPE" trace --netns "$NS" --port "$PORT" $MODE_FLAG $1 >"$TMP/trace.out" 2>"$TMP/trace.err" &
  TRACER=$!
  local deadline=$(($(date +%s) + 60))  # loading the programs takes seconds on a busy machine
  while ! grep -q '^synscope trace:' "$TMP/trace.err" 2>/dev/null && kill -0 "$TRACER" 2>/dev/null && (($(date +%s) < deadline)); do
    sleep 0.05
  done
  if ! grep -q '^synscope trace:' "$TMP/trace.err"; then
    local alive=exited
    if kill -0 "$TRACER" 2>/dev/null; then
      alive="still running after 60 s, in $(cat /proc/"$TRACER"/task/*/wchan 2>/dev/null | tr '\n' ' ')"
      kill -KILL "$TRACER"  # its tcx links go with it
    fi
    die "the tracer did not start ($alive): $(cat "$TMP/trace.err")"
  fi
  local rate
  rate=$(load)
  kill -INT "$TRACER"
  wait "$TRACER" || die "the tracer failed: $(cat "$TMP/trace.err")"
  TRACER=
  local traced
  traced=$(sed -n 's/^traced \([0-9]*\) handshake segments.*/\1/p' "$TMP/trace.out")
  head -1 "$TMP/trace.err" >"$TMP/startup.$2"
  echo "$rate $traced"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo "# trace_overhead: $ROUNDS rounds x ${SECONDS_PER_RUN}s, $CLIENTS client thread(s), trace mode $MODE, $(nproc) CPUs, kernel $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# variant A: synscope trace --netns NS --port $PORT $MODE_FLAG $TRACE_ARGS"
[[ $HAVE_COMPARE == 1 ]] && echo "# variant B: synscope trace --netns NS --port $PORT $MODE_FLAG $COMPARE"
plain=() traced=() other=()
ratio() { awk -v t="$1" -v p="$2" 'BEGIN {printf "%.3f", t / p}'; }
for ((r = 1; r <= ROUNDS; r++)); do
  b= nb=
  if [[ $HAVE_COMPARE == 0 ]]; then
    if ((r % 2)); then
      p=$(load); read -r t n < <(traced_load "$TRACE_ARGS" A)
    else
      read -r t n < <(traced_load "$TRACE_ARGS" A); p=$(load)
    fi
  else
    # Rotate the order of the three runs, so that none of them always follows another.
    case $((r % 6)) in
      1) p=$(load); read -r t n < <(traced_load "$TRACE_ARGS" A); read -r b nb < <(traced_load "$COMPARE" B) ;;
      2) read -r b nb < <(traced_load "$COMPARE" B); read -r t n < <(traced_load "$TRACE_ARGS" A); p=$(load) ;;
      3) read -r t n < <(traced_load "$TRACE_ARGS" A); p=$(load); read -r b nb < <(traced_load "$COMPARE" B) ;;
      4) read -r b nb < <(traced_load "$COMPARE" B); p=$(load); read -r t n < <(traced_load "$TRACE_ARGS" A) ;;
      5) read -r t n < <(traced_load "$TRACE_ARGS" A); read -r b nb < <(traced_load "$COMPARE" B); p=$(load) ;;
      0) p=$(load); read -r b nb < <(traced_load "$COMPARE" B); read -r t n < <(traced_load "$TRACE_ARGS" A) ;;
    esac
    [[ -n $b ]] || die "round $r: no rate measured for variant B"
    other+=("$b")
  fi
  [[ -n $p && -n $t ]] || die "round $r: no rate measured"
  plain+=("$p") traced+=("$t")
  if [[ $HAVE_COMPARE == 0 ]]; then
    printf 'round %d: untraced %8d conn/s   traced %8d conn/s   ratio %s   (%s segments traced)\n' "$r" "$p" "$t" \
      "$(ratio "$t" "$p")" "${n:-?}"
  else
    printf 'round %d: untraced %8d conn/s   A %8d conn/s ratio %s   B %8d conn/s ratio %s   (%s / %s segments traced)\n' \
      "$r" "$p" "$t" "$(ratio "$t" "$p")" "$b" "$(ratio "$b" "$p")" "${n:-?}" "${nb:-?}"
  fi
done
cat "$TMP/startup.A"
[[ $HAVE_COMPARE == 1 ]] && cat "$TMP/startup.B"
mp=$(printf '%s\n' "${plain[@]}" | median)
# The headline is the median of the per-round ratios: the runs of a round are back to back and
# share the machine's state of the moment, which the medians of the columns do not.
per_round() {  # per_round NAME-OF-ARRAY: median of its per-round ratios to the untraced runs
  local -n col=$1
  for ((i = 0; i < ROUNDS; i++)); do awk -v t="${col[i]}" -v p="${plain[i]}" 'BEGIN {printf "%.4f\n", t / p}'; done | median
}
mt=$(printf '%s\n' "${traced[@]}" | median)
pr=$(per_round traced)
ratio=$(awk -v r="$pr" 'BEGIN {printf "%.3f", r}')
cost=$(awk -v r="$pr" 'BEGIN {printf "%.1f", (1 - r) * 100}')
echo "medians: untraced $mp conn/s, traced $mt conn/s (ratio of medians $(ratio "$mt" "$mp"))"
if [[ $HAVE_COMPARE == 1 ]]; then
  mb=$(printf '%s\n' "${other[@]}" | median)
  prb=$(per_round other)
  echo "variant B: median $mb conn/s (ratio of medians $(ratio "$mb" "$mp")), median of per-round ratios $(awk -v r="$prb" 'BEGIN {printf "%.3f", r}')"
  echo "median of per-round A/B ratios: $(for ((i = 0; i < ROUNDS; i++)); do awk -v t="${traced[i]}" -v b="${other[i]}" 'BEGIN {printf "%.4f\n", t / b}'; done | median)"
fi
echo "median of per-round ratios: $ratio (cost $cost %), target >= 0.95; load average now $(cut -d' ' -f1-3 /proc/loadavg)"
awk -v r="$ratio" 'BEGIN {exit !(r >= 0.95)}' && exit 0 || exit 1

#!/usr/bin/env bash
# `synscope doctor` and the exporter against `ss` on a host with many listeners, in one run.
#
# A network namespace gets --listeners TCP listeners (bench/hold_listeners.cpp, 10,000 by default).
# Two hosts are measured: "idle" (every listener quiet) and "overflowing" (one listener's accept
# queue full, so the doctor names it and must look up its owner in /proc/*/fd). On each, hyperfine
# times, all under the same `ip netns exec` wrapper:
#
#   ss -lnt                                    the issue's peer
#   synscope doctor --interval 0               default: owners of the listeners it shows
#   ss -lntp                                   ss with owners (reads every fd of every process)
#   synscope doctor --interval 0 --owners all  every listener's owner, like ss -p
#
# and then one exporter (serving the namespace) is scraped --scrapes times with curl; the scrape's
# wall time (curl time_total: request to last byte) is reported as a median and maximum.
#
# Targets (issue 4): doctor <= ss -lnt (ratio <= 1.0) and an exporter scrape < 50 ms. Absolute
# times on shared machines are noise: quote the ratios from one run. Exit 0 when the targets hold
# on both hosts, 1 when one is missed, 2 on error. Needs root (namespaces).
#
# usage: bench/doctor_compare.sh [--listeners N] [--runs R] [--scrapes S] [--build DIR] [--no-build]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build-bench}
LISTENERS=10000
RUNS=30
SCRAPES=30
DO_BUILD=1
die() { echo "doctor_compare: $*" >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --listeners) LISTENERS=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --scrapes) SCRAPES=$2; shift 2 ;;
    --build) BUILD=$2; shift 2 ;;
    --no-build) DO_BUILD=0; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
[[ $(id -u) -eq 0 ]] || die "needs root (creates a network namespace)"
for t in hyperfine curl ss ip; do command -v $t >/dev/null || die "$t not installed (scripts/setup.sh installs it)"; done
if [[ $DO_BUILD == 1 ]]; then
  [[ -f $BUILD/CMakeCache.txt ]] || cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSYNSCOPE_BENCH=ON >/dev/null
  cmake --build "$BUILD" --target synscope hold_listeners --parallel 2 >/dev/null || die "build failed in $BUILD"
fi
SYNSCOPE=$BUILD/synscope
HOLD=$BUILD/hold_listeners
[[ -x $SYNSCOPE && -x $HOLD ]] || die "binaries missing in $BUILD"

NS=synscope-bench-$$
TMP=$(mktemp -d "${TMPDIR:-/tmp}/doctor-compare.XXXXXX")
HOLDER= EXPORTER=
cleanup() {
  [[ -n $EXPORTER ]] && kill "$EXPORTER" 2>/dev/null && wait "$EXPORTER" 2>/dev/null
  [[ -n $HOLDER ]] && kill "$HOLDER" 2>/dev/null && wait "$HOLDER" 2>/dev/null
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ip netns add "$NS"
ip -n "$NS" link set lo up

status=0
verdict() { if awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN {exit !((op == "le" && v <= l) || (op == "lt" && v < l))}'; then echo PASS; else echo FAIL; fi; }
median_of() { sort -g | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

measure() {  # measure LABEL EXTRA_HOLD_ARGS...
  local label=$1; shift
  ip netns exec "$NS" "$HOLD" --count "$LISTENERS" "$@" >"$TMP/hold.out" 2>&1 &
  HOLDER=$!
  for _ in $(seq 100); do grep -q ready "$TMP/hold.out" 2>/dev/null && break; sleep 0.1; done
  grep -q ready "$TMP/hold.out" || die "hold_listeners did not start: $(cat "$TMP/hold.out")"
  local x="ip netns exec $NS"
  echo "== $label host: $LISTENERS listeners$([[ $# -gt 0 ]] && echo ", one with a full accept queue") =="
  hyperfine -N --warmup 3 --runs "$RUNS" --export-csv "$TMP/$label.csv" \
    -n "ss -lnt" "$x ss -lnt" \
    -n "synscope doctor --interval 0" "$x $SYNSCOPE doctor --interval 0" \
    -n "ss -lntp" "$x ss -lntp" \
    -n "synscope doctor --interval 0 --owners all" "$x $SYNSCOPE doctor --interval 0 --owners all" >"$TMP/$label.txt" 2>&1 ||
    { cat "$TMP/$label.txt" >&2; die "hyperfine failed"; }
  # CSV: command,mean,stddev,median,user,system,min,max
  awk -F, 'NR > 1 {printf "  %-45s median %7.1f ms  mean %7.1f ms ± %5.1f\n", $1, $4 * 1000, $2 * 1000, $3 * 1000}' "$TMP/$label.csv"
  local ss doc ssp all
  ss=$(awk -F, 'NR == 2 {print $4}' "$TMP/$label.csv"); doc=$(awk -F, 'NR == 3 {print $4}' "$TMP/$label.csv")
  ssp=$(awk -F, 'NR == 4 {print $4}' "$TMP/$label.csv"); all=$(awk -F, 'NR == 5 {print $4}' "$TMP/$label.csv")
  local r1 r2 v1
  r1=$(awk -v a="$doc" -v b="$ss" 'BEGIN {printf "%.2f", a / b}')
  r2=$(awk -v a="$all" -v b="$ssp" 'BEGIN {printf "%.2f", a / b}')
  v1=$(verdict "$r1" le 1.0); [[ $v1 == PASS ]] || status=1
  printf '  doctor / ss -lnt               = %5.2fx   target <= 1.0   %s\n' "$r1" "$v1"
  printf '  doctor --owners all / ss -lntp = %5.2fx   (for reference)\n' "$r2"

  "$SYNSCOPE" exporter --netns "$NS" --listen 127.0.0.1:0 >"$TMP/exporter.log" 2>&1 &
  EXPORTER=$!
  local port=
  for _ in $(seq 100); do port=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$TMP/exporter.log"); [[ -n $port ]] && break; sleep 0.1; done
  [[ -n $port ]] || die "exporter did not start: $(cat "$TMP/exporter.log")"
  for _ in 1 2 3; do curl -s -o /dev/null "http://127.0.0.1:$port/metrics"; done  # warm-up
  : >"$TMP/scrapes"
  for _ in $(seq "$SCRAPES"); do
    curl -s -o "$TMP/metrics.txt" -w '%{time_total}\n' "http://127.0.0.1:$port/metrics" >>"$TMP/scrapes"
  done
  local med max bytes series
  med=$(median_of <"$TMP/scrapes"); max=$(sort -g "$TMP/scrapes" | tail -n 1)
  bytes=$(stat -c %s "$TMP/metrics.txt"); series=$(grep -vc '^#' "$TMP/metrics.txt")
  local v2; v2=$(verdict "$med" lt 0.050); [[ $v2 == PASS ]] || status=1
  printf '  exporter scrape (curl, %d scrapes): median %.1f ms, max %.1f ms, %d series, %.1f MB   target < 50 ms   %s\n' \
    "$SCRAPES" "$(awk -v m="$med" 'BEGIN {print m * 1000}')" "$(awk -v m="$max" 'BEGIN {print m * 1000}')" "$series" \
    "$(awk -v b="$bytes" 'BEGIN {print b / 1e6}')" "$v2"
  kill "$EXPORTER"; wait "$EXPORTER" 2>/dev/null || true; EXPORTER=
  kill "$HOLDER"; wait "$HOLDER" 2>/dev/null || true; HOLDER=
  echo
}

echo "doctor_compare: $(date -u '+%Y-%m-%d %H:%M:%S UTC') on $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), kernel $(uname -r)"
echo "binaries: $BUILD ($(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$BUILD/CMakeCache.txt" 2>/dev/null)); hyperfine, $RUNS runs each after 3 warm-ups"
echo
measure idle
measure overflowing --overflow 3
exit $status

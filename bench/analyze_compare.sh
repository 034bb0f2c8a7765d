#!/usr/bin/env bash
# Whole-process speed of `synscope analyze` against its two peers, measured in one run:
#
#   pcap_count_loop FILE                                          bare libpcap: pcap_next_ex, count
#   synscope analyze FILE > /dev/null
#   tshark -r FILE -Y 'tcp.flags.syn==1 && tcp.flags.ack==0' > /dev/null
#
# on a generated handshake-heavy pcap (bench/make_handshake_pcap.cpp, 2M packets by default), after
# warming the page cache. The loop and analyze alternate (which goes first alternates too) for
# --rounds rounds; tshark, being slow, runs --tshark-rounds times. Prints each round, the medians
# (wall clock, and user+sys CPU), and the ratios against the issue's targets:
#
#   analyze / loop   <= 1.5x
#   tshark / analyze >= 50x
#
# Absolute times on a shared machine are noise; the ratios, measured in the same run, are the
# figures to quote. Exit status 0 when both targets are met, 1 when one is missed, 2 on error.
#
# usage: bench/analyze_compare.sh [--packets N] [--rounds R] [--tshark-rounds T] [--seed S]
#                                 [--file PCAP] [--build DIR] [--no-build] [--no-tshark] [--keep]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build-bench}
PACKETS=2000000
ROUNDS=5
TSHARK_ROUNDS=1
SEED=1
FILE=
DO_BUILD=1
DO_TSHARK=1
KEEP=0
TSHARK_FILTER='tcp.flags.syn==1 && tcp.flags.ack==0'

die() { echo "analyze_compare: $*" >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --packets) PACKETS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --tshark-rounds) TSHARK_ROUNDS=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --file) FILE=$2; shift 2 ;;
    --build) BUILD=$2; shift 2 ;;
    --no-build) DO_BUILD=0; shift ;;
    --no-tshark) DO_TSHARK=0; shift ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
[[ $ROUNDS -ge 1 && $TSHARK_ROUNDS -ge 1 ]] || die "--rounds and --tshark-rounds must be at least 1"

if [[ $DO_BUILD == 1 ]]; then
  if [[ ! -f $BUILD/CMakeCache.txt ]]; then
    cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSYNSCOPE_BENCH=ON >/dev/null
  fi
  grep -q '^CMAKE_BUILD_TYPE:STRING=Release$' "$BUILD/CMakeCache.txt" ||
    echo "analyze_compare: warning: $BUILD is not a Release build" >&2
  cmake --build "$BUILD" --target synscope make_handshake_pcap pcap_count_loop --parallel 2 >/dev/null ||
    die "build failed (cmake --build $BUILD --target synscope make_handshake_pcap pcap_count_loop)"
fi
SYNSCOPE=$BUILD/synscope
LOOP=$BUILD/pcap_count_loop
GEN=$BUILD/make_handshake_pcap
for b in "$SYNSCOPE" "$LOOP"; do [[ -x $b ]] || die "$b not built"; done
"$SYNSCOPE" analyze --help >/dev/null 2>&1 || die "'$SYNSCOPE analyze' does not exist yet"
if [[ $DO_TSHARK == 1 ]] && ! command -v tshark >/dev/null; then
  echo "analyze_compare: tshark not installed: skipping it" >&2
  DO_TSHARK=0
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/analyze-compare.XXXXXX")
cleanup() { if [[ $KEEP == 1 ]]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi; }
trap cleanup EXIT

if [[ -z $FILE ]]; then
  [[ -x $GEN ]] || die "$GEN not built"
  FILE=$TMP/handshake.pcap
  "$GEN" --packets "$PACKETS" --seed "$SEED" --out "$FILE" 2>"$TMP/gen.txt" || { cat "$TMP/gen.txt" >&2; die "generator failed"; }
  GEN_SUMMARY=$(cat "$TMP/gen.txt")
else
  GEN_SUMMARY="(given file)"
fi
BYTES=$(stat -c %s "$FILE")
COUNT=$("$LOOP" "$FILE") || die "pcap_count_loop failed on $FILE"

# Warm the page cache (and the binaries): read the file twice, run each program once untimed.
cat "$FILE" >/dev/null; cat "$FILE" >/dev/null
"$LOOP" "$FILE" >/dev/null
set +e
"$SYNSCOPE" analyze "$FILE" >"$TMP/analyze.out" 2>"$TMP/analyze.err"
rc=$?
set -e
if [[ $rc -ge 2 ]]; then
  sed 's/^/  /' "$TMP/analyze.err" >&2
  die "synscope analyze exited with status $rc"
fi
[[ $rc -eq 0 ]] || echo "analyze_compare: note: synscope analyze exits with status $rc on this file" >&2

# time_cmd NAME CMD...: runs CMD with stdout to /dev/null; appends "wall cpu maxrss_kb" to $TMP/NAME.
# Wall and user+sys CPU come from bash's `time` (getrusage of the child, ms resolution), the peak
# RSS from GNU time around the command (its own cost is the same for every program).
time_cmd() {
  local name=$1; shift
  local TIMEFORMAT='%3R %3U %3S' st=0
  { time /usr/bin/time -f '%M' -o "$TMP/rss.txt" "$@" >/dev/null 2>"$TMP/$name.err"; } 2>"$TMP/time.txt" || st=$?
  if [[ $st -ne 0 && ! ($name == analyze && $st -eq 1) ]]; then
    sed 's/^/  /' "$TMP/$name.err" >&2
    die "$name failed (status $st)"
  fi
  # GNU time writes "Command exited with non-zero status N" before the figure when N != 0.
  awk -v rss="$(tail -n 1 "$TMP/rss.txt")" '{printf "%.3f %.3f %d\n", $1, $2 + $3, rss}' "$TMP/time.txt" >>"$TMP/$name"
}
last() { tail -n 1 "$TMP/$1" | awk '{printf "%7.3f s wall %7.3f s cpu %5.0f MB", $1, $2, $3 / 1024}'; }
median() {  # median of column $2 of file $1
  awk -v c="$2" '{print $c}' "$TMP/$1" | sort -g | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}

echo "analyze_compare: $(date -u '+%Y-%m-%d %H:%M:%S UTC') on $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "input: $FILE: $COUNT packets, $BYTES bytes ($(awk -v b="$BYTES" -v n="$COUNT" 'BEGIN {printf "%.1f", (b - 24) / n}') B/packet incl. the 16-byte record header)"
echo "$GEN_SUMMARY" | sed 's/^/  /'
echo "binaries: $BUILD ($(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$BUILD/CMakeCache.txt" 2>/dev/null))"
echo
for ((r = 1; r <= ROUNDS; r++)); do
  if ((r % 2)); then
    time_cmd loop "$LOOP" "$FILE"
    time_cmd analyze "$SYNSCOPE" analyze "$FILE"
  else
    time_cmd analyze "$SYNSCOPE" analyze "$FILE"
    time_cmd loop "$LOOP" "$FILE"
  fi
  printf 'round %d: pcap_count_loop %s | synscope analyze %s\n' "$r" "$(last loop)" "$(last analyze)"
done
if [[ $DO_TSHARK == 1 ]]; then
  for ((r = 1; r <= TSHARK_ROUNDS; r++)); do
    time_cmd tshark tshark -r "$FILE" -Y "$TSHARK_FILTER"
    printf 'tshark round %d: %s\n' "$r" "$(last tshark)"
  done
fi

LOOP_W=$(median loop 1) LOOP_C=$(median loop 2)
AN_W=$(median analyze 1) AN_C=$(median analyze 2) AN_M=$(median analyze 3)
echo
printf '%-66s %10s %10s %9s %5s\n' "median of" "wall" "user+sys" "max RSS" "runs"
printf '%-66s %8.3f s %8.3f s %6.0f MB %5d\n' "pcap_count_loop FILE" "$LOOP_W" "$LOOP_C" "$(median loop 3 | awk '{print $1/1024}')" "$ROUNDS"
printf '%-66s %8.3f s %8.3f s %6.0f MB %5d\n' "synscope analyze FILE > /dev/null" "$AN_W" "$AN_C" "$(awk -v m="$AN_M" 'BEGIN {print m/1024}')" "$ROUNDS"
if [[ $DO_TSHARK == 1 ]]; then
  TS_W=$(median tshark 1) TS_C=$(median tshark 2)
  printf '%-66s %8.3f s %8.3f s %6.0f MB %5d\n' "tshark -r FILE -Y '$TSHARK_FILTER' > /dev/null" "$TS_W" "$TS_C" "$(median tshark 3 | awk '{print $1/1024}')" "$TSHARK_ROUNDS"
fi
echo
echo "ratios (medians of this run; wall clock is the target, CPU shown for reference):"
status=0
verdict() {  # verdict VALUE OP LIMIT -> PASS/FAIL
  if awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN {exit !((op == "le" && v <= l) || (op == "ge" && v >= l))}'; then echo PASS; else echo FAIL; fi
}
R1=$(awk -v a="$AN_W" -v b="$LOOP_W" 'BEGIN {printf "%.2f", a / b}')
R1C=$(awk -v a="$AN_C" -v b="$LOOP_C" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
V1=$(verdict "$R1" le 1.5)
[[ $V1 == PASS ]] || status=1
printf '  analyze / loop   = %6.2fx wall (%6.2fx cpu)   target <= 1.5x   %s\n' "$R1" "$R1C" "$V1"
if [[ $DO_TSHARK == 1 ]]; then
  R2=$(awk -v a="$TS_W" -v b="$AN_W" 'BEGIN {printf "%.1f", a / b}')
  R2C=$(awk -v a="$TS_C" -v b="$AN_C" 'BEGIN {printf "%.1f", (b > 0 ? a / b : 0)}')
  V2=$(verdict "$R2" ge 50)
  [[ $V2 == PASS ]] || status=1
  printf '  tshark / analyze = %6.1fx wall (%6.1fx cpu)   target >= 50x    %s\n' "$R2" "$R2C" "$V2"
fi
exit $status

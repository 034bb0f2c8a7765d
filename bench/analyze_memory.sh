#!/usr/bin/env bash
# Streaming memory bound of `synscope analyze` (issue: "a 10 GB capture runs in under 256 MB of
# RSS"): for each size, a generated handshake-heavy capture is streamed through a pipe, never
# touching the disk,
#
#   make_handshake_pcap --bytes SIZE --out - | synscope analyze - > /dev/null
#
# and analyze's peak RSS (GNU time's "Maximum resident set size", the kernel's ru_maxrss) is
# printed per size. PASS when every peak is under 256 MB and the peak is flat between the two
# largest sizes (the largest at most 1.1x the other + 8 MB): memory bounded by what is open, not by
# the input. At the generator's default 3000 connections/s (~30k packets/s, a busy server) 1 GB is
# only ~2.5 min of capture, shorter than analyze's longest horizon (a finished attempt is remembered
# 300 s to spot duplicate SYNs), so 1 GB may legitimately peak lower; 3 GB (~8 min) and 10 GB
# (~25 min) are both past every horizon and are the pair judged for flatness. The 10 GB run takes
# minutes (analyze is the bound; the generator writes ~1 GB/s).
#
# usage: bench/analyze_memory.sh [--sizes "1G 3G 10G"] [--conn-rate R] [--seed S] [--build DIR]
#                                [--no-build]
#   --conn-rate R   connections per second of capture time (default: the generator's 3000)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build-bench}
SIZES="1G 3G 10G"
SEED=1
CONN_RATE=
DO_BUILD=1
LIMIT_MB=256

die() { echo "analyze_memory: $*" >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --sizes) SIZES=$2; shift 2 ;;
    --conn-rate) CONN_RATE=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --build) BUILD=$2; shift 2 ;;
    --no-build) DO_BUILD=0; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done

if [[ $DO_BUILD == 1 ]]; then
  if [[ ! -f $BUILD/CMakeCache.txt ]]; then
    cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSYNSCOPE_BENCH=ON >/dev/null
  fi
  cmake --build "$BUILD" --target synscope make_handshake_pcap --parallel 2 >/dev/null ||
    die "build failed (cmake --build $BUILD --target synscope make_handshake_pcap)"
fi
SYNSCOPE=$BUILD/synscope
GEN=$BUILD/make_handshake_pcap
for b in "$SYNSCOPE" "$GEN"; do [[ -x $b ]] || die "$b not built"; done
"$SYNSCOPE" analyze --help >/dev/null 2>&1 || die "'$SYNSCOPE analyze' does not exist yet"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/analyze-memory.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

echo "analyze_memory: $(date -u '+%Y-%m-%d %H:%M:%S UTC') on $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "binaries: $BUILD ($(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$BUILD/CMakeCache.txt" 2>/dev/null))"
echo
GEN_ARGS=(--seed "$SEED")
[[ -n $CONN_RATE ]] && GEN_ARGS+=(--conn-rate "$CONN_RATE")
RESULTS=()
status=0
for size in $SIZES; do
  t0=$EPOCHREALTIME
  set +e
  "$GEN" --bytes "$size" --out - "${GEN_ARGS[@]}" 2>"$TMP/gen.txt" |
    /usr/bin/time -f '%M %U %S' -o "$TMP/time.txt" "$SYNSCOPE" analyze - >"$TMP/analyze.out" 2>"$TMP/analyze.err"
  st=("${PIPESTATUS[@]}")
  set -e
  t1=$EPOCHREALTIME
  if [[ ${st[0]} -ne 0 || ${st[1]} -ge 2 ]]; then
    sed 's/^/  generator: /' "$TMP/gen.txt" >&2
    sed 's/^/  analyze: /' "$TMP/analyze.err" >&2
    die "size $size: generator status ${st[0]}, analyze status ${st[1]}"
  fi
  read -r rss_kb user sys < <(tail -n 1 "$TMP/time.txt")
  packets=$(sed -n 's/^make_handshake_pcap: \([0-9]*\) packets.*/\1/p' "$TMP/gen.txt")
  bytes=$(sed -n 's/^make_handshake_pcap: [0-9]* packets, \([0-9]*\) bytes.*/\1/p' "$TMP/gen.txt")
  span=$(sed -n 's/.*B\/packet), \([0-9.]*\) s of capture time.*/\1/p' "$TMP/gen.txt")
  wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}')
  rss_mb=$(awk -v k="$rss_kb" 'BEGIN {printf "%.1f", k / 1024}')
  printf 'size %-5s %11d packets %14d bytes %8.0f s of capture: peak RSS %7.1f MB   (%s s wall, analyze %.1f s cpu, %.0f MB/s)\n' \
    "$size" "$packets" "$bytes" "$span" "$rss_mb" "$wall" "$(awk -v u="$user" -v s="$sys" 'BEGIN {print u + s}')" \
    "$(awk -v b="$bytes" -v w="$wall" 'BEGIN {print b / w / 1e6}')"
  head -n 4 "$TMP/analyze.out" | sed 's/^/    | /'
  RESULTS+=("$rss_mb")
done

echo
n=${#RESULTS[@]}
max=$(printf '%s\n' "${RESULTS[@]}" | sort -g | tail -n 1)
if awk -v m="$max" -v l="$LIMIT_MB" 'BEGIN {exit !(m < l)}'; then v1=PASS; else v1=FAIL; status=1; fi
printf 'peak RSS: highest %.1f MB                      target < %d MB   %s\n' "$max" "$LIMIT_MB" "$v1"
if ((n >= 2)); then
  # Sizes are judged in the order given: the last two (the largest, normally).
  a=${RESULTS[n - 2]} b=${RESULTS[n - 1]}
  if awk -v a="$a" -v b="$b" 'BEGIN {exit !(b <= 1.1 * a + 8)}'; then v2=PASS; else v2=FAIL; status=1; fi
  printf 'peak RSS: %.1f MB at %s, %.1f MB at %s   target: flat (<= 1.1x + 8 MB)   %s\n' "$a" "$(echo "$SIZES" | awk '{print $(NF-1)}')" \
    "$b" "$(echo "$SIZES" | awk '{print $NF}')" "$v2"
  printf 'growth from the smallest size (%s, %.1f MB) to the largest: %.2fx\n' "$(echo "$SIZES" | awk '{print $1}')" "${RESULTS[0]}" \
    "$(awk -v a="${RESULTS[0]}" -v b="$b" 'BEGIN {print b / a}')"
fi
exit $status

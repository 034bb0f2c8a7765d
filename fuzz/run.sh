#!/usr/bin/env bash
# Runs the libFuzzer targets for a bounded time each, one after the other (the machine is shared).
#   fuzz/run.sh BUILD_DIR SECONDS [FUZZER ...]     (default: every fuzz_* in BUILD_DIR/fuzz)
# Seeds come from fuzz/make_seeds.py (regenerated when missing) into BUILD_DIR/fuzz-seeds; what a
# run learns is kept in BUILD_DIR/fuzz-corpus/NAME for the next run. A crash, leak, timeout or
# out-of-memory fails the script; the reproducer is BUILD_DIR/fuzz-artifacts/NAME/crash-*… and
# `BUILD_DIR/fuzz/fuzz_NAME FILE` replays it. The last status line (execs/s, cov, ft) of each run is
# printed and appended to BUILD_DIR/fuzz-summary.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
build=$1 seconds=$2
shift 2
synscope=$build/synscope
[[ -x $synscope ]] || synscope=build/synscope
seeds=$build/fuzz-seeds
[[ -d $seeds ]] || python3 fuzz/make_seeds.py "$seeds" "$synscope" >/dev/null
names=("$@")
if ((${#names[@]} == 0)); then
  for f in "$build"/fuzz/fuzz_*; do names+=("${f##*/fuzz_}"); done
fi
# A leak in a parser is a finding; so is any input taking more than 10 s or 2 GB.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
for name in "${names[@]}"; do
  corpus=$build/fuzz-corpus/$name artifacts=$build/fuzz-artifacts/$name
  mkdir -p "$corpus" "$artifacts" "$seeds/$name"
  log=$build/fuzz-$name.log
  start=$(date +%s)
  if "$build/fuzz/fuzz_$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
      -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" "$seeds/$name" >"$log" 2>&1; then
    result=ok
  else
    result=FAILED status=1
  fi
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  line="fuzz_$name: $result after $(($(date +%s) - start)) s: $last"
  echo "$line" | tee -a "$build/fuzz-summary.txt"
  if [[ $result == FAILED ]]; then
    grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$log" | head -20 || true
  fi
done
exit $status

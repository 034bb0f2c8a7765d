#!/usr/bin/env bash
# The robustness half of CI (docs/robustness.md), run by scripts/test.sh after the normal suite:
#  1. the whole test suite again under ASan+UBSan, in its own clang build tree (build-asan, which
#     also holds the libFuzzer targets, so the instrumented library is compiled once);
#  2. every fuzzer for SYNSCOPE_FUZZ_SECONDS (default 20) each, one after the other, seeded by
#     fuzz/make_seeds.py; a crash, leak, hang or out-of-memory fails CI, with the reproducer kept
#     under build-asan/fuzz-artifacts/.
# Leaks are checked; fuzz/lsan.supp would hold third-party suppressions (none are needed).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
CC=clang CXX=clang++ cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSYNSCOPE_SANITIZE=ON -DSYNSCOPE_FUZZ=ON -DSYNSCOPE_BENCH=OFF >/dev/null
cmake --build build-asan --parallel "$(nproc)"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=0"
export LSAN_OPTIONS="suppressions=$PWD/fuzz/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
(cd build-asan && ctest --output-on-failure --parallel "$(nproc)" --timeout 900)
rm -f build-asan/fuzz-summary.txt
bash fuzz/run.sh build-asan "${SYNSCOPE_FUZZ_SECONDS:-20}"

#!/usr/bin/env bash
# Set up, build, and run the whole test suite (GoogleTest through CTest); then the same suite under
# ASan+UBSan and every fuzzer for a bounded time (scripts/robustness.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
cd build
ctest --output-on-failure --parallel "$(nproc)" --timeout 600
cd ..
# Then the robustness steps (docs/robustness.md): the suite under ASan+UBSan and a bounded run of
# every fuzzer.
bash scripts/robustness.sh

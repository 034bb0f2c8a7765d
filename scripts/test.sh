#!/usr/bin/env bash
# Set up, build, and run the whole test suite (GoogleTest through CTest).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
cd build
ctest --output-on-failure --parallel "$(nproc)" --timeout 600

#!/usr/bin/env bash
# Configures and builds synscope (RelWithDebInfo, assertions kept) into ./build.
# Arguments name CMake targets to build (default: everything, including tests and benchmarks).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
targets=()
for t in "$@"; do targets+=(--target "$t"); done
cmake --build build --parallel "$(nproc)" "${targets[@]}"

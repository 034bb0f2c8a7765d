#!/usr/bin/env bash
# Installs every Debian 12 package that synscope's build, tests and benchmarks need.
# Idempotent: when everything is already installed it only checks and returns.
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config
  libpcap-dev zlib1g-dev libzstd-dev libcli11-dev libfmt-dev nlohmann-json3-dev libtomlplusplus-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  tcpdump tshark zstd
  iproute2 nftables
  prometheus-cpp-dev prometheus hyperfine curl
  clang libbpf-dev bpftool
  libclang-rt-14-dev python3 apache2-utils  # fuzzers (libFuzzer runtime), fuzz/make_seeds.py, the exporter load test (ab)
  chromium nodejs fonts-dejavu-core  # --html report tests: headless Chromium driven by tests/report/browser_check.mjs
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: need root to install: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

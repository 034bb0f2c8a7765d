#!/usr/bin/env bash
# The main job: set up, build, and run the default simulation (the seed's NAT + tw_recycle +
# server-side close experiment), printing its explanation. Extra arguments go to `synscope sim`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh synscope >&2
exec ./build/synscope sim "$@"

#!/usr/bin/env bash
# Sets up a fresh machine and runs Spotlight's test suite:
#   1. installs the Debian dependencies (scripts/install_deps.sh; skipped when all present),
#   2. configures and builds in build/ (Release),
#   3. runs every test through ctest: the doctest suite (one ctest entry per test case),
#      which includes the PyTorch parity check (tests/torch_parity.py).
# Usage: scripts/test.sh [extra ctest arguments, e.g. -R parity]
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=$(nproc 2>/dev/null || echo 2)
echo "== installing dependencies"
scripts/install_deps.sh
echo "== building (Release) in build/"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSPOTLIGHT_TESTS=ON
cmake --build build -j "$jobs"
echo "== running the tests"
cd build
ctest --output-on-failure -j "$jobs" "$@"

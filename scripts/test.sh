#!/usr/bin/env bash
# Sets up a fresh machine and runs Spotlight's test suite:
#   1. installs the Debian dependencies (scripts/install_deps.sh; skipped when all present),
#   2. builds in build/ (Release) and runs every test through ctest: the doctest suite (one
#      ctest entry per test case, the PyTorch parity check and the kill-and-resume rounds
#      included) and a replay of every fuzz seed and regression input (tests/fuzz/corpus/),
#   3. builds the same with clang, AddressSanitizer and UndefinedBehaviorSanitizer in build-san/
#      (scripts/fuzz.sh --build-only) and runs the suite again but five long repetitive cases
#      (below); any report fails it,
#   4. fuzzes each libFuzzer harness for 20 s (scripts/fuzz.sh, the same build-san/).
# Step 2 runs twice where the build has oneDNN: on oneDNN (the default GEMM backend) and again
# with SPOTLIGHT_GEMM=openblas. Each pass starts with the GEMM library the tests run on (oneDNN's
# version and ISA; or OpenBLAS's version, core, threads, OPENBLAS_CORETYPE), as the test binary
# reports it (spotlight_tests --blas-info):
# results equal only up to rounding differ between cores. To try another core, set it for one
# command, e.g. `OPENBLAS_CORETYPE=Haswell scripts/test.sh --quick`.
# Warnings are errors in the Release build (SPOTLIGHT_WERROR).
# Usage: scripts/test.sh [--quick] [extra ctest arguments, e.g. -R parity, -L unit]
#   --quick   step 2 only (the Release suite), for a fast local loop: installs nothing beyond the
#             build dependencies (without PyTorch the parity cases are reported as skipped).
#             Tests carry ctest labels: unit (seconds in all), e2e (the CLI and training runs),
#             slow (the longest checks), e.g. `scripts/test.sh --quick -L unit`.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
if [ "${1:-}" = "--quick" ]; then quick=1; shift; fi
jobs=$(nproc 2>/dev/null || echo 2)
start=$(date +%s)
echo "== installing dependencies"
if [ "$quick" = 1 ]; then scripts/install_deps.sh --no-fuzz --no-torch; else scripts/install_deps.sh; fi
echo "== building (Release) in build/"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSPOTLIGHT_TESTS=ON -DSPOTLIGHT_WERROR=ON
cmake --build build -j "$jobs"
build/spotlight_tests --blas-info
echo "== running the tests"
(cd build && ctest --output-on-failure -j "$jobs" "$@")
# The whole Release suite again on the other GEMM backend (the default is oneDNN where built;
# OpenBLAS is the reference and the fallback).
if build/spotlight_tests --blas-info | grep -q '^oneDNN'; then
  echo "== running the tests again with SPOTLIGHT_GEMM=openblas"
  SPOTLIGHT_GEMM=openblas build/spotlight_tests --blas-info
  (cd build && SPOTLIGHT_GEMM=openblas ctest --output-on-failure -j "$jobs" "$@")
fi
[ "$quick" = 1 ] && exit 0

scripts/fuzz.sh --build-only
echo "== running the tests under ASan + UBSan"
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:check_initialization_order=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$PWD/tests/sanitizer/lsan.supp:print_suppressions=0
# The Release pass above ran the 20 kill rounds; here 6 (each start-up is slower under ASan).
# Five cases that repeat the same code for minutes under ASan (10x slower) run in the Release
# passes only: the whole-model and output-vocabulary gradient checks (finite differences over
# every parameter; each layer's own check runs here) and three full training runs compared byte
# for byte (the SIGTERM, kill and CLI cases train and resume here). 300 of the pass's 1,070
# CPU-seconds.
asan_skip='^(whole model: every parameter|output vocabulary: every parameter|interrupted and resumed training equals|the tiny preset trains on generated data|model.output_vocab target: the target side)'
(cd build-san && SPOTLIGHT_KILL_ROUNDS=6 ctest --output-on-failure -j "$jobs" -E "$asan_skip" "$@")
unset ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS

echo "== fuzzing (libFuzzer, 20 s per harness)"
scripts/fuzz.sh --seconds 20
echo "== all tests passed in $(( $(date +%s) - start )) s"

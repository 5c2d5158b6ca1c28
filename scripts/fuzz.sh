#!/usr/bin/env bash
# Builds the libFuzzer harnesses in build-san/ (clang; ASan, UBSan and coverage instrumentation)
# and fuzzes each for a bounded time, starting from its seed corpus in tests/fuzz/corpus/<name>/
# and the seeds the harness generates from the current code (build-san/seeds/<name>/).
# New interesting inputs go to build-san/corpus/<name>/ (never into tests/); a crash stops with
# its input saved as build-san/crashes/<name>-crash-<sha1>: add it to tests/fuzz/corpus/<name>/
# as a regression input once fixed (the test suite replays that directory on every run).
#   scripts/fuzz.sh                     # every harness, 20 s each (as the test command runs it)
#   scripts/fuzz.sh --seconds 600       # longer, by hand
#   scripts/fuzz.sh --seconds 60 config bleu   # some: config checkpoint corpus bleu serve_request
#   scripts/fuzz.sh --build-only        # configure and build all of build-san/, the test suite
#                                       # too (scripts/test.sh runs that suite under the sanitizers)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=20
build_only=0
names=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) [ $# -ge 2 ] || { echo "fuzz.sh: --seconds needs a number" >&2; exit 2; }
               seconds=$2; shift 2 ;;
    --build-only) build_only=1; shift ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
    *) names+=("$1"); shift ;;
  esac
done
[ "${#names[@]}" -gt 0 ] || names=(config checkpoint corpus bleu serve_request)
for n in "${names[@]}"; do
  [ -f "tests/fuzz/fuzz_$n.cpp" ] || { echo "fuzz.sh: no harness tests/fuzz/fuzz_$n.cpp" >&2; exit 2; }
done
command -v clang++ > /dev/null || { echo "fuzz.sh: clang++ not found; run scripts/install_deps.sh" >&2; exit 2; }

# One sanitizer build serves both the fuzzers and the sanitized test suite: -O1 with line tables
# keeps it quick to compile and readable in reports.
echo "== building in build-san/ (clang; ASan, UBSan, libFuzzer coverage)"
cmake -S . -B build-san -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only" -DSPOTLIGHT_TESTS=ON \
  -DSPOTLIGHT_SANITIZE=address,undefined -DSPOTLIGHT_FUZZ=ON > /dev/null
if [ "$build_only" = 1 ]; then
  cmake --build build-san -j "$(nproc 2>/dev/null || echo 2)"
  exit 0
fi
cmake --build build-san -j "$(nproc 2>/dev/null || echo 2)" --target "${names[@]/#/fuzz_}"

mkdir -p build-san/crashes
# One harness per core at a time.
fuzz_one() {
  local n=$1
  mkdir -p "build-san/corpus/$n" "build-san/seeds/$n"
  local committed=""  # committed seeds, if the harness has any (checkpoint generates all its own)
  [ -d "tests/fuzz/corpus/$n" ] && committed="../tests/fuzz/corpus/$n"
  # The seeds a harness generates from the current code (genuine checkpoint files, a genuine
  # corpus cache): one empty run with SPOTLIGHT_FUZZ_WRITE_SEEDS writes them.
  (cd build-san && SPOTLIGHT_FUZZ_WRITE_SEEDS="seeds/$n" "./fuzz_$n" -runs=0 "seeds/$n" \
     > /dev/null 2>&1)
  # -malloc_limit_mb: an allocation sized by the input beyond 1 GB is a bug.
  (cd build-san && "./fuzz_$n" -max_total_time="$seconds" -rss_limit_mb=2048 \
     -malloc_limit_mb=1024 -timeout=10 -max_len=65536 -print_final_stats=1 \
     -artifact_prefix="crashes/$n-" "corpus/$n" $committed "seeds/$n" > "fuzz_$n.log" 2>&1)
}
jobs=$(nproc 2>/dev/null || echo 2)
declare -A pids
status=0
report() {
  local n=$1 rc=$2
  if [ "$rc" != 0 ]; then
    echo "fuzz.sh: fuzz_$n FAILED; its input is in build-san/crashes/, the log in build-san/fuzz_$n.log" >&2
    grep -v "^#" "build-san/fuzz_$n.log" | tail -40 >&2
    status=1
  else
    printf '%-11s %s runs in %s s, %s inputs in the corpus, coverage %s\n' "$n" \
      "$(grep -o 'number_of_executed_units: [0-9]*' "build-san/fuzz_$n.log" | grep -o '[0-9]*$')" \
      "$seconds" "$(ls "build-san/corpus/$n" | wc -l)" \
      "$(grep -o 'cov: [0-9]*' "build-san/fuzz_$n.log" | tail -1 | grep -o '[0-9]*$')"
  fi
}
for n in "${names[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 1; done
  echo "== fuzzing $n for ${seconds} s"
  fuzz_one "$n" &
  pids[$n]=$!
done
for n in "${names[@]}"; do
  rc=0
  wait "${pids[$n]}" || rc=$?
  report "$n" "$rc"
done
exit $status

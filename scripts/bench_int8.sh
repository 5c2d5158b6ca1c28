#!/usr/bin/env bash
# int8 decoding against float with one trained checkpoint (the README's int8 table): `spotlight
# bench --no-train` with --compute-type float and int8 in turn, runs alternating so that drift in
# the machine's speed hits both; per figure the median and min–max of each side and the ratio
# int8/float (of the medians, and the lowest and highest of the runs paired in turn). Figures:
# greedy and beam-5 target tokens/s of test_2016_flickr in batches of 64 at each thread count,
# and with --latency one sentence at a time on one thread (p50 and p90 ms, batch-1 tokens/s).
# With --workers "1 2", each thread count also with that many batches at once (translate
# --workers; at most one per thread).
#
# Usage: scripts/bench_int8.sh CKPT [--rounds N] [--threads "2 1"] [--workers "1"] [--latency]
#                              [--bin BIN]
#   --rounds N     alternating rounds of `--runs 3` each (default 2)
#   --threads T    thread counts for the batched figures (default "2 1")
#   --workers W    batches decoded at once, each count ≤ the threads (default "1")
#   --latency      also one sentence at a time (200 sentences, one thread)
#   --bin BIN      the spotlight binary (default build/spotlight)
# Example:
#   scripts/bench_int8.sh runs/multi30k_en_fr/checkpoints/best --latency
#   scripts/bench_int8.sh runs/multi30k_en_fr/checkpoints/best --threads 2 --workers "1 2"
set -euo pipefail
cd "$(dirname "$0")/.."

[ $# -ge 1 ] && [ "${1#-}" = "$1" ] || { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
ckpt=$1
shift
rounds=2 threads="2 1" workers="1" latency=0 bin=build/spotlight
need() { [ $# -ge 2 ] || { echo "bench_int8.sh: $1 needs a value" >&2; exit 2; }; }
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) need "$@"; rounds=$2; shift 2 ;;
    --threads) need "$@"; threads=$2; shift 2 ;;
    --workers) need "$@"; workers=$2; shift 2 ;;
    --latency) latency=1; shift ;;
    --bin) need "$@"; bin=$2; shift 2 ;;
    *) echo "bench_int8.sh: unknown option '$1' (see scripts/bench_int8.sh without arguments)" >&2
       exit 2 ;;
  esac
done
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "bench_int8.sh: --rounds takes a positive integer" >&2; exit 2; }
for n in $threads $workers; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "bench_int8.sh: --threads and --workers take positive integers, got '$n'" >&2; exit 2; }
done
[ -x "$bin" ] || { echo "bench_int8.sh: $bin is not an executable (build first: scripts/test.sh)" >&2; exit 2; }
[ -d "$ckpt" ] || { echo "bench_int8.sh: no checkpoint directory $ckpt" >&2; exit 2; }
out=$(mktemp -d /tmp/spotlight-int8.XXXXXX)
for r in $(seq 1 "$rounds"); do
  for t in $threads; do
    for w in $workers; do
      [ "$w" -le "$t" ] || continue
      for ct in float int8; do
        echo "bench_int8.sh: round $r/$rounds, $t thread(s), $w worker(s), $ct" >&2
        "$bin" bench -c "$ckpt" --no-train --no-sgemm --threads "$t" --workers "$w" --runs 3 \
          --sentences 1000 --batch-size 64 --compute-type "$ct" --json \
          > "$out/b64_t${t}_w${w}_${ct}_$r.json"
      done
    done
  done
  if [ "$latency" = 1 ]; then
    for ct in float int8; do
      echo "bench_int8.sh: round $r/$rounds, one sentence at a time, $ct" >&2
      "$bin" bench -c "$ckpt" --no-train --no-sgemm --threads 1 --runs 1 --sentences 200 \
        --batch-size 1 --latency --compute-type "$ct" --json > "$out/lat_${ct}_$r.json"
    done
  fi
done
/usr/bin/python3 - "$out" <<'EOF'
import glob, json, statistics, sys
out = sys.argv[1]
runs = {}
for f in sorted(glob.glob(out + "/b64_*.json")):
    t, w, ct, _ = f.rsplit("/", 1)[1][4:-5].split("_")
    d = json.load(open(f))["decode"]
    for mode in ("greedy", "beam5"):
        runs.setdefault((t, w, mode), {}).setdefault(ct, []).extend(
            d[mode]["tgt_tokens_per_s_stat"]["runs"])
print("batches of 64, target tokens/s: median (min–max) of the runs")
for (t, w, mode), side in sorted(runs.items()):
    f, i = side["float"], side["int8"]
    pairs = [a / b for a, b in zip(i, f)]
    print(f"  {mode:6} {t[1:]} thread(s), {w[1:]} worker(s): float {statistics.median(f):8.0f} ({min(f):.0f}–{max(f):.0f})"
          f"  int8 {statistics.median(i):8.0f} ({min(i):.0f}–{max(i):.0f})"
          f"  int8/float {statistics.median(i) / statistics.median(f):.2f} ({min(pairs):.2f}–{max(pairs):.2f})")
lat = sorted(glob.glob(out + "/lat_*.json"))
if lat:
    print("one sentence at a time, one thread: p50 (p90) ms per sentence; batch-1 target tokens/s")
for f in lat:
    ct, r = f.rsplit("/", 1)[1][4:-5].split("_")
    d = json.load(open(f))["decode"]
    g, b = d["greedy"], d["beam5"]
    print(f"  {ct:5} round {r}: greedy {g['latency_ms']['p50']:.2f} ({g['latency_ms']['p90']:.2f}),"
          f" beam 5 {b['latency_ms']['p50']:.2f} ({b['latency_ms']['p90']:.2f});"
          f" {g['tgt_tokens_per_s']:.0f} / {b['tgt_tokens_per_s']:.0f} tokens/s")
print(f"(the runs' JSON: {out})")
EOF

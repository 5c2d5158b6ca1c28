#!/usr/bin/env bash
# Speed of two spotlight binaries side by side (a change against its base, e.g. the two that
# scripts/same_outputs.sh built): `spotlight bench --checkpoint CKPT` with each in turn, runs
# alternating so that drift in the machine's speed hits both, then per figure the median and
# min–max of each side and the ratio new/base. Figures: training target tokens/s and peak RSS,
# greedy and beam-5 decoding of test_2016_flickr (target tokens/s, sentences/s).
#
# Usage: scripts/ab_bench.sh BASE_BIN NEW_BIN CKPT [--runs N] [--threads T] [--json FILE]
# Example (after scripts/same_outputs.sh --base main):
#   scripts/ab_bench.sh runs/same_outputs/base-src/build/spotlight build/spotlight \
#       runs/same_outputs/base/multi30k_en_fr/checkpoints/best --runs 5
set -euo pipefail
cd "$(dirname "$0")/.."

[ $# -ge 3 ] || { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
base=$1 new=$2 ckpt=$3
shift 3
runs=5 threads=2 json_out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --json) json_out=$2; shift 2 ;;
    *) echo "ab_bench.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done
for b in "$base" "$new"; do
  [ -x "$b" ] || { echo "ab_bench.sh: $b is not an executable" >&2; exit 2; }
done
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "ab_bench.sh: --runs takes a positive integer" >&2; exit 2; }
out=$(mktemp -d /tmp/spotlight-ab.XXXXXX)
for r in $(seq 1 "$runs"); do
  for side in base new; do
    bin=$base
    [ "$side" = new ] && bin=$new
    echo "ab_bench.sh: run $r/$runs, $side" >&2
    "$bin" bench -c "$ckpt" --threads "$threads" --runs 1 --no-sgemm --json > "$out/${side}_$r.json"
  done
done
/usr/bin/python3 - "$out" "$json_out" <<'EOF'
import glob, json, statistics, sys
out, json_out = sys.argv[1], sys.argv[2]
def load(side):
    return [json.load(open(p)) for p in sorted(glob.glob(f"{out}/{side}_*.json"))]
figures = {
    "train target tok/s": lambda j: j["train"]["tgt_tokens_per_s"],
    "train peak RSS MB": lambda j: j["peak_rss_mb"],
    "greedy target tok/s": lambda j: j["decode"]["greedy"]["tgt_tokens_per_s"],
    "greedy sentences/s": lambda j: j["decode"]["greedy"]["sentences_per_s"],
    "beam5 target tok/s": lambda j: j["decode"]["beam5"]["tgt_tokens_per_s"],
    "beam5 sentences/s": lambda j: j["decode"]["beam5"]["sentences_per_s"],
}
res = {}
print(f"{'figure':24} {'base median (min–max)':>26} {'new median (min–max)':>26} {'new/base':>9}")
for name, get in figures.items():
    row = {}
    for side in ("base", "new"):
        xs = [get(j) for j in load(side)]
        row[side] = {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "runs": xs}
    ratio = row["new"]["median"] / row["base"]["median"]
    row["ratio"] = ratio
    res[name] = row
    cell = lambda s: f"{s['median']:.1f} ({s['min']:.1f}–{s['max']:.1f})"
    print(f"{name:24} {cell(row['base']):>26} {cell(row['new']):>26} {ratio:>9.3f}")
if json_out:
    json.dump(res, open(json_out, "w"), indent=1)
EOF

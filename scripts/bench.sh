#!/usr/bin/env bash
# Spotlight's speed on the multi30k_en_fr model shape, optionally side by side with the PyTorch
# peer (../shared/peers/torch_nmt.py) in the same run: training target tokens/s and ms/step at
# each thread count, greedy and beam-5 decoding of test_2016_flickr (with trained checkpoints),
# training peak RSS, and the sgemm roof. Runs alternate between the two so that drift in the
# machine's speed hits both; each figure is the median of the runs with its min–max spread.
#
# Usage: scripts/bench.sh [options]
#   --threads "2 1"      thread counts to measure training at (default "2 1")
#   --runs N             runs per measurement (default 3)
#   --steps N            timed training steps per Spotlight run (default 20)
#   --checkpoint DIR     Spotlight checkpoint: also time decoding (at the first thread count)
#   --peer               also measure the PyTorch peer (needs python3-torch, python3-sentencepiece)
#   --peer-dir DIR       where torch_nmt.py is (default ../shared/peers)
#   --peer-ckpt FILE     the peer's trained checkpoint.pt: also time its decoding
#   --from DIR           get Multi30k from this local mirror if data/multi30k is missing
#   --json FILE          write all figures as one JSON object to FILE
# Example (the issue's side-by-side table):
#   scripts/bench.sh --peer --checkpoint runs/multi30k_en_fr/checkpoints/best \
#                    --peer-ckpt /tmp/peer-run/checkpoint.pt --json bench.json
set -euo pipefail
cd "$(dirname "$0")/.."

threads="2 1"
runs=3
steps=20
checkpoint=""
peer=0
peer_dir="../shared/peers"
peer_ckpt=""
from=()
json_out=""
while [ $# -gt 0 ]; do
  need() { [ $# -ge 2 ] || { echo "bench.sh: $1 needs a value" >&2; exit 2; }; }
  case "$1" in
    --threads) need "$@"; threads="$2"; shift 2 ;;
    --runs) need "$@"; runs="$2"; shift 2 ;;
    --steps) need "$@"; steps="$2"; shift 2 ;;
    --checkpoint) need "$@"; checkpoint="$2"; shift 2 ;;
    --peer) peer=1; shift ;;
    --peer-dir) need "$@"; peer_dir="$2"; shift 2 ;;
    --peer-ckpt) need "$@"; peer_ckpt="$2"; peer=1; shift 2 ;;
    --from) need "$@"; from=(--from "$2"); shift 2 ;;
    --json) need "$@"; json_out="$2"; shift 2 ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
done
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "bench.sh: --runs must be a positive integer" >&2; exit 2; }
if [ -n "$checkpoint" ] && [ ! -d "$checkpoint" ]; then
  echo "bench.sh: --checkpoint $checkpoint is not a directory" >&2; exit 2
fi
if [ "$peer" = 1 ] && [ ! -f "$peer_dir/torch_nmt.py" ]; then
  echo "bench.sh: no torch_nmt.py in $peer_dir (set --peer-dir)" >&2; exit 2
fi

say() { printf 'bench.sh: %s\n' "$*" >&2; }
if [ "$peer" = 1 ] && ! /usr/bin/python3 -c 'import torch, sentencepiece' 2> /dev/null; then
  echo "bench.sh: the peer needs Debian's python3-torch and python3-sentencepiece:" >&2
  echo "  apt-get install -y --no-install-recommends python3-torch python3-sentencepiece" >&2
  exit 2
fi

say "building build/spotlight (Release)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build -j "$(nproc)" --target spotlight > /dev/null
bin=build/spotlight
[ -d data/multi30k/tok ] || scripts/get_data.sh multi30k "${from[@]}"

out=$(mktemp -d /tmp/spotlight-bench.XXXXXX)
say "raw results in $out"
first=${threads%% *}
for r in $(seq 1 "$runs"); do
  for t in $threads; do
    say "run $r/$runs: spotlight training, $t thread(s)"
    "$bin" bench --threads "$t" --runs 1 --steps "$steps" --no-decode --json \
      > "$out/spotlight_train_t${t}_r${r}.json"
    if [ "$peer" = 1 ]; then
      say "run $r/$runs: peer training, $t thread(s)"
      OMP_WAIT_POLICY=passive PEER_DATA="$PWD/data/multi30k/tok" /usr/bin/python3 \
        "$peer_dir/torch_nmt.py" --bench-only --threads "$t" --bench-warmup 10 --bench-steps 30 \
        --out "$out/peer_train_t${t}_r${r}" > "$out/peer_train_t${t}_r${r}.jsonl"
    fi
  done
  if [ -n "$checkpoint" ]; then
    say "run $r/$runs: spotlight decoding (greedy, beam 5), $first thread(s)"
    "$bin" bench --threads "$first" --checkpoint "$checkpoint" --runs 1 --no-train --no-sgemm \
      --json > "$out/spotlight_decode_r${r}.json"
  fi
  if [ -n "$peer_ckpt" ]; then
    say "run $r/$runs: peer decoding (greedy, beam 5), $first thread(s)"
    OMP_WAIT_POLICY=passive PEER_DATA="$PWD/data/multi30k/tok" /usr/bin/python3 \
      "$peer_dir/torch_nmt.py" --bench-only --no-bench-train --bench-decode --ckpt "$peer_ckpt" \
      --threads "$first" --out "$out/peer_decode_r${r}" > "$out/peer_decode_r${r}.jsonl"
  fi
done

/usr/bin/python3 - "$out" "$threads" "$runs" "$json_out" <<'EOF'
import glob, json, os, statistics, sys
out, threads, runs, json_out = sys.argv[1], sys.argv[2].split(), int(sys.argv[3]), sys.argv[4]

def spread(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return None
    return {"median": round(statistics.median(xs), 1), "min": round(min(xs), 1),
            "max": round(max(xs), 1), "runs": [round(x, 1) for x in xs]}

def jsonl(path, event, **match):
    for line in open(path):
        try:
            j = json.loads(line)
        except ValueError:
            continue
        if j.get("event") == event and all(j.get(k) == v for k, v in match.items()):
            return j
    return None

res = {"threads": threads, "runs": runs, "spotlight": {"train": {}}, "peer": {"train": {}}}
for t in threads:
    sp = [json.load(open(p)) for p in sorted(glob.glob(f"{out}/spotlight_train_t{t}_r*.json"))]
    res["spotlight"]["train"][t] = {
        "tgt_tokens_per_s": spread([s["train"]["tgt_tokens_per_s"] for s in sp]),
        "ms_per_step": spread([s["train"]["ms_per_step"] for s in sp]),
        "gflops": spread([s["train"]["gflops"]["median"] for s in sp]),
        "peak_rss_mb": spread([s["peak_rss_mb"] for s in sp]),
        "sgemm_gflops": spread([s["sgemm_gflops"] for s in sp])}
    pe = sorted(glob.glob(f"{out}/peer_train_t{t}_r*.jsonl"))
    if pe:
        tr = [jsonl(p, "bench_train") for p in pe]
        rss = [jsonl(p, "maxrss_mb") for p in pe]
        res["peer"]["train"][t] = {
            "tgt_tokens_per_s": spread([x and x["tgt_tok_per_s"] for x in tr]),
            "ms_per_step": spread([x and x["ms_per_step"] for x in tr]),
            "gflops": spread([x and x["achieved_gflops"] for x in tr]),
            "peak_rss_mb": spread([x and x["value"] for x in rss])}
sd = [json.load(open(p)) for p in sorted(glob.glob(f"{out}/spotlight_decode_r*.json"))]
if sd:
    res["spotlight"]["decode"] = {m: {k: spread([s["decode"][m][k] for s in sd])
                                      for k in ("sentences_per_s", "tgt_tokens_per_s")}
                                  for m in ("greedy", "beam5")}
pd = sorted(glob.glob(f"{out}/peer_decode_r*.jsonl"))
if pd:
    res["peer"]["decode"] = {}
    for m, mode in (("greedy", "greedy"), ("beam5", "beam")):
        rows = [jsonl(p, "bench_decode", mode=mode) for p in pd]
        res["peer"]["decode"][m] = {"sentences_per_s": spread([r and r["sent_per_s"] for r in rows]),
                                    "tgt_tokens_per_s": spread([r and r["tgt_tok_per_s"] for r in rows])}

def cell(s):
    return "—" if not s else f"{s['median']:.1f} ({s['min']:.1f}–{s['max']:.1f})"

rows = []
for t in threads:
    a, b = res["spotlight"]["train"][t], res["peer"]["train"].get(t, {})
    for key, name in (("tgt_tokens_per_s", "train target tok/s"), ("ms_per_step", "train ms/step"),
                      ("gflops", "train GFLOP/s"), ("peak_rss_mb", "train peak RSS MB")):
        rows.append((f"{name}, {t} thr", a.get(key), b.get(key)))
    rows.append((f"sgemm roof GFLOP/s, {t} thr", a.get("sgemm_gflops"), None))
for m in ("greedy", "beam5"):
    for key, name in (("tgt_tokens_per_s", "target tok/s"), ("sentences_per_s", "sentences/s")):
        a = res["spotlight"].get("decode", {}).get(m, {}).get(key)
        b = res["peer"].get("decode", {}).get(m, {}).get(key)
        if a or b:
            rows.append((f"{m} {name}, {threads[0]} thr", a, b))
print(f"{'metric':34} {'spotlight median (min–max)':>30} {'peer median (min–max)':>30} {'ratio':>7}")
for name, a, b in rows:
    ratio = f"{a['median'] / b['median']:.2f}" if a and b and b["median"] else ""
    print(f"{name:34} {cell(a):>30} {cell(b):>30} {ratio:>7}")
if json_out:
    with open(json_out, "w") as f:
        json.dump(res, f, indent=1)
    print(f"(all figures in {json_out})")
EOF

#!/usr/bin/env bash
# Spotlight's speed side by side with the PyTorch peer (../shared/peers/torch_nmt.py), on the SAME
# model shape on both sides, in one run: training target tokens/s and ms/step at each thread
# count, training peak RSS and the sgemm roof, and greedy and beam-5 decoding of
# test_2016_flickr with a trained model of that shape on each side. Runs alternate between the
# two so that drift in the machine's speed hits both; each figure is the median of the runs with
# its min–max spread.
#
# Two shapes (both with the full output vocabulary, and one dropout rate for residuals,
# attention weights and the feed-forward hidden layer, since the peer has one --dropout):
#   reference  the peer's reference model: d_model 256, 4 heads, ffn 1024, 3+3 layers, dropout 0.1
#   preset     the configs/multi30k_en_fr.json shape (d_model 128, 4 heads, ffn 256, 4+4, 0.2)
#
# Usage: scripts/bench.sh [options]
#   --shapes "reference preset"  shapes to measure (default both, in that order)
#   --threads "2 1"      thread counts to measure training at (default "2 1")
#   --runs N             runs per measurement (default 3)
#   --steps N            timed training steps per Spotlight run (default 20)
#   --peer               also measure the PyTorch peer (needs python3-torch, python3-sentencepiece)
#   --peer-dir DIR       where torch_nmt.py is (default ../shared/peers)
#   --models DIR         trained models for decoding: DIR/<shape>/spotlight/checkpoints/best and
#                        DIR/<shape>/peer/checkpoint.pt (default runs/bench); decoding is timed
#                        for the sides whose model is there
#   --train-minutes M    first train each missing model for M minutes (both sides, each shape)
#   --train-only         stop after training the models (measure later, on a quiet machine)
#   --from DIR           get Multi30k from this local mirror if data/multi30k is missing
#   --json FILE          write all figures as one JSON object to FILE
# Example (the README's speed table; trains the four models first, ~10 minutes each):
#   scripts/bench.sh --peer --train-minutes 10 --runs 3 --json bench.json
set -euo pipefail
cd "$(dirname "$0")/.."

shapes="reference preset"
threads="2 1"
runs=3
steps=20
peer=0
peer_dir="../shared/peers"
models="runs/bench"
train_minutes=0
train_only=0
from=()
json_out=""
while [ $# -gt 0 ]; do
  need() { [ $# -ge 2 ] || { echo "bench.sh: $1 needs a value" >&2; exit 2; }; }
  case "$1" in
    --shapes) need "$@"; shapes="$2"; shift 2 ;;
    --threads) need "$@"; threads="$2"; shift 2 ;;
    --runs) need "$@"; runs="$2"; shift 2 ;;
    --steps) need "$@"; steps="$2"; shift 2 ;;
    --peer) peer=1; shift ;;
    --peer-dir) need "$@"; peer_dir="$2"; shift 2 ;;
    --models) need "$@"; models="$2"; shift 2 ;;
    --train-minutes) need "$@"; train_minutes="$2"; shift 2 ;;
    --train-only) train_only=1; shift ;;
    --from) need "$@"; from=(--from "$2"); shift 2 ;;
    --json) need "$@"; json_out="$2"; shift 2 ;;
    --checkpoint|--peer-ckpt)
      echo "bench.sh: $1 is gone: decoding uses the models in --models DIR (DIR/<shape>/...), so" \
           "that both sides decode with a model of the shape measured; --train-minutes M trains them" >&2
      exit 2 ;;
    -h|--help) sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
done
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "bench.sh: --runs must be a positive integer" >&2; exit 2; }
[[ "$steps" =~ ^[1-9][0-9]*$ ]] || { echo "bench.sh: --steps must be a positive integer" >&2; exit 2; }
[[ "$train_minutes" =~ ^[0-9]+([.][0-9]+)?$ ]] \
  || { echo "bench.sh: --train-minutes must be a number of minutes" >&2; exit 2; }
for t in $threads; do
  [[ "$t" =~ ^[1-9][0-9]*$ ]] || { echo "bench.sh: --threads takes positive integers, got '$t'" >&2; exit 2; }
done
for shape in $shapes; do
  case "$shape" in reference|preset) ;;
    *) echo "bench.sh: unknown shape '$shape' (the shapes are: reference preset)" >&2; exit 2 ;;
  esac
done
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

# One shape, two spellings: `--set` overrides of configs/multi30k_en_fr.json for Spotlight, and
# the peer's shape flags. The preset's figures are read from the config itself.
config=configs/multi30k_en_fr.json
read -r p_d p_h p_f p_e p_l p_p < <(/usr/bin/python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))["model"]
print(m["d_model"], m["heads"], m["ffn"], m["encoder_layers"], m["decoder_layers"], m["dropout"])' "$config")
shape_of() {  # prints: d_model heads ffn enc dec dropout
  case "$1" in
    reference) echo 256 4 1024 3 3 0.1 ;;
    preset) echo "$p_d" "$p_h" "$p_f" "$p_e" "$p_l" "$p_p" ;;
  esac
}
spotlight_sets() {
  local d h f e l p
  read -r d h f e l p < <(shape_of "$1")
  for kv in "model.d_model=$d" "model.heads=$h" "model.ffn=$f" "model.encoder_layers=$e" \
            "model.decoder_layers=$l" "model.dropout=$p" "model.attention_dropout=$p" \
            "model.activation_dropout=$p" "model.output_vocab=all"; do
    printf -- '--set\n%s\n' "$kv"
  done
}
peer_flags() {
  local d h f e l p
  read -r d h f e l p < <(shape_of "$1")
  printf -- '%s\n' --d-model "$d" --heads "$h" --ffn "$f" --layers "$e" "$l" --dropout "$p"
}
peer_env=(env OMP_WAIT_POLICY=passive PEER_DATA="$PWD/data/multi30k/tok")
peer_py() { "${peer_env[@]}" /usr/bin/python3 "$peer_dir/torch_nmt.py" --spm-dir "$models/peer-spm" "$@"; }

# The trained models that decoding needs, trained first if asked for.
mkdir -p "$models"
for shape in $shapes; do
  mapfile -t sets < <(spotlight_sets "$shape")
  mapfile -t pflags < <(peer_flags "$shape")
  sdir="$models/$shape/spotlight"
  if [ ! -d "$sdir/checkpoints/best" ] && [ "$train_minutes" != 0 ]; then
    say "training the Spotlight $shape model for $train_minutes minutes into $sdir"
    rm -rf "$sdir"
    "$bin" train --config "$config" "${sets[@]}" --set "train.max_minutes=$train_minutes" \
      --set train.max_steps=0 --set train.patience=0 --set train.keep_last=1 \
      --set "output_dir=$sdir" > "$models/$shape.spotlight.train.log" 2>&1
  fi
  if [ "$peer" = 1 ] && [ ! -f "$models/$shape/peer/checkpoint.pt" ] && [ "$train_minutes" != 0 ]; then
    say "training the peer $shape model for $train_minutes minutes into $models/$shape/peer"
    mkdir -p "$models/$shape"
    peer_py --threads 2 --max-minutes "$train_minutes" --out "$models/$shape/peer" "${pflags[@]}" \
      > "$models/$shape.peer.train.log" 2>&1
  fi
done

[ "$train_only" = 1 ] && { say "models in $models; measure with the same options without --train-only"; exit 0; }

out=$(mktemp -d /tmp/spotlight-bench.XXXXXX)
say "raw results in $out"
first=${threads%% *}
for r in $(seq 1 "$runs"); do
  for shape in $shapes; do
    mapfile -t sets < <(spotlight_sets "$shape")
    mapfile -t pflags < <(peer_flags "$shape")
    for t in $threads; do
      say "run $r/$runs, $shape shape: spotlight training, $t thread(s)"
      "$bin" bench --config "$config" "${sets[@]}" --threads "$t" --runs 1 --steps "$steps" \
        --no-decode --json > "$out/${shape}_spotlight_train_t${t}_r${r}.json"
      if [ "$peer" = 1 ]; then
        say "run $r/$runs, $shape shape: peer training, $t thread(s)"
        peer_py --bench-only --threads "$t" --bench-warmup 10 --bench-steps 30 "${pflags[@]}" \
          --out "$out/${shape}_peer_train_t${t}_r${r}" > "$out/${shape}_peer_train_t${t}_r${r}.jsonl"
      fi
    done
    if [ -d "$models/$shape/spotlight/checkpoints/best" ]; then
      say "run $r/$runs, $shape shape: spotlight decoding (greedy, beam 5), $first thread(s)"
      "$bin" bench --threads "$first" --checkpoint "$models/$shape/spotlight/checkpoints/best" \
        --runs 1 --no-train --no-sgemm --json > "$out/${shape}_spotlight_decode_r${r}.json"
    fi
    if [ "$peer" = 1 ] && [ -f "$models/$shape/peer/checkpoint.pt" ]; then
      say "run $r/$runs, $shape shape: peer decoding (greedy, beam 5), $first thread(s)"
      peer_py --bench-only --no-bench-train --bench-decode --ckpt "$models/$shape/peer/checkpoint.pt" \
        --threads "$first" "${pflags[@]}" --out "$out/${shape}_peer_decode_r${r}" \
        > "$out/${shape}_peer_decode_r${r}.jsonl"
    fi
  done
done

/usr/bin/python3 - "$out" "$shapes" "$threads" "$runs" "$json_out" <<'EOF'
import glob, json, statistics, sys
out, shapes, threads, runs, json_out = sys.argv[1], sys.argv[2].split(), sys.argv[3].split(), int(sys.argv[4]), sys.argv[5]

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

SHAPE_KEYS = ("d_model", "heads", "ffn", "encoder_layers", "decoder_layers")
def shape(model):
    return {k: model[k] for k in SHAPE_KEYS}

res = {"threads": threads, "runs": runs, "shapes": {}}
for sh in shapes:
    r = res["shapes"][sh] = {"spotlight": {"train": {}}, "peer": {"train": {}}}
    trained_shape = None
    for t in threads:
        sp = [json.load(open(p)) for p in sorted(glob.glob(f"{out}/{sh}_spotlight_train_t{t}_r*.json"))]
        trained_shape = shape(sp[0]["model"])
        r["model"] = sp[0]["model"]
        r["spotlight"]["train"][t] = {
            "tgt_tokens_per_s": spread([s["train"]["tgt_tokens_per_s"] for s in sp]),
            "ms_per_step": spread([s["train"]["ms_per_step"] for s in sp]),
            "gflops": spread([s["train"]["gflops"]["median"] for s in sp]),
            "peak_rss_mb": spread([s["peak_rss_mb"] for s in sp]),
            "sgemm_gflops": spread([s["sgemm_gflops"] for s in sp])}
        pe = sorted(glob.glob(f"{out}/{sh}_peer_train_t{t}_r*.jsonl"))
        if pe:
            tr = [jsonl(p, "bench_train") for p in pe]
            rss = [jsonl(p, "maxrss_mb") for p in pe]
            r["peer"]["train"][t] = {
                "tgt_tokens_per_s": spread([x and x["tgt_tok_per_s"] for x in tr]),
                "ms_per_step": spread([x and x["ms_per_step"] for x in tr]),
                "gflops": spread([x and x["achieved_gflops"] for x in tr]),
                "peak_rss_mb": spread([x and x["value"] for x in rss])}
    sd = [json.load(open(p)) for p in sorted(glob.glob(f"{out}/{sh}_spotlight_decode_r*.json"))]
    if sd:
        if shape(sd[0]["model"]) != trained_shape:
            sys.exit(f"bench.sh: the {sh} Spotlight checkpoint has the shape {shape(sd[0]['model'])}, "
                     f"not {trained_shape}: delete it and train it again (--train-minutes M)")
        r["spotlight"]["decode"] = {m: {k: spread([s["decode"][m][k] for s in sd])
                                        for k in ("sentences_per_s", "tgt_tokens_per_s")}
                                    for m in ("greedy", "beam5")}
    pd = sorted(glob.glob(f"{out}/{sh}_peer_decode_r*.jsonl"))
    if pd:
        r["peer"]["decode"] = {}
        for m, mode in (("greedy", "greedy"), ("beam5", "beam")):
            rows = [jsonl(p, "bench_decode", mode=mode) for p in pd]
            r["peer"]["decode"][m] = {"sentences_per_s": spread([x and x["sent_per_s"] for x in rows]),
                                      "tgt_tokens_per_s": spread([x and x["tgt_tok_per_s"] for x in rows]),
                                      "bleu": rows[0] and rows[0].get("bleu")}

def cell(s):
    return "—" if not s else f"{s['median']:.1f} ({s['min']:.1f}–{s['max']:.1f})"

for sh in shapes:
    r = res["shapes"][sh]
    m = r["model"]
    print(f"\n{sh} shape: d_model {m['d_model']}, {m['heads']} heads, ffn {m['ffn']}, "
          f"{m['encoder_layers']}+{m['decoder_layers']} layers, dropout {m['dropout']:.2g} "
          f"(residual, attention, ffn), full output vocabulary")
    rows = []
    for t in threads:
        a, b = r["spotlight"]["train"][t], r["peer"]["train"].get(t, {})
        for key, name in (("tgt_tokens_per_s", "train target tok/s"), ("ms_per_step", "train ms/step"),
                          ("gflops", "train GFLOP/s"), ("peak_rss_mb", "train peak RSS MB")):
            rows.append((f"{name}, {t} thr", a.get(key), b.get(key)))
        rows.append((f"sgemm roof GFLOP/s, {t} thr", a.get("sgemm_gflops"), None))
    for mo in ("greedy", "beam5"):
        for key, name in (("tgt_tokens_per_s", "target tok/s"), ("sentences_per_s", "sentences/s")):
            a = r["spotlight"].get("decode", {}).get(mo, {}).get(key)
            b = r["peer"].get("decode", {}).get(mo, {}).get(key)
            if a or b:
                rows.append((f"{mo} {name}, {threads[0]} thr", a, b))
    print(f"{'metric':34} {'spotlight median (min–max)':>30} {'peer median (min–max)':>30} {'ratio':>7}")
    for name, a, b in rows:
        ratio = f"{a['median'] / b['median']:.2f}" if a and b and b["median"] else ""
        print(f"{name:34} {cell(a):>30} {cell(b):>30} {ratio:>7}")
if json_out:
    with open(json_out, "w") as f:
        json.dump(res, f, indent=1)
    print(f"(all figures in {json_out})")
EOF

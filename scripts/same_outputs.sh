#!/usr/bin/env bash
# Shows that a change leaves Spotlight's outputs and checkpoints byte for byte as they were: a
# refactoring must not move a single bit. Builds the base revision (in a git worktree) and the
# working tree, then with each binary in turn, on this machine and the same thread count:
#   - trains each committed preset for a short run (--steps updates, validated at the end) and
#     compares every file of its checkpoints with sha256sum: weights, optimizer state, vocabulary
#     record, config. trainer_state.json and metrics.jsonl are compared with their wall-clock
#     fields removed (train_seconds; elapsed_s, eta_s, tokens/s, peak RSS, valid_s), which no two
#     runs share (and an epoch line's seconds); the training peak RSS of each run is reported;
#   - translates test_2016_flickr with a multi30k_en_fr model (--model CKPT, else the short
#     run's checkpoint, trained by the base binary, so both sides decode the same weights):
#     beam (the checkpoint's decode settings), greedy, 5-best lists with word alignments, and
#     forced-decoding scores, and compares the outputs with cmp.
# Exit status 0 only when everything is identical. The presets' data come from scripts/get_data.sh
# (--from DIR for a local mirror); tiny's toy language is generated; transformer_base's WMT14 is
# not in the mirror, so it runs on Multi30k (its own 8k BPE vocabulary, the first 100 validation
# pairs) for --base-steps updates of 6 batches.
#
# Usage: scripts/same_outputs.sh [options]
#   --base REV         the revision to compare against (default: HEAD, i.e. uncommitted changes)
#   --base-bin FILE    a spotlight binary already built from --base (skips building it)
#   --steps N          updates per preset run (default 300)
#   --base-steps N     updates of the transformer_base run (default 4)
#   --presets "..."    presets to run (default: every configs/*.json)
#   --model CKPT       the multi30k_en_fr model to translate with (default: the short run's)
#   --threads N        compute threads for everything (default 2)
#   --out DIR          where runs and outputs go (default runs/same_outputs)
#   --from DIR         local data mirror for scripts/get_data.sh
#   --compare-only     compare what an earlier run left in --out, without building or running
# Example (a refactoring on top of main, before committing it):
#   scripts/same_outputs.sh --base main --from ../shared/data
set -euo pipefail
cd "$(dirname "$0")/.."

base=HEAD
base_bin=""
steps=300
base_steps=4
presets=""
model=""
threads=2
out=runs/same_outputs
from=()
compare_only=0
while [ $# -gt 0 ]; do
  need() { [ $# -ge 2 ] || { echo "same_outputs.sh: $1 needs a value" >&2; exit 2; }; }
  case "$1" in
    --base) need "$@"; base="$2"; shift 2 ;;
    --base-bin) need "$@"; base_bin="$2"; shift 2 ;;
    --steps) need "$@"; steps="$2"; shift 2 ;;
    --base-steps) need "$@"; base_steps="$2"; shift 2 ;;
    --presets) need "$@"; presets="$2"; shift 2 ;;
    --model) need "$@"; model="$2"; shift 2 ;;
    --threads) need "$@"; threads="$2"; shift 2 ;;
    --out) need "$@"; out="$2"; shift 2 ;;
    --from) need "$@"; from=(--from "$2"); shift 2 ;;
    --compare-only) compare_only=1; shift ;;
    -h|--help) sed -n '2,31p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "same_outputs.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
done
for v in "$steps" "$base_steps" "$threads"; do
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || { echo "same_outputs.sh: --steps, --base-steps and --threads take positive integers" >&2; exit 2; }
done
rev=$(git rev-parse --verify --quiet "$base^{commit}") \
  || { echo "same_outputs.sh: '$base' is not a revision of this repository" >&2; exit 2; }
[ -n "$presets" ] || presets=$(cd configs && ls *.json | sed 's/\.json$//' | tr '\n' ' ')
for p in $presets; do
  [ -f "configs/$p.json" ] || { echo "same_outputs.sh: no preset configs/$p.json" >&2; exit 2; }
done
[ -z "$model" ] || [ -f "$model/model.safetensors" ] \
  || { echo "same_outputs.sh: --model $model is not a checkpoint directory (no model.safetensors)" >&2; exit 2; }

say() { printf 'same_outputs.sh: %s\n' "$*" >&2; }
mkdir -p "$out"
out=$(cd "$out" && pwd)

# The two binaries: the base revision built in a worktree (or --base-bin), the working tree in
# build/.
if [ "$compare_only" = 1 ]; then
  base_bin=/bin/true  # nothing is run
elif [ -z "$base_bin" ]; then
  wt="$out/base-src"
  if [ "$(git -C "$wt" rev-parse HEAD 2> /dev/null)" != "$rev" ]; then
    git worktree remove --force "$wt" 2> /dev/null || rm -rf "$wt"
    git worktree add --detach "$wt" "$rev" > /dev/null
  fi
  say "building the base ${rev:0:12} in $wt/build"
  cmake -S "$wt" -B "$wt/build" -DCMAKE_BUILD_TYPE=Release -DSPOTLIGHT_TESTS=OFF > /dev/null
  cmake --build "$wt/build" -j "$(nproc)" --target spotlight > /dev/null
  base_bin="$wt/build/spotlight"
fi
[ -x "$base_bin" ] || { echo "same_outputs.sh: --base-bin $base_bin is not an executable" >&2; exit 2; }
base_bin=$(cd "$(dirname "$base_bin")" && pwd)/$(basename "$base_bin")
if [ "$compare_only" = 0 ]; then
  say "building the working tree in build/"
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > /dev/null
  cmake --build build -j "$(nproc)" --target spotlight > /dev/null
fi
declare -A bin=([base]="$base_bin" [new]="$PWD/build/spotlight")

# Data for the presets.
need_data() { [ -d "data/$1" ] || scripts/get_data.sh "$1" "${from[@]}"; }
need_data multi30k
case " $presets " in *" tatoeba_en_fr "*) need_data tatoeba ;; esac
mkdir -p "$out/data"
if [[ " $presets " == *" tiny "* ]]; then  # tiny's toy language, as the tests generate it
  scripts/toy_language.py "$out/data/tiny" 2024 2000 100
fi
head -100 data/multi30k/tok/val.en > "$out/data/base.valid.en"
head -100 data/multi30k/tok/val.fr > "$out/data/base.valid.fr"

# Per preset: the --set overrides of its short run (the run directory is the same path for both
# sides, so that config.json matches; each result is moved aside).
overrides() {
  local p=$1 n=$steps
  local o=(--set "train.threads=$threads" --set train.max_minutes=0 --set train.patience=0)
  case "$p" in
    tiny)
      o+=(--set "data.train=[\"$out/data/tiny.train.en\",\"$out/data/tiny.train.fr\"]"
          --set "data.valid=[\"$out/data/tiny.valid.en\",\"$out/data/tiny.valid.fr\"]"
          --set "vocab.path=\"$out/data/tiny.spm40.model\"") ;;
    transformer_base)
      n=$base_steps
      o+=(--set 'data.train=["data/multi30k/tok/train.en","data/multi30k/tok/train.fr"]'
          --set "data.valid=[\"$out/data/base.valid.en\",\"$out/data/base.valid.fr\"]"
          --set "vocab.path=\"$out/data/base.bpe8k.model\"" --set vocab.size=8000) ;;
  esac
  o+=(--set "train.max_steps=$n" --set "train.valid_interval=$n" --set "output_dir=\"$out/run\"")
  printf '%s\n' "${o[@]}"
}

# Strips the wall-clock fields from a trainer_state.json or metrics.jsonl, in place.
strip_clock() {
  /usr/bin/python3 - "$1" <<'EOF'
import json, sys
path = sys.argv[1]
clock = {"train_seconds", "elapsed_s", "eta_s", "tgt_tokens_per_s", "peak_rss_mb", "valid_s", "seconds"}
lines = open(path).read().splitlines()
if path.endswith(".jsonl"):
    rows = [json.loads(l) for l in lines if l.strip()]
    text = "\n".join(json.dumps({k: v for k, v in r.items() if k not in clock}, sort_keys=True) for r in rows)
else:
    text = json.dumps({k: v for k, v in json.load(open(path)).items() if k not in clock}, sort_keys=True, indent=1)
open(path + ".noclock", "w").write(text + "\n")
EOF
}

failed=0
report=()
for p in $presets; do
  mapfile -t sets < <(overrides "$p")
  for side in base new; do
    [ "$compare_only" = 1 ] && { strip_clock "$out/$side/$p/metrics.jsonl";
      for f in "$out/$side/$p"/checkpoints/*/trainer_state.json; do strip_clock "$f"; done; continue; }
    say "$p: training with the $side binary"
    rm -rf "$out/run" "$out/$side/$p"
    mkdir -p "$out/$side"
    /usr/bin/time -f '%M' -o "$out/$side/$p.rss" "${bin[$side]}" train --config "configs/$p.json" \
      "${sets[@]}" > "$out/$side/$p.log" 2>&1 || { say "$p: the $side run failed (see $out/$side/$p.log)"; exit 1; }
    mv "$out/run" "$out/$side/$p"
    for f in "$out/$side/$p"/checkpoints/*/trainer_state.json "$out/$side/$p/metrics.jsonl"; do
      strip_clock "$f"
    done
  done
  # Every checkpoint file, and the clock-free trainer states and metrics.
  (cd "$out/base/$p" && find checkpoints metrics.jsonl.noclock -type f ! -name trainer_state.json | sort \
     | xargs sha256sum) > "$out/$p.sha256"
  files=$(wc -l < "$out/$p.sha256")
  if (cd "$out/new/$p" && sha256sum --quiet -c "$out/$p.sha256" > "$out/$p.check" 2>&1) \
     && [ "$(cd "$out/new/$p" && find checkpoints -type f | wc -l)" = "$(cd "$out/base/$p" && find checkpoints -type f | wc -l)" ]; then
    verdict="identical"
  else
    verdict="DIFFERENT: $(tr '\n' ' ' < "$out/$p.check")"
    failed=1
  fi
  rss_b=$(( $(cat "$out/base/$p.rss") / 1024 )) rss_n=$(( $(cat "$out/new/$p.rss") / 1024 ))
  report+=("$(printf '%-18s %3s files  %-10s peak RSS %5s MB → %5s MB' "$p" "$files" "$verdict" "$rss_b" "$rss_n")")
done

# Translations of test_2016_flickr by the multi30k_en_fr model, both binaries.
ckpt="$model"
if [ -z "$ckpt" ] && [ -d "$out/base/multi30k_en_fr/checkpoints/best" ]; then
  ckpt="$out/base/multi30k_en_fr/checkpoints/best"
fi
if [ -n "$ckpt" ]; then
  src=data/multi30k/tok/test_2016_flickr.en
  ref=data/multi30k/tok/test_2016_flickr.fr
  for side in base new; do
    [ "$compare_only" = 1 ] && continue
    say "translating $src with the $side binary ($ckpt)"
    b=${bin[$side]} d="$out/$side/translate"
    mkdir -p "$d"
    "$b" translate -c "$ckpt" --threads "$threads" -i "$src" -o "$d/beam.fr" 2> /dev/null
    "$b" translate -c "$ckpt" --threads "$threads" -i "$src" -o "$d/greedy.fr" --greedy 2> /dev/null
    "$b" translate -c "$ckpt" --threads "$threads" -i "$src" -o "$d/nbest.fr" --nbest 5 --beam 5 \
      --alignment 2> /dev/null
    "$b" score -c "$ckpt" --threads "$threads" --src "$src" --tgt "$ref" -o "$d/score.txt" 2> /dev/null
  done
  for f in beam.fr greedy.fr nbest.fr score.txt; do
    if cmp -s "$out/base/translate/$f" "$out/new/translate/$f"; then
      verdict="identical  $(sha256sum < "$out/new/translate/$f" | cut -c1-16)…, $(wc -l < "$out/new/translate/$f") lines"
    else
      verdict="DIFFERENT: $(cmp "$out/base/translate/$f" "$out/new/translate/$f" 2>&1 | head -1 || true)"
      if [ "$f" = score.txt ]; then  # how far apart the log-probabilities are
        verdict+=$(paste "$out/base/translate/$f" "$out/new/translate/$f" | awk -F'\t' '
          { d = $2 - $6; if (d < 0) d = -d; if (d > m) m = d; if ($2 != $6) n++ }
          END { printf " (%d of %d lines; max |log p difference| %.2g)", n, NR, m }')
      fi
      failed=1
    fi
    report+=("$(printf 'translate %-9s %s' "$f" "$verdict")")
  done
fi

echo "base ${rev:0:12} against the working tree ($(git describe --always --dirty)), $threads threads:"
printf '  %s\n' "${report[@]}"
[ "$failed" = 0 ] && echo "all identical" || { echo "DIFFERENCES FOUND (files in $out)"; exit 1; }

#!/usr/bin/env bash
# From nothing to a translated sentence in about ten minutes on two cores:
#   1. installs the dependencies (Debian packages) and builds Spotlight (Release),
#   2. gets Multi30k English–French (downloads it, or copies a local mirror with --from DIR),
#   3. trains configs/quickstart.json on Multi30k's raw, cased text (a SentencePiece vocabulary,
#      then ~9 minutes of training),
#   4. evaluates on test_2016_flickr against the raw references (sacreBLEU's default: 13a
#      tokenizer, cased; BLEU and chrF, beam 5) and translates a few ordinary sentences.
#
# Usage: scripts/quickstart.sh [--from DIR] [--fresh]
#   --from DIR  copy Multi30k from a local mirror laid out as DIR/multi30k/{raw,tok}/...
#               (for machines without internet), instead of downloading it
#   --fresh     delete a previous quickstart run (runs/quickstart) and train again
set -euo pipefail
cd "$(dirname "$0")/.."

from=()
fresh=0
while [ $# -gt 0 ]; do
  case "$1" in
    --from) [ $# -ge 2 ] || { echo "quickstart.sh: --from needs a directory" >&2; exit 2; }
            from=(--from "$2"); shift 2 ;;
    --fresh) fresh=1; shift ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "quickstart.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
done

say() { printf '\n== %s\n' "$*" >&2; }
start=$(date +%s)

say "1/4 installing dependencies and building (Release) in build/"
scripts/install_deps.sh --no-torch --no-fuzz
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSPOTLIGHT_TESTS=OFF > /dev/null
cmake --build build -j "$(nproc)" --target spotlight
bin=build/spotlight

say "2/4 getting Multi30k English–French into data/multi30k"
scripts/get_data.sh multi30k "${from[@]}"

run=runs/quickstart
if [ "$fresh" = 1 ]; then rm -rf "$run"; fi
if [ -d "$run/checkpoints/best" ] && [ ! -e "$run/.incomplete" ]; then
  say "3/4 a trained quickstart model is already in $run (use --fresh to train again)"
else
  say "3/4 training configs/quickstart.json (~9 minutes; progress below, log in $run/train.log)"
  mkdir -p "$run" && touch "$run/.incomplete"
  resume=()
  [ -d "$run/checkpoints/last" ] && resume=(--resume)
  "$bin" train --config configs/quickstart.json "${resume[@]}"
  rm -f "$run/.incomplete"
fi

say "4/4 evaluating on test_2016_flickr (beam 5; 13a, cased, raw references) and translating"
"$bin" eval --checkpoint "$run/checkpoints/best" --src data/multi30k/raw/test_2016_flickr.en \
  --ref data/multi30k/raw/test_2016_flickr.fr --tokenize 13a --beam 5 \
  --hyp-out "$run/test_2016_flickr.hyp.fr"
printf '%s\n' "A man in a blue shirt is riding a bicycle down the street." \
  "Two dogs are playing in the snow." \
  "A little girl is eating an ice cream cone. Her brother is sitting on a bench." > "$run/examples.en"
echo >&2
paste -d '\n' "$run/examples.en" <("$bin" translate --checkpoint "$run/checkpoints/best" \
  -i "$run/examples.en" 2>/dev/null) | sed 'n;s/^/  → /'

say "done in $(( ($(date +%s) - start) / 60 )) min $(( ($(date +%s) - start) % 60 )) s. Translate your own text with:"
echo "  echo 'A dog runs on the beach.' | $bin translate --checkpoint $run/checkpoints/best" >&2
echo "  $bin translate -c $run/checkpoints/best      # type sentences; each answer comes as you press Enter" >&2

#!/usr/bin/env bash
# Data-scale benchmark: corpora of 100k, 1M and 10M sentence pairs, generated here by joining two
# random Tatoeba pairs into one (line i = en[a] + " " + en[b], fr[a] + " " + fr[b]; nothing
# large is committed; the files live under --work and are removed at the end unless --keep).
# For each size:
#   - encode: `spotlight prepare` (2 threads): wall time, pairs/s, store size on disk, peak RSS;
#   - train: `spotlight train` of the tatoeba_en_fr shape (d256, 3+3, ffn 1024) for 50 updates
#     from the store: time from start to the first update, wall time, peak RSS;
#   - vocabulary: a SentencePiece vocabulary trained from a bounded random sample
#     (vocab.input_sentence_size, default 200000 lines) of the 100k and of the 10M corpus:
#     wall time and peak RSS (the sample, not the corpus, sets its memory).
# All sizes share one vocabulary (trained on the 100k corpus, its record removed so that other
# corpora may use it), so encode and train figures differ only by corpus size.
# Prints a Markdown table and the growth per million pairs; --json FILE writes the figures.
#
# Usage: scripts/bench_data.sh [--sizes "100000 1000000 10000000"] [--work DIR] [--keep]
#        [--sample N] [--threads N] [--json FILE]
set -euo pipefail
cd "$(dirname "$0")/.."

sizes="100000 1000000 10000000"
work=/tmp/spotlight_bench_data
keep=0
sample=200000
threads=2
json_out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --sizes) sizes=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --sample) sample=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --json) json_out=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench_data.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
done
bin=$PWD/build/spotlight
[ -x "$bin" ] || { echo "bench_data.sh: build first ($bin is missing)" >&2; exit 2; }
for f in data/tatoeba/train.en data/tatoeba/train.fr data/tatoeba/valid.en data/tatoeba/valid.fr; do
  [ -f "$f" ] || { echo "bench_data.sh: no $f (scripts/get_data.sh tatoeba)" >&2; exit 2; }
done
py=/usr/bin/python3
mkdir -p "$work"
[ "$keep" = 1 ] || trap 'rm -rf "$work"' EXIT
results=$work/results.jsonl
: > "$results"

# /usr/bin/time's figures of a command: "<wall seconds> <peak RSS KB>" into $work/time.
timed() { /usr/bin/time -f "%e %M" -o "$work/time" "$@"; }

config() {  # config <pairs> <out>: the tatoeba_en_fr shape on the generated corpus
  cat > "$2" <<JSON
{"data": {"train": ["$work/c$1.en", "$work/c$1.fr"],
          "valid": ["$PWD/data/tatoeba/valid.en", "$PWD/data/tatoeba/valid.fr"], "max_len": 100,
          "store": "$work/store$1"},
 "vocab": {"path": "$work/vocab.model", "size": 8000, "character_coverage": 0.9999,
           "input_sentence_size": $sample},
 "model": {"d_model": 256, "heads": 4, "ffn": 1024, "encoder_layers": 3, "decoder_layers": 3},
 "train": {"lr": 1e-3, "warmup": 1000, "max_steps": 50, "max_tokens": 4096, "log_interval": 1,
           "valid_interval": 100000, "threads": $threads},
 "output_dir": "$work/run$1"}
JSON
}

for n in $sizes; do
  if [ ! -f "$work/c$n.fr" ]; then
    echo "generating $n pairs..." >&2
    "$py" - "$n" "$work/c$n" <<'PY'
import random, sys
n, out = int(sys.argv[1]), sys.argv[2]
en = open("data/tatoeba/train.en", encoding="utf-8").read().split("\n")[:-1]
fr = open("data/tatoeba/train.fr", encoding="utf-8").read().split("\n")[:-1]
rng = random.Random(n)
with open(out + ".en", "w", encoding="utf-8") as e, open(out + ".fr", "w", encoding="utf-8") as f:
    for _ in range(n):
        a, b = rng.randrange(len(en)), rng.randrange(len(en))
        e.write(en[a] + " " + en[b] + "\n")
        f.write(fr[a] + " " + fr[b] + "\n")
PY
  fi
done
first=${sizes%% *}
last=${sizes##* }

# The vocabulary from a bounded sample of the smallest and of the largest corpus.
for n in $(printf '%s\n' "$first" "$last" | sort -un); do
  config "$n" "$work/vocab$n.json"
  rm -f "$work/vocab$n.model" "$work/vocab$n.model.json"
  echo "vocabulary from the $n-pair corpus (a sample of at most $sample lines)..." >&2
  timed "$bin" prepare -c "$work/vocab$n.json" --vocab-only --set "vocab.path=$work/vocab$n.model" \
    --threads "$threads" > /dev/null 2> "$work/vocab$n.log" || { cat "$work/vocab$n.log" >&2; exit 1; }
  read -r wall rss < "$work/time"
  echo "{\"kind\": \"vocab\", \"pairs\": $n, \"seconds\": $wall, \"peak_rss_kb\": $rss}" >> "$results"
done
# One vocabulary for every size (the smallest corpus's, without its record, which names that
# corpus), so that encode and train differ only in the corpus.
cp "$work/vocab$first.model" "$work/vocab.model"

for n in $sizes; do
  config "$n" "$work/c$n.json"
  rm -rf "$work/store$n" "$work/run$n"
  echo "encoding $n pairs..." >&2
  timed "$bin" prepare -c "$work/c$n.json" --threads "$threads" --json > "$work/prepare$n.jsonl" \
    2> "$work/prepare$n.log" || { cat "$work/prepare$n.log" >&2; exit 1; }
  read -r wall rss < "$work/time"
  "$py" - "$n" "$wall" "$rss" "$work/prepare$n.jsonl" >> "$results" <<'PY'
import json, sys
n, wall, rss, path = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
train = [json.loads(l) for l in open(path) if json.loads(l)["corpus"] == "train"][0]
print(json.dumps({"kind": "encode", "pairs": n, "seconds": wall, "peak_rss_kb": rss,
                  "encode_seconds": train["seconds"], "pairs_per_second": train["pairs_per_second"],
                  "store_bytes": train["bytes"], "tokens": train["tokens"]}))
PY
  echo "training 50 updates on $n pairs..." >&2
  start=$(date +%s.%N)
  timed "$bin" train -c "$work/c$n.json" --threads "$threads" > /dev/null 2> "$work/train$n.log" ||
    { cat "$work/train$n.log" >&2; exit 1; }
  read -r wall rss < "$work/time"
  "$py" - "$n" "$wall" "$rss" "$start" "$work/run$n/metrics.jsonl" >> "$results" <<'PY'
import json, sys
n, wall, rss, start, path = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
steps = [json.loads(l) for l in open(path) if json.loads(l).get("type") == "train"]
first = min(s for s in steps if s["step"] == 1)
print(json.dumps({"kind": "train", "pairs": n, "seconds": wall, "peak_rss_kb": rss,
                  "first_update_seconds": first["unix_time"] - start, "updates": steps[-1]["step"]}))
PY
done

"$py" - "$results" "$json_out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
by = lambda kind: {r["pairs"]: r for r in rows if r["kind"] == kind}
enc, tr, voc = by("encode"), by("train"), by("vocab")
print("| pairs | encode s | pairs/s (encode) | store MB | bytes/pair | first update s | train 50 updates s | train peak RSS MB | prepare peak RSS MB |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for n in sorted(tr):
    e, t = enc[n], tr[n]
    print(f"| {n:,} | {e['encode_seconds']:.1f} | {e['pairs_per_second']:,.0f} | {e['store_bytes']/1e6:.1f} | "
          f"{e['store_bytes']/n:.1f} | {t['first_update_seconds']:.1f} | {t['seconds']:.1f} | "
          f"{t['peak_rss_kb']/1024:.1f} | {e['peak_rss_kb']/1024:.1f} |")
ns = sorted(tr)
if len(ns) > 1:
    a, b = ns[0], ns[-1]
    dm = (b - a) / 1e6
    print(f"\ntrain peak RSS: {tr[b]['peak_rss_kb']/1024 - tr[a]['peak_rss_kb']/1024:+.1f} MB from {a:,} to {b:,} pairs "
          f"({(tr[b]['peak_rss_kb'] - tr[a]['peak_rss_kb'])/1024/dm:.1f} MB per million pairs); "
          f"prepare: {(enc[b]['peak_rss_kb'] - enc[a]['peak_rss_kb'])/1024/dm:.1f} MB per million pairs")
for n in sorted(voc):
    v = voc[n]
    print(f"vocabulary from {n:,} pairs: {v['seconds']:.1f} s, peak RSS {v['peak_rss_kb']/1024:.1f} MB")
if sys.argv[2]:
    json.dump(rows, open(sys.argv[2], "w"), indent=1)
PY

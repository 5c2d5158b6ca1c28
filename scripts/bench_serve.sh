#!/usr/bin/env bash
# Load benchmark of `spotlight serve`, loopback only and bounded in requests and time. With one
# checkpoint (default: the multi30k_en_fr model) and the sentences of test_2016_flickr:
#   - the file rate: `spotlight translate` of the whole file, batched (the batch-optimal rate);
#   - one sentence alone: the first N sentences typed into `spotlight translate` one at a time
#     (a pipe; each answer awaited before the next line), the time of each;
#   - the server with 1, 4, 16 and 64 clients, each sending one sentence at a time
#     (LibreTranslate's POST /translate, keep-alive) until every sentence is translated once:
#     sentences/s, p50/p95/p99 latency, mean batch size (from /metrics); once per --workers
#     count, the servers alternating within each run;
#   - a soak at 16 clients for --soak-minutes: the server's RSS at its start and end.
# Every figure but the soak is the median of --runs runs (min–max beside it), alternating.
# Prints a Markdown table; --json FILE writes everything. Needs /usr/bin/python3 (stdlib only).
#
# Usage: scripts/bench_serve.sh [options]
#   -c CKPT              checkpoint (default runs/multi30k_en_fr/checkpoints/best)
#   --src FILE           sentences (default data/multi30k/tok/test_2016_flickr.en)
#   --clients "1 4 16 64"  concurrency levels
#   --runs N             runs per figure (default 3)
#   --threads N          compute threads for translate and serve (default 2)
#   --workers "1 2"      the servers' --workers counts, each measured (default 1)
#   --compute-type T     float or int8, for translate and serve (default: the checkpoint's)
#   --alone N            sentences timed alone (default 200); at 1 client the same sentences'
#                        latencies are compared with these, sentence by sentence
#   --soak-minutes M     soak length (default 10; 0 skips it)
#   --json FILE          write the figures as JSON
# Example: scripts/bench_serve.sh -c runs/multi30k_en_fr --runs 3 --json serve_bench.json
set -euo pipefail
cd "$(dirname "$0")/.."

ckpt=runs/multi30k_en_fr/checkpoints/best
src=data/multi30k/tok/test_2016_flickr.en
clients="1 4 16 64"
runs=3
threads=2
workers="1"
compute_type=""
alone=200
soak=10
json_out=""
while [ $# -gt 0 ]; do
  case "$1" in
    -c) ckpt=$2; shift 2 ;;
    --src) src=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --workers) workers=$2; shift 2 ;;
    --compute-type) compute_type=$2; shift 2 ;;
    --alone) alone=$2; shift 2 ;;
    --soak-minutes) soak=$2; shift 2 ;;
    --json) json_out=$2; shift 2 ;;
    -h|--help) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench_serve.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
done
bin=build/spotlight
[ -x "$bin" ] || { echo "bench_serve.sh: build first ($bin is missing)" >&2; exit 2; }
[ -f "$src" ] || { echo "bench_serve.sh: no $src (scripts/get_data.sh multi30k)" >&2; exit 2; }
"$bin" info -c "$ckpt" > /dev/null || exit 2
for w in $workers; do
  case "$w" in ''|*[!0-9]*|0) echo "bench_serve.sh: --workers takes counts of 1 or more, not '$w'" >&2; exit 2 ;; esac
done
case "$compute_type" in
  ''|float|int8) ;;
  *) echo "bench_serve.sh: --compute-type takes float or int8, not '$compute_type'" >&2; exit 2 ;;
esac
ct_flag=()
[ -n "$compute_type" ] && ct_flag=(--compute-type "$compute_type")
py=/usr/bin/python3
work=$(mktemp -d)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2> /dev/null && wait "$server_pid" 2> /dev/null
  rm -rf "$work"
}
trap cleanup EXIT
say() { echo "bench_serve.sh: $*" >&2; }
now() { date +%s.%N; }
diff_s() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", b - a }'; }
n_src=$(wc -l < "$src")

start_server() {  # [workers]
  "$bin" serve -c "$ckpt" --port 0 --threads "$threads" --workers "${1:-1}" "${ct_flag[@]}" \
    --http-threads 80 --max-queue 4096 > "$work/serve.out" 2> "$work/serve.err" &
  server_pid=$!
  for _ in $(seq 600); do
    grep -q "^listening on " "$work/serve.out" 2> /dev/null && break
    kill -0 "$server_pid" 2> /dev/null || { cat "$work/serve.err" >&2; exit 1; }
    sleep 0.1
  done
  url=$(sed -n 's/^listening on //p' "$work/serve.out")
}
stop_server() {
  kill "$server_pid"
  wait "$server_pid" || true
  server_pid=""
}
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$server_pid/status"; }

results="$work/results.jsonl"
: > "$results"
for run in $(seq "$runs"); do
  say "run $run of $runs: translate the file ($n_src sentences)"
  t0=$(now)
  "$bin" translate -c "$ckpt" -i "$src" -o "$work/file.fr" --threads "$threads" "${ct_flag[@]}" 2> /dev/null
  t1=$(now)
  echo "{\"kind\": \"file\", \"seconds\": $(diff_s "$t0" "$t1")}" >> "$results"
  say "run $run: the first $alone sentences alone, typed into translate one at a time"
  SPOTLIGHT=$bin "$py" scripts/serve_load.py alone "$ckpt" "$src" --sentences "$alone" \
    --threads "$threads" "${ct_flag[@]}" | sed 's/^{/{"kind": "alone", /' >> "$results"
  for w in $workers; do
    start_server "$w"
    for c in $clients; do
      say "run $run: $c clients, $w worker(s)"
      "$py" scripts/serve_load.py load "$url" "$src" --clients "$c" |
        sed "s/^{/{\"kind\": \"serve\", \"workers\": $w, /" >> "$results"
    done
    stop_server
  done
done
if [ "$soak" != 0 ]; then
  say "soak: 16 clients for $soak minutes"
  start_server
  "$py" scripts/serve_load.py load "$url" "$src" --clients 16 > /dev/null  # warm: every length once
  rss0=$(rss_kb)
  "$py" scripts/serve_load.py soak "$url" "$src" --clients 16 --seconds "$((soak * 60))" > "$work/soak.json"
  rss1=$(rss_kb)
  sed "s/^{/{\"kind\": \"soak\", \"rss_start_kb\": $rss0, \"rss_end_kb\": $rss1, /" "$work/soak.json" >> "$results"
  stop_server
fi

"$py" - "$results" "$json_out" "$n_src" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
out_path, n = sys.argv[2], int(sys.argv[3])
def spread(xs):
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "runs": xs}
def fmt(s, f="%.1f"):
    return (f + " (" + f + "–" + f + ")") % (s["median"], s["min"], s["max"])
file_rate = spread([n / r["seconds"] for r in rows if r["kind"] == "file"])
alone_rows = [r for r in rows if r["kind"] == "alone"]
alone_ms = spread([r["median_ms"] for r in alone_rows])
# Per sentence, its median time alone over the runs.
per_alone = [statistics.median(r["by_sentence_ms"][i] for r in alone_rows)
             for i in range(alone_rows[0]["sentences"])]
report = {"file_sentences_per_s": file_rate, "alone_ms_per_sentence": alone_ms, "serve": {}}
print("| | sentences/s | p50 ms | p95 ms | p99 ms | mean batch | errors |")
print("| --- | --- | --- | --- | --- | --- | --- |")
print("| `translate` of the file | %s | | | | | |" % fmt(file_rate))
print("| one sentence alone, typed into `translate` | | %s | | | 1 | |" % fmt(alone_ms, "%.2f"))
levels = sorted({r["clients"] for r in rows if r["kind"] == "serve"})
worker_counts = sorted({r.get("workers", 1) for r in rows if r["kind"] == "serve"})
key = lambda c, w: str(c) if len(worker_counts) == 1 else "%d/w%d" % (c, w)
for w in worker_counts:
    for c in levels:
        rs = [r for r in rows if r["kind"] == "serve" and r["clients"] == c and r.get("workers", 1) == w]
        s = {k: spread([r[k] for r in rs]) for k in
             ("sentences_per_s", "p50_ms", "p95_ms", "p99_ms", "mean_batch")}
        s["errors"] = sum(r["errors"] for r in rs)
        report["serve"][key(c, w)] = s
        print("| serve, %d clients%s | %s | %s | %s | %s | %s | %d |" % (
            c, "" if len(worker_counts) == 1 else ", --workers %d" % w, fmt(s["sentences_per_s"]),
            fmt(s["p50_ms"], "%.2f"), fmt(s["p95_ms"], "%.2f"), fmt(s["p99_ms"], "%.2f"),
            fmt(s["mean_batch"]), s["errors"]))
for w in worker_counts:
    top = report["serve"][key(max(levels), w)]["sentences_per_s"]["median"]
    print("\n%d clients%s reach %.0f%% of the file rate." % (
        max(levels), "" if len(worker_counts) == 1 else " on %d worker(s)" % w,
        100 * top / file_rate["median"]))
if 1 in levels:
    w = worker_counts[0]
    one = [r for r in rows if r["kind"] == "serve" and r["clients"] == 1 and r.get("workers", 1) == w]
    per_served = [statistics.median(r["by_sentence_ms"][i] for r in one) for i in range(len(per_alone))]
    ratios = [a / b for a, b in zip(per_served, per_alone)]
    report["one_client_vs_alone"] = {"median_ratio": statistics.median(ratios),
                                     "p50_served_ms": statistics.median(per_served),
                                     "p50_alone_ms": statistics.median(per_alone)}
    print("1 client, the first %d sentences: p50 latency %.2f ms against %.2f ms alone in "
          "translate; per sentence, the median ratio is %.2f×." % (
              len(per_alone), statistics.median(per_served), statistics.median(per_alone),
              statistics.median(ratios)))
soak = [r for r in rows if r["kind"] == "soak"]
if soak:
    s = soak[0]
    report["soak"] = s
    print("Soak: %d requests in %.0f s at 16 clients, %d errors; server RSS %.1f MB at the start, "
          "%.1f MB at the end." % (s["requests"], s["seconds"], s["errors"],
                                   s["rss_start_kb"] / 1024, s["rss_end_kb"] / 1024))
if out_path:
    json.dump(report, open(out_path, "w"), indent=2)
PY

#!/usr/bin/env bash
# Data-parallel speed on one machine: the same model trained as 1 process × 2 threads, 2 MPI
# ranks × 1 thread (mpirun -np 2) and 1 process × 1 thread, alternating, --runs times each, on
# the multi30k_en_fr preset's shape (d128, 4+4, ffn 256) and the reference shape (d256, 3+3,
# ffn 1024), Multi30k data, 4,096-token batches, dropout as in the preset. Each run trains
# --steps updates (the first --warm excluded) and reports target tokens/s from its metrics
# (the mean of the train lines after the warm-up), and for the 2-rank runs the all-reduce's
# bytes per update and the share of the step spent waiting for it. With 2 ranks an update holds
# 2 batches, so both 2-way runs are compared at update_freq 2 (1 process) vs 1 (2 ranks): the
# same updates. Scaling efficiency = (2-rank tok/s) / (2 × 1-thread tok/s).
# Needs data/multi30k (scripts/get_data.sh multi30k) and a build with MPI.
# Usage: scripts/bench_mpi.sh [--runs N] [--steps N] [--warm N] [--out DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=3 steps=40 warm=10 out=runs/bench_mpi
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --warm) warm=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "bench_mpi.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
done
[ -e data/multi30k/tok/train.en ] || { echo "bench_mpi.sh: no data/multi30k (scripts/get_data.sh multi30k --from DIR)" >&2; exit 2; }
[ "$(id -u)" != 0 ] || export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
bin=build/spotlight
mkdir -p "$out"
declare -A shapes=(
  [preset]="--set model.d_model=128 --set model.heads=4 --set model.ffn=256 --set model.encoder_layers=4 --set model.decoder_layers=4"
  [d256]="--set model.d_model=256 --set model.heads=4 --set model.ffn=1024 --set model.encoder_layers=3 --set model.decoder_layers=3")
run() {  # run SHAPE MODE R
  local shape=$1 mode=$2 r=$3 dir="$out/$1.$2.$3"
  rm -rf "$dir"
  local common=(train --config configs/multi30k_en_fr.json ${shapes[$shape]} --set output_dir="\"$dir\""
    --set train.max_steps="$steps" --set train.valid_interval=100000 --set train.log_interval=5
    --set train.max_minutes=0 --set "data.store=\"$out/store\"")
  case "$mode" in
    1x2) "$bin" "${common[@]}" --threads 2 --set train.update_freq=2 ;;
    2x1) mpirun -np 2 --bind-to core "$bin" "${common[@]}" --threads 1 ;;
    1x1) "$bin" "${common[@]}" --threads 1 --set train.update_freq=2 ;;
  esac > "$dir.log" 2>&1 || { tail "$dir.log"; exit 1; }
  /usr/bin/python3 - "$dir/metrics.jsonl" "$warm" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
t = [r for r in rows if r["type"] == "train" and r["step"] > int(sys.argv[2])]
tok = sum(r["tgt_tokens_per_s"] for r in t) / len(t)
mb = sum(r.get("comm_bytes_per_update", 0) for r in t) / len(t) / 1e6
wait = sum(r.get("comm_wait_s_per_update", 0) for r in t) / len(t)
# Seconds per update over the timed lines: elapsed between the first and last of them.
step = (t[-1]["elapsed_s"] - t[0]["elapsed_s"]) / (t[-1]["step"] - t[0]["step"])
print(f"{tok:.1f} {mb:.2f} {wait*1e3:.1f} {100 * wait / step:.1f}")
PY
}
# One run first so the vocabulary and the stores exist before anything is timed.
run preset 1x2 warmup > /dev/null
echo "| shape | mode | run | tgt tok/s | all-reduce MB/update | wait ms/update | wait share of a step % |" | tee "$out/results.md"
echo "| --- | --- | --- | --- | --- | --- | --- |" | tee -a "$out/results.md"
for r in $(seq "$runs"); do
  for shape in preset d256; do
    for mode in 1x2 2x1 1x1; do
      read -r tok mb wait share < <(run "$shape" "$mode" "$r")
      echo "| $shape | $mode | $r | $tok | $mb | $wait | $share |" | tee -a "$out/results.md"
    done
  done
done
# Medians (min–max) over the runs, and the 2-rank scaling efficiency of the medians.
echo
/usr/bin/python3 - "$out/results.md" <<'PY'
import statistics, sys
rows = [l.strip().strip("|").split("|") for l in open(sys.argv[1]) if l.startswith("| preset") or l.startswith("| d256")]
def col(shape, mode, i):
    return [float(r[i]) for r in rows if r[0].strip() == shape and r[1].strip() == mode]
def fmt(v, d=0):
    return f"{statistics.median(v):,.{d}f} ({min(v):,.{d}f}–{max(v):,.{d}f})"
print("| shape | 1 process × 2 threads | 2 ranks × 1 thread | 1 process × 1 thread | efficiency | MB/update | wait ms/update | wait share % |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for shape in ("preset", "d256"):
    a, b, c = col(shape, "1x2", 3), col(shape, "2x1", 3), col(shape, "1x1", 3)
    if not (a and b and c):
        continue
    eff = statistics.median(b) / (2 * statistics.median(c))
    print(f"| {shape} | {fmt(a)} | {fmt(b)} | {fmt(c)} | {eff:.2f} | {statistics.median(col(shape, '2x1', 4)):.2f} "
          f"| {fmt(col(shape, '2x1', 5))} | {fmt(col(shape, '2x1', 6), 1)} |")
PY

#!/bin/sh
# mutorch's own overhead per training of the user's own program
# (training.command, docs/training-programs.md) on
# examples/fashion-mnist-pytorch (plain PyTorch LeNet-5, 10000 images,
# 3 epochs), in one run with a fresh cache:
#  1. per training: the program's time (exec to exit) against what the
#     worker spent around it (the .npy data when new, the spec, fork and
#     exec, loading and evaluating the model, the cache), in wall time and
#     in CPU time, and the overhead as a fraction of the training;
#  2. the whole command: its wall time beyond the sum of the programs'
#     (planning, worker start-up, statistics, reports too), meaningful with
#     one job.
# The program's own start-up (the interpreter, `import torch`) is the
# program's, not mutorch's: it pays it run by hand too.
#   bench/external_overhead.sh [RUNS] [JOBS]     (defaults 2 and 1)
set -eu
cd "$(dirname "$0")/.."
RUNS=${1:-2}
JOBS=${2:-1}
MUTORCH=$(pwd)/${MUTORCH:-build/mutorch}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ex=examples/fashion-mnist-pytorch
cp "$ex/train.py" "$tmp/"
sed -e "s/^    runs: 10/    runs: $RUNS/" "$ex/mutorch.yml" > "$tmp/mutorch.yml"
echo "$ex: $(grep -c '^    - {op:' "$tmp/mutorch.yml") mutants, $RUNS runs each, $JOBS worker(s)"
t0=$(date +%s.%N)
$MUTORCH run "$tmp/mutorch.yml" --level source --jobs "$JOBS" -q --json > "$tmp/report.json"
t1=$(date +%s.%N)
python3 - "$tmp" "$t0" "$t1" "$JOBS" <<'EOP'
import json, sys
tmp, t0, t1, jobs = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
recs = [json.loads(l) for l in open(f"{tmp}/mutorch.out/source-results.jsonl")]
t = [r for r in recs if r.get("status") == "Trained" and "program_seconds" in r]
n = len(t)
if n == 0:
    sys.exit("no training was timed")
def total(k): return sum(r[k] for r in t)
prog, pcpu = total("program_seconds"), total("program_cpu_seconds")
over, ocpu = total("overhead_seconds"), total("overhead_cpu_seconds")
spawn, data = total("spawn_seconds"), total("data_seconds")
rest = over - spawn - data
print(f"{n} trainings; per training (mean):")
print(f"  program (exec to exit)     {prog / n:7.3f} s wall  {pcpu / n:7.3f} s CPU")
print(f"  mutorch around it          {over / n:7.3f} s wall  {ocpu / n:7.3f} s CPU")
print(f"    fork and exec            {spawn / n:7.3f} s")
print(f"    .npy data (when new)     {data / n:7.3f} s  ({sum(r['data_seconds'] > 0 for r in t)} writes)")
print(f"    spec, model load, evaluation, cache  {rest / n:7.3f} s")
print(f"overhead / training: {over / prog:.2%} of the program's wall time, "
      f"{ocpu / pcpu:.2%} of its CPU time (target: under 5 %)")
wall = t1 - t0
if jobs == 1:
    print(f"whole command: {wall:.1f} s for {prog:.1f} s of programs: "
          f"{(wall - prog) / prog:.2%} beyond them (planning, worker start, statistics, reports)")
else:
    print(f"whole command: {wall:.1f} s with {jobs} workers for {prog:.1f} s of programs")
rep = json.load(open(f"{tmp}/report.json"))
print("verdicts: " + ", ".join(f"{m['id']} {m['status']}" for m in rep["mutants_detail"]))
EOP

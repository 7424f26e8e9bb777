#!/bin/sh
# Benchmark of source-level mutation on examples/fashion-mnist/source-quick.yml
# (an MLP on 10000 Fashion-MNIST images, 3 epochs, 14 mutants), in one run:
#  1. trainings per verdict: DeepCrime's fixed design (20 + 20 runs per
#     mutant) against mutorch's sequential design (at most 20), and whether
#     the verdicts agree;
#  2. the measured false-kill rate of the rule (the original against
#     independent runs of itself, 20 trials);
#  3. training throughput of the same recipe in mutorch and in PyTorch.
#   bench/source_level.sh [JOBS]
set -eu
cd "$(dirname "$0")/.."
JOBS=${1:-2}
MUTORCH=$(pwd)/${MUTORCH:-build/mutorch}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
src=examples/fashion-mnist/source-quick.yml
sed -e "s#^  dir: .*#  dir: $tmp/out#" -e 's/^    runs: 10/    runs: 20/' "$src" > "$tmp/fixed.yml"
sed -e "s#^  dir: .*#  dir: $tmp/out#" -e 's/^    runs: 10/    runs: 20\n    sequential: true\n    max_runs: 20/' "$src" > "$tmp/seq.yml"
echo "source-quick.yml: $(grep -c '^    - {op:' "$src") source-level mutants, $JOBS worker(s)"
# The sequential run goes first, into an empty cache, so its trainings are
# really trained and timed; the fixed run then reuses the runs it shares.
t0=$(date +%s.%N)
$MUTORCH run "$tmp/seq.yml" --level source --jobs "$JOBS" -q --json > "$tmp/seq.json"
t1=$(date +%s.%N)
$MUTORCH run "$tmp/fixed.yml" --level source --jobs "$JOBS" -q --json > "$tmp/fixed.json"
t2=$(date +%s.%N)
$MUTORCH false-kill "$tmp/fixed.yml" --trials 20 --jobs "$JOBS" -q --json > "$tmp/fk.json"
/usr/bin/python3 bench/pytorch_train_eval.py 1 3 64 10000 mlp > "$tmp/pt.json"
sed -e "s#^  dir: .*#  dir: $tmp/one#" -e "s#^  output: .*#  output: $tmp/one.pt#" "$src" > "$tmp/one.yml"
$MUTORCH train "$tmp/one.yml" --json -q > "$tmp/mt.json"
python3 - "$tmp" "$t0" "$t1" "$t2" <<'EOP'
import json, sys
tmp, t0, t1, t2 = sys.argv[1], *map(float, sys.argv[2:])
f = json.load(open(f"{tmp}/fixed.json")); s = json.load(open(f"{tmp}/seq.json"))
same = sum(a["status"] == b["status"] for a, b in zip(f["mutants_detail"], s["mutants_detail"]))
n = len(f["mutants_detail"])
print(f"fixed design (DeepCrime, 20 + 20 runs): {f['trainings_used']} trainings, {f['trainings_used'] / n:.1f} per verdict")
print(f"sequential design (at most 20 + 20):    {s['trainings_used']} trainings, {s['trainings_used'] / n:.1f} per verdict "
      f"({s['trainings_used'] / f['trainings_used']:.0%} of the fixed design), {t1 - t0:.0f} s")
print(f"same verdicts: {same} of {n} mutants")
for a, b in zip(f["mutants_detail"], s["mutants_detail"]):
    print(f"  {a['id']:32s} fixed {a['status']:9s} sequential {b['status']:9s} after {b['runs']:2d} runs")
fk = json.load(open(f"{tmp}/fk.json"))
print(f"false-kill rate ({fk['rule']}, alpha {fk['alpha']}): {fk['false_kills']}/{fk['trials']} = {fk['false_kill_rate']:.3f} "
      f"(95% CI {fk['ci95_low']:.3f}-{fk['ci95_high']:.3f})")
mt = json.load(open(f"{tmp}/mt.json")); pt = json.load(open(f"{tmp}/pt.json"))
print(f"training throughput (MLP, 1 thread): mutorch {mt['samples_per_second']:.0f} samples/s, "
      f"PyTorch {pt['train_samples_per_second']:.0f} samples/s, ratio {mt['samples_per_second'] / pt['train_samples_per_second']:.2f}")
EOP

#!/bin/sh
# Benchmark: model-level mutants per second of mutorch against a plain
# PyTorch loop that deep-copies the model, mutates it and evaluates the
# whole test set for every mutant (bench/pytorch_model_level.py): the same
# per-layer weight mutants of the trained example LeNet-5 on the 10000
# Fashion-MNIST test images, the same thread count, in one run. Also prints
# mutorch's mean cost per mutant as a fraction of one full forward pass.
#   bench/model_level.sh [THREADS] [MUTANTS_PER_LAYER] [JOBS]
# JOBS mutorch workers run with THREADS/JOBS threads each, so mutorch and
# PyTorch use THREADS threads in all (default: 1 worker with THREADS).
# Needs the trained example model (scripts/run-example.sh trains it).
set -eu
cd "$(dirname "$0")/.."
THREADS=${1:-2}
PER=${2:-2}
JOBS=${3:-1}
WORKER_THREADS=$((THREADS / JOBS))
[ "$WORKER_THREADS" -ge 1 ] || { echo "JOBS must not exceed THREADS" >&2; exit 2; }
MUTORCH=${MUTORCH:-./build/mutorch}
MODEL=$(pwd)/examples/fashion-mnist/trained/lenet5.pt
[ -f "$MODEL" ] || { echo "no trained model at $MODEL: run scripts/run-example.sh first" >&2; exit 3; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
D=/usr/share/datasets/fashion-mnist
cat > "$tmp/mutorch.yml" <<EOC
model: {torchscript: $MODEL, input_shape: [1, 28, 28]}
data:
  train: {images: $D/train-images-idx3-ubyte.gz, labels: $D/train-labels-idx1-ubyte.gz}
  test: {images: $D/t10k-images-idx3-ubyte.gz, labels: $D/t10k-labels-idx1-ubyte.gz}
  normalize: {scale: 255, mean: 0.2860, std: 0.3530}
training: {threads: $WORKER_THREADS, eval_batch_size: 1000}
run: {dir: $tmp/out}
mutation:
  model_level:
    - {op: GF, ratio: 0.1, mutants: $PER}
    - {op: WS, ratio: 0.1, mutants: $PER}
    - {op: NEB, ratio: 0.1, mutants: $PER, variant: incoming}
    - {op: NAI, ratio: 0.1, mutants: $PER}
    - {op: NS, ratio: 0.1, mutants: $PER}
    - {op: BF, mutants: $PER}
    - {op: PRN, ratio: 0.5}
    - {op: QNT, bits: 8}
    - {op: WPR, dtype: fp16}
EOC
echo "LeNet-5 (examples/fashion-mnist), 10000 test images, per-layer weight mutants, $THREADS thread(s): mutorch $JOBS worker(s) x $WORKER_THREADS thread(s), PyTorch 1 process x $THREADS thread(s)"
start=$(date +%s.%N)
$MUTORCH run "$tmp/mutorch.yml" --jobs "$JOBS" -q > /dev/null
end=$(date +%s.%N)
$MUTORCH eval "$tmp/mutorch.yml" --json > "$tmp/eval.json"
/usr/bin/python3 bench/pytorch_model_level.py "$MODEL" "$THREADS" "$tmp/out/plan.json" > "$tmp/pt.json"
python3 - "$tmp" "$start" "$end" <<'EOP'
import collections, json, sys
tmp, start, end = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
recs = [json.loads(l) for l in open(f"{tmp}/out/results.jsonl")]
n = len(recs)
in_worker = sum(r.get("seconds", 0) for r in recs)
wall = end - start
fwd = json.load(open(f"{tmp}/eval.json"))["eval_seconds"]
pt = json.load(open(f"{tmp}/pt.json"))
print(f"mutants: {n}")
print(f"mutorch  end to end {wall:7.2f} s  {n / wall:7.2f} mutants/s (worker start-up, original, reports included)")
print(f"mutorch  in workers {in_worker:7.2f} s of worker time  {n / in_worker:7.2f} mutants/s per worker")
print(f"PyTorch  copy+eval  {pt['seconds']:7.2f} s  {pt['mutants_per_second']:7.2f} mutants/s")
print(f"ratio mutorch/PyTorch mutants/s: end to end {n / wall / pt['mutants_per_second']:.2f}x, "
      f"per worker {n / in_worker / pt['mutants_per_second']:.2f}x")
print(f"full forward pass over the test set: mutorch {fwd:.3f} s, PyTorch {pt['forward_seconds']:.3f} s")
print(f"mutorch mean cost per mutant: {in_worker / n / fwd:.3f} forward passes")
by = collections.defaultdict(list)
for r in recs:
    parts = r["id"].split("-")
    by[parts[1]].append(r.get("seconds", 0))
for layer, v in sorted(by.items()):
    print(f"  {layer:10s} {len(v):3d} mutants  mean {sum(v) / len(v) / fwd:.3f} forward passes")
EOP

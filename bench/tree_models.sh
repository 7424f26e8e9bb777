#!/bin/sh
# Benchmark: the mean cost of a per-layer weight mutant, in forward passes,
# on torchvision's resnet18 and mobilenet_v3_small (scripted for 3x32x32
# inputs, 10 classes, INPUTS inputs labelled by the model's own
# predictions: tests/fixtures/make_tree_fixtures.py) and the LeNet-5 example
# (examples/fashion-mnist, 10000 test images), beside
#  - the lower bound: for each mutant, the share of a forward pass from
#    the start of its layer to the end (a per-layer timing of the original,
#    bench/tree_bench.py), averaged over the same mutants;
#  - PyTorch's copy-mutate-evaluate loop (deep-copy the model, mutate the
#    layer, evaluate every input; bench/pytorch_model_level.py's mutate).
# The mutants are the per-layer weight mutants of the LeNet example's
# config (examples/fashion-mnist/mutorch.yml: GF, WS, NEB, NAI, NS and BF
# MUTANTS_PER_LAYER times each, four WPR, four QNT and four PRN) on every
# linear and conv2d layer, in plan order. Everything runs on one thread and
# is measured in CPU time, so other work on a shared machine does not
# count; the wall-clock time of `mutorch run --jobs 1` is printed too.
# STRIDE=k (environment) times only every k-th mutant of the plan.
#   bench/tree_models.sh [INPUTS] [MUTANTS_PER_LAYER] [PYTORCH_SAMPLE] [MODEL...]
# MODEL: resnet18, mobilenet, lenet (default: all three; lenet needs the
# trained example, scripts/run-example.sh trains it). PYTORCH_SAMPLE: how
# many mutants of the plan (spread over it) the PyTorch loop times.
set -eu
cd "$(dirname "$0")/.."
N=${1:-300}
PER=${2:-4}
SAMPLE=${3:-30}
[ $# -gt 3 ] && shift 3 || set --
MODELS=${*:-resnet18 mobilenet lenet}
MUTORCH=$(pwd)/${MUTORCH:-build/mutorch}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
D=/usr/share/datasets/fashion-mnist
LENET=$(pwd)/examples/fashion-mnist/trained/lenet5.pt

# The weight operators of examples/fashion-mnist/mutorch.yml (its graph
# operators left out), the random ones MUTANTS_PER_LAYER times each.
mutation() {
	cat <<EOC
mutation:
  model_level:
    - {op: GF, ratio: 0.1, sigma: 1.0, mutants: $PER}
    - {op: WS, ratio: 0.1, mutants: $PER}
    - {op: NEB, ratio: 0.1, mutants: $PER}
    - {op: NAI, ratio: 0.1, mutants: $PER}
    - {op: NS, ratio: 0.1, mutants: $PER}
    - {op: BF, k: 1, bit: exponent, mutants: $PER}
    - {op: WPR, dtype: fp16}
    - {op: WPR, dtype: bf16}
    - {op: WPR, digits: 2}
    - {op: WPR, digits: 1}
    - {op: QNT, bits: 8, granularity: tensor}
    - {op: QNT, bits: 8, granularity: channel}
    - {op: QNT, bits: 4, granularity: tensor}
    - {op: QNT, bits: 4, granularity: channel}
    - {op: PRN, ratio: 0.3}
    - {op: PRN, ratio: 0.5}
    - {op: PRN, ratio: 0.7}
    - {op: PRN, ratio: 0.9}
EOC
}

/usr/bin/python3 tests/fixtures/make_tree_fixtures.py "$tmp" "$N" resnet18 mobilenet > /dev/null
echo "per-layer weight mutants, 1 thread, CPU time; $N inputs (resnet18, mobilenet), 10000 (lenet)"
printf '%-10s %8s %11s %12s %10s %7s %14s %8s %12s\n' model mutants "forward ms" "mutorch/mut" bound ratio "PyTorch/mut" speedup "wall s/mut"
for m in $MODELS; do
	case $m in
	lenet)
		[ -f "$LENET" ] || { echo "lenet: no trained model at $LENET: run scripts/run-example.sh first" >&2; continue; }
		cfg=$tmp/lenet-bench.yml
		cat > "$cfg" <<EOC
model: {torchscript: $LENET, input_shape: [1, 28, 28]}
data:
  train: {images: $D/train-images-idx3-ubyte.gz, labels: $D/train-labels-idx1-ubyte.gz}
  test: {images: $D/t10k-images-idx3-ubyte.gz, labels: $D/t10k-labels-idx1-ubyte.gz}
  normalize: {scale: 255, mean: 0.2860, std: 0.3530}
training: {threads: 1, eval_batch_size: 1000}
run: {dir: $tmp/out_lenet}
EOC
		mutation >> "$cfg"
		model=$LENET data=fashion ;;
	resnet18|mobilenet)
		cfg=$tmp/$m-bench.yml
		{ cat "$tmp/$m.yml"; mutation; } > "$cfg"
		model=$tmp/$m.pt data=$tmp/x.npy ;;
	*) echo "unknown model '$m', expected resnet18, mobilenet or lenet" >&2; exit 2 ;;
	esac
	run=$tmp/out_$m
	t0=$(date +%s.%N)
	$MUTORCH run "$cfg" --jobs 1 --run-dir "$run" -q > /dev/null
	t1=$(date +%s.%N)
	/usr/bin/python3 bench/tree_bench.py worker "$MUTORCH" "$cfg" "$run" "$model" "$data" > "$tmp/$m.worker.json"
	/usr/bin/python3 bench/tree_bench.py pytorch "$m" "$model" "$data" "$run/plan.json" "$SAMPLE" > "$tmp/$m.pt.json"
	/usr/bin/python3 - "$m" "$tmp/$m.worker.json" "$tmp/$m.pt.json" "$t0" "$t1" "$run/plan.json" <<'EOP'
import json, sys
name, wk, pt, t0, t1 = sys.argv[1], json.load(open(sys.argv[2])), json.load(open(sys.argv[3])), float(sys.argv[4]), float(sys.argv[5])
planned = len(json.load(open(sys.argv[6]))["mutants"])  # STRIDE times fewer than the run made
muts = wk["mutants"]
fwd = wk["forward_cpu"]  # measured between the worker's tasks
cost = sum(m["cpu"] for m in muts) / len(muts)
bound = sum(pt["bound"][m["target"]] for m in muts) / len(muts)
pt_passes = pt["pytorch_cpu_per_mutant"] / pt["forward_cpu"]  # its own forward, same conditions
wall = (t1 - t0) / planned  # the whole run: startup and original included
print(f"{name:10s} {len(muts):8d} {fwd * 1e3:11.1f} {cost / fwd:12.3f} {bound:10.3f} {cost / fwd / bound:7.2f} "
      f"{pt_passes:14.3f} {pt_passes / (cost / fwd):8.2f} {wall:12.3f}")
with open(f"{sys.argv[2]}.layers", "w") as f:
    by = {}
    for m in muts:
        by.setdefault(m["target"], []).append(m["cpu"])
    for t, v in by.items():
        f.write(f"  {t:36s} {len(v):4d} mutants  {sum(v) / len(v) / fwd:6.3f} passes  bound {pt['bound'][t]:6.3f}\n")
    by = {}
    for m in muts:
        by.setdefault(m["op"], []).append((m["cpu"], pt["bound"][m["target"]]))
    for op, v in by.items():  # where the cost above the bound goes
        f.write(f"  {op:36s} {len(v):4d} mutants  {sum(c for c, _ in v) / len(v) / fwd:6.3f} passes  "
                f"bound {sum(b for _, b in v) / len(v):6.3f}\n")
EOP
	[ -n "${VERBOSE:-}" ] && cat "$tmp/$m.worker.json.layers"
done
echo "mutorch/mut: mean CPU per mutant in a worker (apply, predict, restore) over one forward pass of"
echo "the TorchScript model timed between its tasks; bound: mean share of a forward pass from the mutated"
echo "layer on (the least a mutant must rerun); ratio = mutorch/bound; PyTorch/mut: the copy-mutate-"
echo "evaluate loop per mutant over a forward pass timed between its mutants; speedup = PyTorch/mutorch"
echo "per mutant, both in forward passes; wall s/mut: the wall time of \`mutorch run --jobs 1\` (startup"
echo "and the original's evaluation included) over its mutants, on the shared machine."

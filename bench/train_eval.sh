#!/bin/sh
# Benchmark: train and evaluate the same LeNet-5 with the same recipe and
# thread count in mutorch and in PyTorch (Debian's python3-torch), in one
# run, and print samples/s of each and the ratios (mutorch / PyTorch).
# Evaluation is measured twice: right after training in the training
# process (both sides), and in a fresh process (`mutorch eval` against
# bench/pytorch_eval.py with the weights mutorch trained); samples/s time
# the evaluation loop only, and the fresh processes' whole wall time
# (start-up, libtorch/torch import, data, model, evaluation) is printed
# beside them.
#   bench/train_eval.sh [THREADS] [EPOCHS] [TRAIN_LIMIT] [REPEATS]
set -eu
cd "$(dirname "$0")/.."
THREADS=${1:-2}
EPOCHS=${2:-1}
LIMIT=${3:-60000}
REPEATS=${4:-3}
MUTORCH=${MUTORCH:-./build/mutorch}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
D=/usr/share/datasets/fashion-mnist
cat > "$tmp/lenet5.yml" <<EOC
model:
  architecture: >-
    conv2d(1,6,5,padding=2) relu maxpool2d(2) conv2d(6,16,5) relu maxpool2d(2)
    flatten linear(400,120) relu linear(120,84) relu linear(84,10)
  input_shape: [1, 28, 28]
  output: $tmp/model.pt
data:
  format: idx
  train: {images: $D/train-images-idx3-ubyte.gz, labels: $D/train-labels-idx1-ubyte.gz}
  test: {images: $D/t10k-images-idx3-ubyte.gz, labels: $D/t10k-labels-idx1-ubyte.gz}
  normalize: {scale: 255, mean: 0.2860, std: 0.3530}
  train_limit: $LIMIT
training:
  optimizer: {name: adam, lr: 0.001}
  epochs: $EPOCHS
  batch_size: 64
  eval_batch_size: 1000
  threads: $THREADS
EOC
echo "LeNet-5, Fashion-MNIST, $LIMIT training images x $EPOCHS epoch(s), batch 64, Adam; eval on 10000; $THREADS thread(s); best of $REPEATS"
best() { sort -g | tail -1; }
: > "$tmp/mt_train"; : > "$tmp/mt_eval"; : > "$tmp/mt_eval_cold"; : > "$tmp/pt_train"; : > "$tmp/pt_eval"
: > "$tmp/pt_eval_cold"; : > "$tmp/mt_proc"; : > "$tmp/pt_proc"
for f in mt_train mt_eval mt_eval_cold pt_train pt_eval pt_eval_cold; do : > "$tmp/${f}_cpu"; done
N=$((LIMIT < 60000 ? LIMIT : 60000))
# Samples per CPU second (process CPU time, all threads): FILE KEY SAMPLES
cpu_rate() { python3 -c "import json; print($3 / json.load(open('$1'))['$2'])"; }
# Process times are stored negated, so that best() picks the shortest.
now() { date +%s.%N; }
i=0
while [ $i -lt "$REPEATS" ]; do
  # Alternate the two so that machine noise hits both alike.
  $MUTORCH train "$tmp/lenet5.yml" --json -q > "$tmp/t.json"
  python3 -c "import json,sys; print(json.load(open('$tmp/t.json'))['samples_per_second'])" >> "$tmp/mt_train"
  # Evaluation right after training in the same process, on both sides.
  python3 -c "import json,sys; print(json.load(open('$tmp/t.json'))['eval_samples_per_second'])" >> "$tmp/mt_eval"
  cpu_rate "$tmp/t.json" train_cpu_seconds $((N * EPOCHS)) >> "$tmp/mt_train_cpu"
  cpu_rate "$tmp/t.json" eval_cpu_seconds 10000 >> "$tmp/mt_eval_cpu"
  # ...and in a fresh process (mutorch eval), for reference.
  t0=$(now); $MUTORCH eval "$tmp/lenet5.yml" --json > "$tmp/e.json"; t1=$(now)
  python3 -c "import json,sys; print(json.load(open('$tmp/e.json'))['samples_per_second'])" >> "$tmp/mt_eval_cold"
  python3 -c "print(-($t1 - $t0))" >> "$tmp/mt_proc"
  cpu_rate "$tmp/e.json" eval_cpu_seconds 10000 >> "$tmp/mt_eval_cold_cpu"
  t0=$(now); /usr/bin/python3 bench/pytorch_eval.py "$THREADS" "$tmp/model.pt" > "$tmp/pe.json"; t1=$(now)
  python3 -c "import json; print(json.load(open('$tmp/pe.json'))['eval_samples_per_second'])" >> "$tmp/pt_eval_cold"
  python3 -c "print(-($t1 - $t0))" >> "$tmp/pt_proc"
  cpu_rate "$tmp/pe.json" eval_cpu_seconds 10000 >> "$tmp/pt_eval_cold_cpu"
  /usr/bin/python3 bench/pytorch_train_eval.py "$THREADS" "$EPOCHS" 64 "$LIMIT" > "$tmp/p.json"
  python3 -c "import json; d=json.load(open('$tmp/p.json')); print(d['train_samples_per_second'])" >> "$tmp/pt_train"
  python3 -c "import json; d=json.load(open('$tmp/p.json')); print(d['eval_samples_per_second'])" >> "$tmp/pt_eval"
  cpu_rate "$tmp/p.json" train_cpu_seconds $((N * EPOCHS)) >> "$tmp/pt_train_cpu"
  cpu_rate "$tmp/p.json" eval_cpu_seconds 10000 >> "$tmp/pt_eval_cpu"
  i=$((i + 1))
done
mt=$(best < "$tmp/mt_train"); pt=$(best < "$tmp/pt_train")
me=$(best < "$tmp/mt_eval"); pe=$(best < "$tmp/pt_eval"); mc=$(best < "$tmp/mt_eval_cold")
pc=$(best < "$tmp/pt_eval_cold"); mp=$(best < "$tmp/mt_proc"); pp=$(best < "$tmp/pt_proc")
cpu=""
for f in mt_train pt_train mt_eval pt_eval mt_eval_cold pt_eval_cold; do cpu="$cpu $(best < "$tmp/${f}_cpu")"; done
# shellcheck disable=SC2086
python3 - "$mt" "$pt" "$me" "$pe" "$mc" "$pc" "$mp" "$pp" $cpu <<'EOP'
import sys
mt, pt, me, pe, mc, pc, mp, pp, cmt, cpt, cme, cpe, cmc, cpc = map(float, sys.argv[1:])
print(f"training   mutorch {mt:10.0f} samples/s   PyTorch {pt:10.0f} samples/s   ratio {mt/pt:.2f}")
print(f"evaluation mutorch {me:10.0f} samples/s   PyTorch {pe:10.0f} samples/s   ratio {me/pe:.2f}  (both right after training)")
print(f"evaluation in a fresh process (mutorch eval): {mc:.0f} samples/s, ratio to PyTorch {mc/pe:.2f}")
print(f"evaluation, fresh process on both sides: mutorch {mc:.0f} samples/s   PyTorch {pc:.0f} samples/s   ratio {mc/pc:.2f}")
print(f"  whole fresh process (start, data, model, evaluation): mutorch eval {-mp:.2f} s   PyTorch {-pp:.2f} s")
print("per CPU second (process CPU time, all threads; other processes on a shared machine disturb it less):")
print(f"  training {cmt:.0f} / {cpt:.0f} samples/s, ratio {cmt/cpt:.2f};  evaluation after training ratio {cme/cpe:.2f};"
      f"  fresh mutorch eval: {cmc/cpe:.2f} to PyTorch after training, {cmc/cpc:.2f} to a fresh PyTorch process")
EOP

#!/bin/sh
# The main job on the bundled default: train LeNet-5 on Fashion-MNIST if no
# trained model exists yet (about 2 minutes on 2 cores), evaluate it, then
# run the model-level mutation analysis on it (192 mutants of the twelve
# model-level operators) and print the scores, then write the HTML report
# and print its path. Results and reports land in
# examples/fashion-mnist/mutorch.out/.
set -eu
cd "$(dirname "$0")/.."
CONFIG=examples/fashion-mnist/mutorch.yml
MUTORCH=./build/mutorch
if [ ! -f examples/fashion-mnist/trained/lenet5.pt ]; then
  $MUTORCH train "$CONFIG"
fi
$MUTORCH eval "$CONFIG"
# One worker per training.threads (2) cores: more would oversubscribe them.
$MUTORCH run "$CONFIG" --jobs "$(( $(nproc) / 2 > 0 ? $(nproc) / 2 : 1 ))"
# The one-file HTML report (open it in any browser, offline); mutorch
# report prints the path it wrote, which ends the script's output.
report=$($MUTORCH report examples/fashion-mnist/mutorch.out)
echo "HTML report (opens offline in any browser): $(realpath "$report")"

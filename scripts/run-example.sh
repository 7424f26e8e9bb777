#!/bin/sh
# The main job on the bundled default: train LeNet-5 on Fashion-MNIST if no
# trained model exists yet, then evaluate it.
set -eu
cd "$(dirname "$0")/.."
CONFIG=examples/fashion-mnist/mutorch.yml
MUTORCH=./build/mutorch
if [ ! -f examples/fashion-mnist/trained/lenet5.pt ]; then
  $MUTORCH train "$CONFIG"
fi
$MUTORCH eval "$CONFIG"

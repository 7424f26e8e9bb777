#!/bin/sh
# A measured check, not a speed benchmark: every graph mutant (LD, LAm,
# AFRm at every applicable site of the module tree) of torchvision's
# resnet18 and mobilenet_v3_small (scripted for 3x32x32 inputs, INPUTS
# inputs labelled by the model's own predictions) is evaluated by
# `mutorch run`, exported with `mutorch export-mutant` and predicted again
# in PyTorch (tests/fixtures/predict_npy.py); prints, per model and
# operator, how many mutants there are and how many predict exactly what
# mutorch recorded for every input.
#   bench/graph_mutants_check.sh [INPUTS] [JOBS] [MODEL...]
# MODEL: resnet18, mobilenet (default both). Takes a while: one
# export-mutant process per mutant.
set -eu
cd "$(dirname "$0")/.."
N=${1:-300}
JOBS=${2:-2}
[ $# -gt 2 ] && shift 2 || set --
MODELS=${*:-resnet18 mobilenet}
MUTORCH=$(pwd)/${MUTORCH:-build/mutorch}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 tests/fixtures/make_tree_fixtures.py "$tmp" "$N" $MODELS > /dev/null
for m in $MODELS; do
	cfg=$tmp/$m-graph.yml
	{ cat "$tmp/$m.yml"; printf 'mutation:\n  model_level:\n    - {op: LD}\n    - {op: LAm}\n    - {op: AFRm}\n'; } > "$cfg"
	$MUTORCH run "$cfg" --jobs "$JOBS" -q > /dev/null
	mkdir -p "$tmp/export_$m"
	$MUTORCH mutants "$cfg" --json > "$tmp/$m.plan.json"
	/usr/bin/python3 - "$tmp/$m.plan.json" > "$tmp/$m.ids" <<'EOP'
import json, sys
for m in json.load(open(sys.argv[1]))["mutants"]:
    print(m["id"])
EOP
	k=0
	while read -r id; do
		$MUTORCH export-mutant "$id" -o "$tmp/export_$m/$k.pt" "$cfg" 2> /dev/null
		k=$((k + 1))
	done < "$tmp/$m.ids"
	files=$(k=0; while read -r id; do echo "$tmp/export_$m/$k.pt"; k=$((k + 1)); done < "$tmp/$m.ids")
	# shellcheck disable=SC2086
	/usr/bin/python3 tests/fixtures/predict_npy.py "$tmp/x.npy" $files > "$tmp/$m.pytorch"
	/usr/bin/python3 - "$m" "$tmp/$m.ids" "$tmp/$m.pytorch" "$tmp/out_$m/predictions.csv" <<'EOP'
import collections, sys
name, ids, py, csv = sys.argv[1:5]
ids = [l.strip() for l in open(ids)]
ours = {}
for line in open(csv):
    f = line.rstrip("\n").split(",")
    ours[f[0]] = f[3:]
total, same = collections.Counter(), collections.Counter()
bad = []
for mid, line in zip(ids, open(py)):
    op = mid.split("-", 1)[0]
    total[op] += 1
    theirs = line.rstrip("\n").split("\t", 1)[1].split(" ")
    if ours.get(mid) == theirs:
        same[op] += 1
    else:
        bad.append(mid)
for op in sorted(total):
    print(f"{name:10s} {op:5s} {total[op]:4d} mutants, {same[op]:4d} predict in PyTorch exactly what mutorch recorded")
for mid in bad:
    print(f"{name:10s} differs: {mid}")
EOP
done

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
# MODEL: resnet18, mobilenet (default both). OPS (environment): the
# operator entries to check instead of LD, LAm and AFRm, as YAML flow maps
# separated by ';', e.g. OPS='{op: GF, ratio: 0.1};{op: PRN, ratio: 0.5}'
# (weight operators make one mutant per layer). Takes a while: one
# export-mutant process per mutant.
set -eu
cd "$(dirname "$0")/.."
N=${1:-300}
JOBS=${2:-2}
[ $# -gt 2 ] && shift 2 || set --
MODELS=${*:-resnet18 mobilenet}
MUTORCH=$(pwd)/${MUTORCH:-build/mutorch}
GRAPH_OPS='{op: LD};{op: LAm};{op: AFRm}'
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 tests/fixtures/make_tree_fixtures.py "$tmp" "$N" $MODELS > /dev/null
for m in $MODELS; do
	cfg=$tmp/$m-graph.yml
	{ cat "$tmp/$m.yml"; printf 'mutation:\n  model_level:\n'
	  printf '%s\n' "${OPS:-$GRAPH_OPS}" | tr ';' '\n' | sed 's/^ */    - /'; } > "$cfg"
	$MUTORCH run "$cfg" --jobs "$JOBS" -q > /dev/null
	mkdir -p "$tmp/export_$m"
	$MUTORCH mutants "$cfg" --json > "$tmp/$m.plan.json"
	/usr/bin/python3 - "$tmp/$m.plan.json" > "$tmp/$m.ids" <<'EOP'
import json, sys
for m in json.load(open(sys.argv[1]))["mutants"]:
    print(m["id"])
EOP
	# Each exported file's id: a mutant that cannot be exported is
	# counted as differing (the comparison sees no file for it).
	k=0
	while read -r id; do
		if $MUTORCH export-mutant "$id" -o "$tmp/export_$m/$k.pt" "$cfg" 2> "$tmp/export_$m/$k.err"; then
			printf '%s\t%s\n' "$tmp/export_$m/$k.pt" "$id"
		else
			echo "$m: export-mutant $id failed: $(cat "$tmp/export_$m/$k.err")" >&2
		fi
		k=$((k + 1))
	done < "$tmp/$m.ids" > "$tmp/$m.files"
	# shellcheck disable=SC2046
	/usr/bin/python3 tests/fixtures/predict_npy.py "$tmp/x.npy" $(cut -f1 "$tmp/$m.files") > "$tmp/$m.pytorch"
	/usr/bin/python3 - "$m" "$tmp/$m.ids" "$tmp/$m.files" "$tmp/$m.pytorch" "$tmp/out_$m/predictions.csv" <<'EOP'
import collections, csv, sys
name, ids, files, py, preds = sys.argv[1:6]
ids = [l.strip() for l in open(ids)]
file_id = dict(l.rstrip("\n").split("\t") for l in open(files))
theirs_by_id = {}
for line in open(py):
    path, classes = line.rstrip("\n").split("\t", 1)
    theirs_by_id[file_id[path]] = classes.split(" ")
ours = {}
for f in csv.reader(open(preds, newline="")):  # RFC 4180: ids may hold commas
    ours[f[0]] = f[3:]
total, same = collections.Counter(), collections.Counter()
bad = []
for mid in ids:
    op = mid.split("-", 1)[0]
    total[op] += 1
    if mid in theirs_by_id and ours.get(mid) == theirs_by_id[mid]:
        same[op] += 1
    else:
        bad.append(mid)
for op in sorted(total):
    print(f"{name:10s} {op:5s} {total[op]:4d} mutants, {same[op]:4d} predict in PyTorch exactly what mutorch recorded")
for mid in bad:
    print(f"{name:10s} differs: {mid}")
EOP
done

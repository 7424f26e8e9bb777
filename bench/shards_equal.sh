#!/bin/sh
# Check by hand, on a full example, that shards + merge and an MPI run give
# the results of one unsharded run (docs/scale-out.md), and say how long
# each took and how many trainings of the original the shards did.
#   bench/shards_equal.sh CONFIG model|source [N_SHARDS] [WORKDIR]
# Prints the kill-matrix digests (model level) and whether every CSV file
# is byte-identical; exits 1 when anything differs.
set -eu
cfg=$(realpath "$1")
level=$2
n=${3:-3}
work=${4:-$(mktemp -d /tmp/mutorch-shards.XXXXXX)}
here=$(cd "$(dirname "$0")/.." && pwd)
mt=${MUTORCH:-$here/build/mutorch}
mkdir -p "$work"
cd "$(dirname "$cfg")"
if [ "$level" = model ]; then
  files="kills.csv predictions.csv inputs.csv"
else
  files="source-mutants.csv source-runs.csv source-kill-probabilities.csv"
fi
now() { date +%s.%N; }
t0=$(now)
"$mt" run "$cfg" --level "$level" -q -j 2 -d "$work/full" --force >/dev/null
t1=$(now)
dirs=""
k=1
pids=""
while [ $k -le "$n" ]; do
  # the shards at once, as a job array would run them, sharing one cache
  "$mt" run "$cfg" --level "$level" -q -d "$work/s$k" --shard "$k/$n" --force \
    --cache "$work/shared-cache" >/dev/null &
  pids="$pids $!"
  dirs="$dirs $work/s$k"
  k=$((k + 1))
done
for p in $pids; do wait "$p"; done
t2=$(now)
"$mt" merge "$work/merged" $dirs -c "$cfg" --cache "$work/shared-cache" -q >/dev/null
t3=$(now)
OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
  mpirun --oversubscribe -n "$((n + 1))" "$mt" run "$cfg" --level "$level" --mpi -q \
  -d "$work/mpi" --force >/dev/null
t4=$(now)
echo "unsharded (-j 2): $(echo "$t1 - $t0" | bc) s; $n shards at once: $(echo "$t2 - $t1" | bc) s;" \
     "merge: $(echo "$t3 - $t2" | bc) s; mpirun -n $((n + 1)): $(echo "$t4 - $t3" | bc) s"
status=0
if [ "$level" = model ]; then
  for d in full merged mpi; do
    echo "kill-matrix digest $d: $("$mt" score --digest "$work/$d")"
  done
  [ "$("$mt" score --digest "$work/full")" = "$("$mt" score --digest "$work/merged")" ] || status=1
  [ "$("$mt" score --digest "$work/full")" = "$("$mt" score --digest "$work/mpi")" ] || status=1
else
  # trainings of the original that really trained, over all shards
  cat "$work"/s*/source-results.jsonl | grep '"id":"original"' | grep '"status":"Trained"' |
    grep -c '"reused_model":false' | sed 's/^/original trainings over the shards: /'
fi
for f in $files; do
  for d in merged mpi; do
    if cmp -s "$work/full/$f" "$work/$d/$f"; then echo "$d/$f: identical"
    else echo "$d/$f: DIFFERS"; status=1; fi
  done
done
exit $status

#!/usr/bin/python3
"""The scaling model of docs/scale-out.md: how long a plan takes on W
workers with static shards (`mutorch run --shard k/W`, dealt by expected
cost) and with MPI's dynamic schedule (`mpirun -n W+1 mutorch run --mpi`,
largest expected cost first, each task to the first free rank), from the
times a run recorded.

  bench/scaling_model.py model RUN_DIR [RUN_DIR...]
  bench/scaling_model.py source RUN_DIR [--scale F] [--name NAME]

RUN_DIR is a finished run directory (every task's time: results.jsonl
"seconds", source-results.jsonl "seconds" per training); the deal's
expected costs come from its shard.json or source-shard.json (a run with
--shard 1/1), or from any shard's file of the same plan (--costs FILE). --scale multiplies every training time: to estimate a plan
too long to measure (examples/fashion-mnist/source-full.yml) from a short
run of the same plan on less data and fewer epochs; the output says so.

Per worker, a start-up cost is added once (--startup, seconds: a process
that links libtorch and loads the model and data). Efficiency is the work
over (workers x makespan): 100% when no worker ever idles.
"""
import argparse
import heapq
import json
import os
import sys


def read_log(path):
    """Records of a result log, format 2 ("len crc json") or 1 (JSON)."""
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("mutorch-results"):
                continue
            if not line.startswith("{"):
                parts = line.split(" ", 2)
                if len(parts) < 3:
                    continue
                line = parts[2]
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def lpt(costs, workers):
    """mt_shard_assign: the most expensive first, to the least loaded shard
    (ties: lower index). Returns the shard of each item."""
    order = sorted(range(len(costs)), key=lambda i: (-costs[i], i))
    load = [0.0] * workers
    owner = [0] * len(costs)
    for i in order:
        best = min(range(workers), key=lambda s: (load[s], s))
        owner[i] = best
        load[best] += costs[i]
    return owner


def dynamic(tasks, workers, startup):
    """List scheduling in the given order: each task to the first free
    worker. tasks: actual times."""
    free = [startup] * workers
    heapq.heapify(free)
    for t in tasks:
        heapq.heappush(free, heapq.heappop(free) + t)
    return max(free)


def model_tasks(run_dir, costs):
    shard = json.load(open(costs or os.path.join(run_dir, "shard.json")))
    plan = json.load(open(os.path.join(run_dir, "plan.json")))
    ids = [m["id"] for m in plan["mutants"]] if isinstance(plan, dict) else [m["id"] for m in plan]
    seconds = {r["id"]: float(r.get("seconds") or 0) for r in read_log(os.path.join(run_dir, "results.jsonl"))}
    missing = [i for i in ids if i not in seconds]
    if missing:
        sys.exit("%s: %d mutants without a time (the run has not finished): %s" % (run_dir, len(missing), missing[:5]))
    return [(c, seconds[i]) for i, c in zip(ids, shard["expected_cost"])]


def model_rows(tasks, workers, startup):
    costs = [c for c, _ in tasks]
    times = [t for _, t in tasks]
    work = sum(times)
    owner = lpt(costs, workers)
    load = [startup] * workers
    for i, t in enumerate(times):
        load[owner[i]] += t
    static = max(load)
    order = sorted(range(len(tasks)), key=lambda i: (-costs[i], i))
    dyn = dynamic([times[i] for i in order], workers, startup)
    return work, static, dyn


def source_tasks(run_dir, costs, scale, scale_op, runs):
    shard = json.load(open(costs or os.path.join(run_dir, "source-shard.json")))
    plan = json.load(open(os.path.join(run_dir, "source-plan.json")))
    ops = [m["op"] for m in (plan["mutants"] if isinstance(plan, dict) else plan)]
    recs = [r for r in read_log(os.path.join(run_dir, "source-results.jsonl"))
            if r.get("status") == "Trained" and not r.get("reused_model")]
    def factor(slot):
        return scale_op.get(ops[slot - 1], scale) if slot > 0 else scale
    per = {}
    for r in recs:
        slot = int(r["slot"])
        per.setdefault(slot, []).append(float(r["seconds"]) * factor(slot))
    measured = max(len(v) for v in per.values()) if per else 0
    if runs:
        # n runs of each from the measured ones, in turn
        per = {k: [v[i % len(v)] for i in range(runs)] for k, v in per.items() if v}
    orig = per.get(0, [])
    if not orig:
        sys.exit("%s: no training of the original logged" % run_dir)
    mutants = []
    for k, c in enumerate(shard["expected_cost"]):
        # an operator scaled differently has its expected cost scaled alike
        c = c * factor(k + 1) / scale
        if runs and measured:
            c = c * runs / measured
        mutants.append((c, per.get(k + 1, [])))
    return orig, mutants


def source_rows(orig, mutants, workers, startup):
    """Static: each shard trains its mutants' runs, and the original's n
    runs are spread over the shards through the shared cache (each shard
    starts at another run; runs beyond the shards' count queue). Dynamic:
    every training is a task (the original's first: cost 1 per run, then
    by expected cost per run)."""
    work = sum(orig) + sum(sum(ts) for _, ts in mutants)
    owner = lpt([c for c, _ in mutants], workers)
    load = [startup] * workers
    for i, t in enumerate(orig):
        load[i % workers] += t
    for k, (_, ts) in enumerate(mutants):
        load[owner[k]] += sum(ts)
    static = max(load)
    tasks = [(1.0, t) for t in orig]
    for c, ts in mutants:
        per_run = c / max(len(ts), 1)
        tasks += [(per_run, t) for t in ts]
    tasks.sort(key=lambda x: -x[0])
    dyn = dynamic([t for _, t in tasks], workers, startup)
    return work, static, dyn


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("level", choices=["model", "source"])
    ap.add_argument("run_dir")
    ap.add_argument("--costs", help="the shard file with the expected costs (default: RUN_DIR's)")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--scale-op", action="append", default=[], metavar="OP=F",
                    help="another factor for one operator's trainings (HNE sets the epochs outright)")
    ap.add_argument("--runs", type=int, default=0,
                    help="source level: n runs per mutant, made of the measured runs in turn")
    ap.add_argument("--startup", type=float, default=1.0)
    ap.add_argument("--name", default=None)
    ap.add_argument("--workers", default="8,64,512")
    a = ap.parse_args()
    name = a.name or a.run_dir
    if a.level == "model":
        tasks = model_tasks(a.run_dir, a.costs)
        ntasks = len(tasks)
        rows = lambda w: model_rows(tasks, w, a.startup)
    else:
        scale_op = {k: float(v) for k, v in (x.split("=", 1) for x in a.scale_op)}
        orig, mutants = source_tasks(a.run_dir, a.costs, a.scale, scale_op, a.runs)
        ntasks = len(orig) + sum(len(ts) for _, ts in mutants)
        rows = lambda w: source_rows(orig, mutants, w, a.startup)
    print("%s: %s level, %d tasks%s%s" % (name, a.level, ntasks,
          "" if a.scale == 1 else ", training times = measured short run x %g%s (an estimate)" % (
              a.scale, "".join(", %s x %s" % tuple(x.split("=", 1)) for x in a.scale_op)),
          ", %d runs each made of the measured ones" % a.runs if a.runs else ""))
    print("%8s %12s %14s %8s %14s %8s" % ("workers", "work (s)", "static (s)", "eff", "dynamic (s)", "eff"))
    for w in [int(x) for x in a.workers.split(",")]:
        work, static, dyn = rows(w)
        print("%8d %12.1f %14.1f %7.1f%% %14.1f %7.1f%%" % (
            w, work, static, 100 * work / (w * static), dyn, 100 * work / (w * dyn)))


if __name__ == "__main__":
    main()

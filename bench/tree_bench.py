#!/usr/bin/python3
"""The measuring side of bench/tree_models.sh (Debian's python3-torch and
python3-torchvision). Every figure is CPU time of one thread (the machine
is shared: CPU time does not count the time other processes take).

  tree_bench.py worker MUTORCH CONFIG RUN_DIR MODEL.pt DATA
      Drive one `mutorch worker` through every mutant of RUN_DIR/plan.json
      in plan order (what `mutorch run --jobs 1` does) and print the CPU
      time the worker spent on each, read from /proc/PID/task/*/schedstat
      before each task is sent and after its result arrives; and the CPU
      time of one forward pass of the TorchScript model (the same libtorch
      and executor), measured here between tasks, so that both are taken
      under the same load. STRIDE=k (environment) times only every k-th
      mutant of the plan, keeping its spread over layers and operators.

  tree_bench.py pytorch ARCH MODEL.pt DATA PLAN.json SAMPLE
      ARCH: resnet18, mobilenet or lenet; DATA: x.npy, or "fashion" (the
      10000 Fashion-MNIST test images, normalised as the LeNet example).
      Prints, for one thread and batches of 1000:
        bound     per planned target layer, the share of a forward pass
                  from the moment that layer starts to the end (the eager
                  model with the same weights, a forward pre-hook per
                  layer): what a mutant of that layer must at least rerun;
        pytorch   the copy-mutate-evaluate loop of
                  bench/pytorch_model_level.py (deep-copy the model,
                  mutate one layer's weights, evaluate every input) on
                  SAMPLE mutants spread over the plan, with a forward
                  pass of the TorchScript model timed between them.
Each prints one JSON object."""
import copy
import gzip
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_model_level import lenet, mutate  # noqa: E402

LENET_NAMES = {"conv2d_0": "0", "conv2d_3": "3", "linear_7": "7", "linear_9": "9",
               "linear_11": "11"}


def task_cpu_ns(pid):
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    return total


def worker(mutorch, config, run_dir, model_path, data):
    """Per-mutant CPU of a worker, and of one TorchScript forward pass in
    this process between tasks (the same conditions on a shared machine)."""
    torch.set_num_threads(1)
    ts, x = torch.jit.load(model_path).eval(), inputs(data)
    evaluate(ts, x)
    evaluate(ts, x)
    plan = json.load(open(os.path.join(run_dir, "plan.json")))["mutants"]
    p = subprocess.Popen([mutorch, "worker", config, "--run-dir", run_dir],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
    if p.stdout.readline().strip() != "ready":
        raise SystemExit("the worker did not start")
    startup = task_cpu_ns(p.pid)
    out, forwards = [], []
    stride = int(os.environ.get("STRIDE", "1"))  # time every STRIDE-th mutant only
    every = max(1, len(plan) // stride // 15)
    for i, m in enumerate(plan):
        if i % stride:
            continue
        if (i // stride) % every == 0:
            t0 = time.process_time()
            evaluate(ts, x)
            forwards.append(time.process_time() - t0)
        c0 = task_cpu_ns(p.pid)
        p.stdin.write(f"{i}\n")
        p.stdin.flush()
        line = p.stdout.readline()
        c1 = task_cpu_ns(p.pid)
        rec = json.loads(line.split("\t", 1)[1])
        out.append({"id": m["id"], "op": m["op"], "target": m["target"],
                    "cpu": (c1 - c0) * 1e-9, "status": rec.get("status")})
    p.stdin.close()
    p.wait()
    print(json.dumps({"startup_cpu": startup * 1e-9, "forward_cpu": statistics.median(forwards),
                      "mutants": out}))


def fashion_inputs():
    with gzip.open("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", "rb") as f:
        raw = f.read()
    img = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(-1, 28, 28)
    return torch.from_numpy(img.copy()).unsqueeze(1).float().div(255.0).sub(0.2860).div(0.3530)


def eager_model(arch, ts):
    import torchvision
    if arch == "resnet18":
        model = torchvision.models.resnet18(num_classes=10)
        model.load_state_dict(ts.state_dict())
    elif arch == "mobilenet":
        model = torchvision.models.mobilenet_v3_small(num_classes=10)
        model.load_state_dict(ts.state_dict())
    elif arch == "lenet":
        model = lenet()
        state = {}
        for k, v in ts.named_parameters():
            layer, p = k.split(".")
            state[f"{LENET_NAMES[layer]}.{p}"] = v.detach().clone()
        model.load_state_dict(state)
    else:
        raise SystemExit(f"unknown ARCH '{arch}', expected resnet18, mobilenet or lenet")
    return model.eval()


def module_name(arch, target):
    return LENET_NAMES[target] if arch == "lenet" else target


def evaluate(model, x):
    with torch.no_grad():
        for i in range(0, len(x), 1000):
            model(x[i:i + 1000]).argmax(1)


def layer_bounds(model, x, names, reps=7):
    """Share of a forward pass from each layer's start to the end."""
    stamps = {}

    def stamp(name):
        def hook(module, inputs):  # returns None: the inputs stay as they are
            stamps.setdefault(name, time.process_time_ns())
        return hook
    hooks = [model.get_submodule(n).register_forward_pre_hook(stamp(n)) for n in names]
    shares = {n: [] for n in names}
    with torch.no_grad():
        for r in range(reps + 1):
            suffix = dict.fromkeys(names, 0)
            total = 0
            for i in range(0, len(x), 1000):
                stamps.clear()
                t0 = time.process_time_ns()
                model(x[i:i + 1000])
                t1 = time.process_time_ns()
                total += t1 - t0
                for n in names:
                    suffix[n] += t1 - stamps[n]
            if r > 0:  # the first run warms up
                for n in names:
                    shares[n].append(suffix[n] / total)
    for h in hooks:
        h.remove()
    return {n: statistics.median(v) for n, v in shares.items()}


def inputs(data):
    return fashion_inputs() if data == "fashion" else torch.from_numpy(np.load(data))


def pytorch(arch, path, data, plan_path, sample):
    torch.set_num_threads(1)
    x = inputs(data)
    ts = torch.jit.load(path).eval()
    model = eager_model(arch, ts)
    plan = json.load(open(plan_path))["mutants"]
    targets = sorted({m["target"] for m in plan})
    bounds = layer_bounds(model, x, [module_name(arch, t) for t in targets])
    evaluate(ts, x)
    evaluate(ts, x)  # the profiling executor optimises on the second run
    step = max(1, len(plan) // sample)
    chosen = plan[::step][:sample]
    gen = torch.Generator().manual_seed(0)
    cpu = wall = 0.0
    forwards = []
    for m in chosen:  # forward passes in between: the same conditions
        t0 = time.process_time()
        evaluate(ts, x)
        forwards.append(time.process_time() - t0)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        mutant = copy.deepcopy(model)
        mutate(mutant, m["op"].split("#")[0], module_name(arch, m["target"]), gen)
        evaluate(mutant, x)
        cpu += time.process_time() - cpu0
        wall += time.perf_counter() - wall0
    print(json.dumps({"inputs": len(x), "forward_cpu": statistics.median(forwards),
                      "bound": {t: bounds[module_name(arch, t)] for t in targets},
                      "pytorch_mutants": len(chosen), "pytorch_cpu_per_mutant": cpu / len(chosen),
                      "pytorch_wall_per_mutant": wall / len(chosen)}))


def main():
    if len(sys.argv) >= 7 and sys.argv[1] == "worker":
        worker(*sys.argv[2:7])
    elif len(sys.argv) >= 7 and sys.argv[1] == "pytorch":
        pytorch(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""The PyTorch side of bench/model_level.sh: what the public PyTorch
implementations of DeepMutation's model-level operators do for each mutant:
deep-copy the trained model, mutate the weights of one layer, evaluate the
whole test set. Same model (weights read from mutorch's TorchScript file),
same test set, normalisation, batch size and thread count; the same number
of mutants per (operator, layer) as the mutorch plan.

Usage: pytorch_model_level.py MODEL.pt THREADS PLAN.json
Prints one JSON line: mutants, seconds, mutants_per_second,
forward_seconds (one full forward pass over the test set)."""
import copy
import gzip
import json
import sys
import time

import numpy as np
import torch
import torch.nn as nn

DATA = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def lenet():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def mutate(model, op, layer, gen):
    m = model.get_submodule(layer)
    w = m.weight.data
    b = m.bias.data if m.bias is not None else torch.zeros(w.shape[0])
    flat = w.view(-1)
    with torch.no_grad():
        if op == "GF":
            idx = torch.randperm(flat.numel(), generator=gen)[:max(1, flat.numel() // 10)]
            flat[idx] += torch.randn(len(idx), generator=gen) * flat.std()
        elif op in ("WS", "NAI", "NS", "NEB"):
            rows = torch.randperm(w.shape[0], generator=gen)[:max(2, w.shape[0] // 10)]
            for r in rows:
                if op == "WS":
                    w[r] = w[r].view(-1)[torch.randperm(w[r].numel(), generator=gen)].view_as(w[r])
                elif op == "NAI":
                    w[r] = -w[r]
                    b[r] = -b[r]
                else:
                    w[r] = 0
                    b[r] = 0
            if op == "NS":
                w[rows] = w[rows.flip(0)].clone()
        elif op == "PRN":
            k = flat.numel() // 2
            flat[flat.abs().argsort()[:k]] = 0
        elif op == "QNT":
            s = flat.abs().max() / 127
            flat.copy_(torch.round(flat / s).clamp(-127, 127) * s)
        elif op == "WPR":
            flat.copy_(flat.half().float())
        elif op == "BF":
            i = int(torch.randint(flat.numel(), (1,), generator=gen))
            bits = flat[i:i + 1].view(torch.int32)
            bits ^= 1 << 27
        else:
            raise ValueError(op)


def evaluate(model, x):
    preds = []
    with torch.no_grad():
        for i in range(0, len(x), 1000):
            preds.append(model(x[i:i + 1000]).argmax(1))
    return torch.cat(preds)


def main():
    path, threads, plan_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    torch.set_num_threads(threads)
    x = torch.from_numpy(read_idx(f"{DATA}/t10k-images-idx3-ubyte.gz").copy())
    x = x.unsqueeze(1).float().div(255.0).sub(0.2860).div(0.3530)
    ts = torch.jit.load(path)
    model = lenet()
    names = {"conv2d_0": "0", "conv2d_3": "3", "linear_7": "7", "linear_9": "9", "linear_11": "11"}
    state = {}
    for k, v in ts.named_parameters():
        layer, p = k.split(".")
        state[f"{names[layer]}.{p}"] = v.detach().clone()
    model.load_state_dict(state)
    model.eval()
    plan = json.load(open(plan_path))["mutants"]
    gen = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    evaluate(model, x)
    forward = time.perf_counter() - t0
    t0 = time.perf_counter()
    for m in plan:
        mutant = copy.deepcopy(model)
        mutate(mutant, m["op"].split("#")[0], names[m["target"]], gen)
        evaluate(mutant, x)
    seconds = time.perf_counter() - t0
    print(json.dumps({"mutants": len(plan), "seconds": seconds,
                      "mutants_per_second": len(plan) / seconds, "forward_seconds": forward}))


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""The PyTorch side of bench/train_eval.sh: the same LeNet-5, recipe, data,
normalisation and thread count as bench/lenet5.yml, as a plain PyTorch loop
(tensors in memory, a shuffled index per epoch, index_select batches).
Prints one JSON line: train and eval samples/s and CPU seconds (process
CPU time, all threads).
Usage: pytorch_train_eval.py THREADS EPOCHS BATCH TRAIN_LIMIT [lenet|mlp]"""
import gzip
import json
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def mlp():
    # flatten linear(784,128) relu linear(128,10), as in source-quick.yml
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))


def main():
    threads, epochs, batch, train_limit = (int(a) for a in sys.argv[1:5])
    arch = sys.argv[5] if len(sys.argv) > 5 else "lenet"
    torch.set_num_threads(threads)
    torch.manual_seed(42)
    xtr = torch.from_numpy(read_idx(f"{DATA}/train-images-idx3-ubyte.gz")[:train_limit].copy())
    xtr = xtr.unsqueeze(1).float().div(255.0).sub(0.2860).div(0.3530)
    ytr = torch.from_numpy(read_idx(f"{DATA}/train-labels-idx1-ubyte.gz")[:train_limit].astype(np.int64))
    xte = torch.from_numpy(read_idx(f"{DATA}/t10k-images-idx3-ubyte.gz").copy())
    xte = xte.unsqueeze(1).float().div(255.0).sub(0.2860).div(0.3530)
    yte = torch.from_numpy(read_idx(f"{DATA}/t10k-labels-idx1-ubyte.gz").astype(np.int64))

    model = LeNet5() if arch == "lenet" else mlp()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    n = len(xtr)
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(epochs):
        perm = torch.randperm(n)
        for i in range(0, n, batch):
            idx = perm[i:i + batch]
            xb, yb = xtr.index_select(0, idx), ytr.index_select(0, idx)
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            loss.item()  # mutorch reads every batch loss (NaN check, progress)
    train_s, train_cpu = time.perf_counter() - t0, time.process_time() - c0

    model.eval()
    t0, c0 = time.perf_counter(), time.process_time()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(xte), 1000):
            correct += int((model(xte[i:i + 1000]).argmax(1) == yte[i:i + 1000]).sum())
    eval_s, eval_cpu = time.perf_counter() - t0, time.process_time() - c0
    print(json.dumps({"train_samples_per_second": n * epochs / train_s,
                      "eval_samples_per_second": len(xte) / eval_s,
                      "train_cpu_seconds": train_cpu, "eval_cpu_seconds": eval_cpu,
                      "accuracy": correct / len(xte)}))


if __name__ == "__main__":
    main()

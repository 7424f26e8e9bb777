#!/usr/bin/python3
"""The PyTorch side of bench/train_eval.sh's fresh-process evaluation: what
`mutorch eval` does, in a new Python process: read the test set, put the
weights of the model mutorch trained into the eager LeNet-5 of
pytorch_train_eval.py, and evaluate in batches of 1000. Only the
evaluation loop is timed, as in `mutorch eval`'s samples_per_second.
Prints one JSON line.
Usage: pytorch_eval.py THREADS MODEL.pt"""
import json
import sys
import time

import numpy as np
import torch

from pytorch_train_eval import DATA, LeNet5, read_idx


def main():
    threads, model_path = int(sys.argv[1]), sys.argv[2]
    torch.set_num_threads(threads)
    xte = torch.from_numpy(read_idx(f"{DATA}/t10k-images-idx3-ubyte.gz").copy())
    xte = xte.unsqueeze(1).float().div(255.0).sub(0.2860).div(0.3530)
    yte = torch.from_numpy(read_idx(f"{DATA}/t10k-labels-idx1-ubyte.gz").astype(np.int64))
    model = LeNet5()
    # mutorch's parameters come in the same order (conv, conv, linear x3).
    trained = list(torch.jit.load(model_path).parameters())
    with torch.no_grad():
        for p, q in zip(model.parameters(), trained, strict=True):
            p.copy_(q)
    model.eval()
    t0, c0 = time.perf_counter(), time.process_time()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(xte), 1000):
            correct += int((model(xte[i:i + 1000]).argmax(1) == yte[i:i + 1000]).sum())
    eval_s, eval_cpu = time.perf_counter() - t0, time.process_time() - c0
    print(json.dumps({"eval_samples_per_second": len(xte) / eval_s,
                      "eval_cpu_seconds": eval_cpu,
                      "accuracy": correct / len(xte)}))


if __name__ == "__main__":
    main()

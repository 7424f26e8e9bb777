"""LeNet-5 on Fashion-MNIST in plain PyTorch, trained as mutorch asks.

mutorch starts this script once per training run with MUTORCH_SPEC naming a
JSON spec (docs/training-programs.md): the seed, the thread count, the
training data as .npy files, the hyperparameters and where to save the
model. The script trains and saves a TorchScript model; mutorch evaluates
it on the test set itself.
"""
import json
import os
import sys

import numpy as np
import torch
from torch import nn


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(400, 120), nn.ReLU(),
            nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


def main():
    with open(os.environ["MUTORCH_SPEC"]) as f:
        spec = json.load(f)
    if spec["protocol"] != 1:  # exit status 3: "I cannot read this spec"
        print(f"train.py speaks protocol 1, not {spec['protocol']}", file=sys.stderr)
        sys.exit(3)
    torch.manual_seed(spec["seed"])
    torch.set_num_threads(spec["threads"])
    hp = spec["hyperparameters"]

    # already normalised as mutorch feeds the test set to the model
    x = torch.from_numpy(np.load(spec["train"]["x"]))
    y = torch.from_numpy(np.load(spec["train"]["y"]))
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, y), batch_size=hp["batch_size"],
        shuffle=True, generator=torch.Generator().manual_seed(spec["seed"]))

    model = LeNet()
    optimizer = torch.optim.Adam(model.parameters(), lr=hp["lr"])
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(hp["epochs"]):
        for inputs, labels in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(inputs), labels)
            loss.backward()
            optimizer.step()
        print(f"epoch {epoch + 1}/{hp['epochs']}: loss {loss.item():.4f}")

    torch.jit.save(torch.jit.script(model.eval()), spec["output"])


if __name__ == "__main__":
    main()

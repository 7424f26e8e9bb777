#!/usr/bin/python3
"""Make the untrained LSTM classifier of this example as a TorchScript file.

Each Fashion-MNIST image is read as a sequence of 28 time steps (its rows)
of 28 features (the pixels of a row). mutorch feeds N x 1 x 28 x 28, so
forward reshapes to N x 28 x 28 first. The last step's hidden state goes
through a linear layer to the 10 class scores.

Usage: /usr/bin/python3 make_model.py [OUT] [--hidden H] [--seed S]
       (default OUT: trained/lstm_init.pt next to this script)
Then `mutorch train mutorch.yml` trains it (trained/lstm.pt) and
`mutorch run mutorch.yml` runs the mutation analysis; see README.md."""
import argparse
import os

import torch
from torch import nn


class LSTMClassifier(nn.Module):
    def __init__(self, hidden: int = 64, classes: int = 10):
        super().__init__()
        self.lstm = nn.LSTM(input_size=28, hidden_size=hidden, batch_first=True)
        self.fc = nn.Linear(hidden, classes)

    def forward(self, x):
        # N x 1 x 28 x 28 -> N x 28 steps x 28 features
        x = x.reshape(x.size(0), 28, 28)
        out, _ = self.lstm(x)
        return self.fc(out[:, -1, :])


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", default=os.path.join(here, "trained", "lstm_init.pt"))
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    torch.manual_seed(a.seed)
    model = torch.jit.script(LSTMClassifier(a.hidden))
    torch.jit.save(model, a.out)
    print(f"wrote {a.out}: LSTM(28, {a.hidden}) + Linear({a.hidden}, 10), untrained")


if __name__ == "__main__":
    main()

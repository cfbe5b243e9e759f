"""A small PyTorch training loop fed by a DataLoader with worker processes.

    python3 torch_train.py --context fork|spawn [--workers 4] [--seconds S]
                           [--stop-file PATH] [--manifest PATH]

The trainer (this process) trains a tiny model with SGD in train_step(); the samples come
from SpinDataset, whose __getitem__ calls make_sample(), a pure-Python loop that shows up
on the CPU of each DataLoader worker.  Training stops after --seconds, or as soon as
--stop-file exists (the attach tests start it, record it for a while, then stop it).

--manifest gets one "ROLE PID PPID" line per process as it starts: "trainer" first, then
one "worker" line from each DataLoader worker (worker_init_fn), then "training" once the
first batch has been trained on (every worker is up and busy by then).
"""
import argparse
import os
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from _program import note

FEATURES = 64


def make_sample(idx):
    """The dataset's CPU work: a feature vector built in pure Python."""
    acc = idx * 2654435761 % 4294967296
    feats = []
    for _ in range(FEATURES):
        for _ in range(60):
            acc = (acc * 1103515245 + 12345) % 2147483648
        feats.append(acc / 2147483648.0 - 0.5)
    return feats


class SpinDataset(Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, idx):
        x = torch.tensor(make_sample(idx), dtype=torch.float32)
        y = x.sum().reshape(1)
        return x, y


class Init:
    """worker_init_fn: a picklable object, so spawn workers can run it too."""

    def __init__(self, manifest):
        self.manifest = manifest

    def __call__(self, worker_id):
        torch.set_num_threads(1)
        note(self.manifest, "worker")


def train_step(model, opt, loss_fn, x, y):
    """One SGD step, repeated so that the trainer has CPU work of its own."""
    for _ in range(4):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
    return loss.item()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--context", choices=["fork", "spawn"], required=True)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--stop-file")
    ap.add_argument("--manifest")
    ap.add_argument("--batch", type=int, default=32)
    a = ap.parse_args()

    torch.set_num_threads(1)
    torch.manual_seed(0)
    note(a.manifest, "trainer")
    model = nn.Sequential(nn.Linear(FEATURES, 256), nn.ReLU(), nn.Linear(256, 256),
                          nn.ReLU(), nn.Linear(256, 1))
    opt = torch.optim.SGD(model.parameters(), lr=1e-4)
    loss_fn = nn.MSELoss()
    loader = DataLoader(SpinDataset(1 << 20), batch_size=a.batch, shuffle=True,
                        num_workers=a.workers, multiprocessing_context=a.context,
                        worker_init_fn=Init(a.manifest), persistent_workers=True)

    start = None
    steps = 0
    for x, y in loader:
        train_step(model, opt, loss_fn, x, y)
        steps += 1
        if start is None:
            start = time.monotonic()
            note(a.manifest, "training")
        if a.stop_file and os.path.exists(a.stop_file):
            break
        if not a.stop_file and time.monotonic() - start >= a.seconds:
            break
        if a.stop_file and time.monotonic() - start >= 120:  # the test died: don't linger
            break
    print("trained %d steps" % steps, flush=True)


if __name__ == "__main__":
    main()

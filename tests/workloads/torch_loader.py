#!/usr/bin/env python3
"""Bench workload: the test bed's PyTorch DataLoader job (tests/apps/programs/torch_train.py)
with a fixed amount of work, for tests/bench_apps.py.

    python3 torch_loader.py [STEPS] [WORKERS]

The same dataset (SpinDataset: make_sample() in pure Python on each worker), the same model
and the same train_step() as the test bed's program, imported from it, with fork workers
(default 4). torch_train.py stops after a number of seconds; a benchmark needs a fixed
amount of work instead, so this one trains on exactly STEPS batches (default 1200, or
$TORCH_LOADER_STEPS) and lets the DataLoader run out, which shuts its workers down.

Prints "TOTAL_ELAPSED <seconds>" (from this script's first line, before `import torch`, to
after the last worker has exited), as the other bench workloads do.
"""
import time

T0 = time.monotonic()

import os  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "apps", "programs"))

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

import torch_train as tt  # noqa: E402

BATCH = 32

# 4 workers on a 2-CPU machine is the point of the job, not a mistake to warn about
warnings.filterwarnings("ignore", message="This DataLoader will create")


def main():
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else \
        int(os.environ.get("TORCH_LOADER_STEPS", "1200"))
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(tt.FEATURES, 256), nn.ReLU(), nn.Linear(256, 256),
                          nn.ReLU(), nn.Linear(256, 1))
    opt = torch.optim.SGD(model.parameters(), lr=1e-4)
    loss_fn = nn.MSELoss()
    loader = DataLoader(tt.SpinDataset(steps * BATCH), batch_size=BATCH, shuffle=True,
                        num_workers=workers, multiprocessing_context="fork",
                        worker_init_fn=tt.Init(None))
    done = 0
    for x, y in loader:  # exhausting the loader joins its workers
        tt.train_step(model, opt, loss_fn, x, y)
        done += 1
    assert done == steps, (done, steps)
    print("trained %d steps with %d fork workers" % (done, workers), flush=True)
    print("TOTAL_ELAPSED %.3f" % (time.monotonic() - T0), flush=True)


if __name__ == "__main__":
    main()

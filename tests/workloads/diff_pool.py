#!/usr/bin/env python3
"""diff_pool: two runs of one program, for comparing recordings (report --diff).

    DIFF_POOL_WORKERS=N DIFF_POOL_TUNED=X DIFF_POOL_LEAK_KIB=K DIFF_POOL_SCALE=S diff_pool.py

(the environment, not arguments: both runs have the same command line, as a program
recorded before and after a change does, so their roles line up.)

The parent does a fixed amount of work in parent_work(), then forks N workers (default 3)
and waits for them. Each worker runs steady_work() (a fixed amount) and tuned_work()
(X times that amount, default 1), then leak() keeps K KiB (default 0) in 64 KiB blocks
until it exits. All three loops run the same code, so CPU shares follow the amounts:
a second run with X=2 and N=4 doubles tuned_work and adds a worker. Work is counted in
iterations, not time, so the shares do not depend on the machine's load.
Prints one line: {"parent": PID, "workers": [PIDS]}.
"""
import json
import os
import sys

UNIT = 400_000  # iterations of one unit of work (~30 ms on CPython 3.11)
_kept = []



def parent_work(units):
    x = 0
    for i in range(units * UNIT):
        x = (x * 31 + i) & 0xFFFF
    return x


def steady_work(units):
    x = 0
    for i in range(units * UNIT):
        x = (x * 31 + i) & 0xFFFF
    return x


def tuned_work(units):
    x = 0
    for i in range(units * UNIT):
        x = (x * 31 + i) & 0xFFFF
    return x


def leak(kib):
    for _ in range(kib // 64):
        _kept.append(bytearray(64 * 1024))


def worker(scale, tuned, leak_kib):
    steady_work(round(4 * scale))
    tuned_work(round(4 * scale * tuned))
    leak(leak_kib)
    sys.stdout.flush()
    os._exit(0)


def main():
    env = os.environ.get
    workers = int(env("DIFF_POOL_WORKERS", "3"))
    tuned = float(env("DIFF_POOL_TUNED", "1"))
    leak_kib = int(env("DIFF_POOL_LEAK_KIB", "0"))
    scale = float(env("DIFF_POOL_SCALE", "1"))
    parent_work(round(8 * scale))
    pids = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            worker(scale, tuned, leak_kib)
        pids.append(pid)
    bad = 0
    for pid in pids:
        _, status = os.waitpid(pid, 0)
        bad += status != 0
    print(json.dumps({"parent": os.getpid(), "workers": pids}), flush=True)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""diff_pool: two runs of one program, for comparing recordings (report --diff).

    DIFF_POOL_WORKERS=N DIFF_POOL_TUNED=X DIFF_POOL_LEAK_KIB=K DIFF_POOL_SCALE=S diff_pool.py

(the environment, not arguments: both runs have the same command line, as a program
recorded before and after a change does, so their roles line up.)

The parent forks N workers (default 3), does a fixed amount of work in parent_work() and
waits for them. Each worker alternates steady_work() (one unit) and tuned_work() (X units,
default 1) 8*S times (S: DIFF_POOL_SCALE, default 1), then leak() keeps K KiB (default 0)
in 64 KiB blocks until it exits. All three are one loop under three names
(_common.renamed: copy _common.py along with this file), so CPU shares follow the
amounts: a second run with X=2 and N=4 doubles tuned_work and adds a worker. Work is
counted in iterations, not time, and the loops interleave in small slices, all processes
at once, so that a busy machine (a VM whose CPU time is stolen now and then) weighs them
alike.
Prints one line: {"parent": PID, "workers": [PIDS]}.
"""
import json
import os
import sys

from _common import renamed

UNIT = 200_000  # iterations of one unit of work (~15 ms on CPython 3.11)
_kept = []


def parent_work(units):
    x = 0
    for i in range(int(units * UNIT)):
        x = (x * 31 + i) & 0xFFFF
    return x


# The same loop under the names the comparison looks for (each the leaf of its samples).
steady_work = renamed(parent_work, "steady_work")
tuned_work = renamed(parent_work, "tuned_work")


def leak(kib):
    for _ in range(kib // 64):
        _kept.append(bytearray(64 * 1024))


def worker(scale, tuned, leak_kib):
    for _ in range(round(8 * scale)):
        steady_work(1)
        tuned_work(tuned)
    leak(leak_kib)
    sys.stdout.flush()
    os._exit(0)


def main():
    env = os.environ.get
    workers = int(env("DIFF_POOL_WORKERS", "3"))
    tuned = float(env("DIFF_POOL_TUNED", "1"))
    leak_kib = int(env("DIFF_POOL_LEAK_KIB", "0"))
    scale = float(env("DIFF_POOL_SCALE", "1"))
    pids = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            worker(scale, tuned, leak_kib)
        pids.append(pid)
    for _ in range(round(16 * scale)):
        parent_work(1)
    bad = 0
    for pid in pids:
        _, status = os.waitpid(pid, 0)
        bad += status != 0
    print(json.dumps({"parent": os.getpid(), "workers": pids}), flush=True)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()

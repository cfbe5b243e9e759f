#!/usr/bin/env python3
"""mem_tree: a Python process tree with known allocations, for the memory tests.

    mem_tree.py [--keep-mib N] [--churn-gib X] [--hold-mib N] [--hold-seconds S] [--leak-mib N]
                [--start-delay S]

(defaults from $MEM_TREE_KEEP_MIB, $MEM_TREE_CHURN_GIB, $MEM_TREE_HOLD_MIB,
$MEM_TREE_HOLD_SECONDS, $MEM_TREE_LEAK_MIB, $MEM_TREE_START_DELAY, else 8, 1, 32, 0.3, 4,
0). Runs on CPython 3.8+ with the standard library only.

--start-delay: each child sleeps that long before its first allocation. With per-process
allocator uprobes a new child is covered once treeprof has read its fork and placed its
probes: 2-4 ms on this machine, but about a second on the kernel matrix's emulated CPUs,
longer than a spawn worker takes to start Python, so the guest sets it.

The parent starts four children and waits for them:

    os_fork      os.fork()                        worker
    mp_fork      multiprocessing 'fork' context   worker
    mp_spawn     multiprocessing 'spawn' context  worker (a fresh interpreter: exec)
    leaky_child  os.fork()                        leaky_child

A worker calls, in order:

    keep_alive_mib(n)   n blocks of 1 MiB, referenced from a global until the process exits
    churn_gib(m)        m GiB in 256 KiB blocks, each freed before the next is made
    hold_peak_mib(p)    p blocks of 1 MiB held for --hold-seconds, then freed

then ends with os._exit(0), so the kept blocks are still allocated when it exits.
leaky_child(l) makes l blocks of 1 MiB, keeps them in a global and calls os._exit(0): they
are never freed. Starting the spawn child also starts multiprocessing's resource tracker, a
fifth child (python -c '...resource_tracker...') whose allocations are not known here. Every block is a bytearray(size): CPython asks malloc for size + 1 bytes
(the trailing NUL) and zero-fills it, so the pages are resident. The bytearray object
itself (56 bytes) comes from pymalloc and is not counted below.

Output: one JSON object per line on stdout and nothing else; each process writes its own
line (one os.write, so lines never interleave) when its work is done:
    {"tool": "mem_tree", "role": ..., "pid": ..., "ppid": ..., "start": ..., "python": ...,
     "functions": {NAME: {"calls", "call", "request_bytes", "alloc_bytes",
                          "live_at_exit_bytes", ...}},
     "peak_bytes": ..., "live_at_exit_bytes": ...}
peak_bytes is what the process's own blocks held at their peak (kept + held), on top of the
interpreter's own memory. The parent's line comes last, with the children's pids and roles;
the parent exits 1 if a child failed.
"""
import argparse
import json
import multiprocessing as mp
import os
import sys
import time
import traceback

MIB = 1 << 20
GIB = 1 << 30
BLOCK = MIB  # keep, hold and leak blocks
CHURN_BLOCK = 256 * 1024
BLOCK_REQUEST = BLOCK + 1  # what malloc is asked for
CHURN_REQUEST = CHURN_BLOCK + 1

_kept = []  # keep_alive_mib: alive until the process exits
_leaked = []  # leaky_child: never freed


def keep_alive_mib(n):
    for _ in range(n):
        _kept.append(bytearray(BLOCK))


def churn_gib(m):
    count = int(m * GIB) // CHURN_BLOCK
    total = 0
    for _ in range(count):
        total += len(bytearray(CHURN_BLOCK))  # freed as soon as it is measured
    return count


def hold_peak_mib(p, seconds):
    held = [bytearray(BLOCK) for _ in range(p)]
    time.sleep(seconds)
    del held


def _emit(record):
    record = dict(record, tool="mem_tree", pid=os.getpid(), ppid=os.getppid(),
                  python=sys.version.split()[0])
    os.write(1, (json.dumps(record, sort_keys=True) + "\n").encode())


def _blocks(calls, request, live):
    return {"calls": calls, "call": "malloc", "request_bytes": request,
            "alloc_bytes": calls * request, "live_at_exit_bytes": live}


def worker(role, start, cfg):
    time.sleep(cfg["start_delay"])
    keep_alive_mib(cfg["keep_mib"])
    churned = churn_gib(cfg["churn_gib"])
    hold_peak_mib(cfg["hold_mib"], cfg["hold_seconds"])
    kept = cfg["keep_mib"] * BLOCK_REQUEST
    held = cfg["hold_mib"] * BLOCK_REQUEST
    hold = _blocks(cfg["hold_mib"], BLOCK_REQUEST, 0)
    hold.update(held_bytes=held, hold_seconds=cfg["hold_seconds"])
    _emit({"role": role, "start": start,
           "functions": {
               "keep_alive_mib": _blocks(cfg["keep_mib"], BLOCK_REQUEST, kept),
               "churn_gib": _blocks(churned, CHURN_REQUEST, 0),
               "hold_peak_mib": hold},
           "peak_bytes": kept + held, "live_at_exit_bytes": kept})
    os._exit(0)


def leaky_child(n, delay):
    time.sleep(delay)
    for _ in range(n):
        _leaked.append(bytearray(BLOCK))
    leaked = n * BLOCK_REQUEST
    _emit({"role": "leaky_child", "start": "os.fork",
           "functions": {"leaky_child": _blocks(n, BLOCK_REQUEST, leaked)},
           "peak_bytes": leaked, "live_at_exit_bytes": leaked})
    os._exit(0)


def _fork(fn, *args):
    pid = os.fork()
    if pid == 0:
        try:
            fn(*args)  # ends with os._exit(0)
        except BaseException:
            traceback.print_exc()
        os._exit(1)
    return pid


def _config():
    env = os.environ.get
    ap = argparse.ArgumentParser(description="Python tree with known allocations.")
    ap.add_argument("--keep-mib", type=int, default=int(env("MEM_TREE_KEEP_MIB", "8")))
    ap.add_argument("--churn-gib", type=float, default=float(env("MEM_TREE_CHURN_GIB", "1")))
    ap.add_argument("--hold-mib", type=int, default=int(env("MEM_TREE_HOLD_MIB", "32")))
    ap.add_argument("--hold-seconds", type=float,
                    default=float(env("MEM_TREE_HOLD_SECONDS", "0.3")))
    ap.add_argument("--leak-mib", type=int, default=int(env("MEM_TREE_LEAK_MIB", "4")))
    ap.add_argument("--start-delay", type=float,
                    default=float(env("MEM_TREE_START_DELAY", "0")))
    args = ap.parse_args()
    for name in ("keep_mib", "churn_gib", "hold_mib", "hold_seconds", "leak_mib",
                 "start_delay"):
        if getattr(args, name) < 0:
            ap.error("--%s must not be negative" % name.replace("_", "-"))
    return vars(args)


def main():
    cfg = _config()
    t0 = time.perf_counter()
    children = [(_fork(worker, "os_fork", "os.fork", cfg), "os_fork"),
                (_fork(leaky_child, cfg["leak_mib"], cfg["start_delay"]), "leaky_child")]
    procs = [(mp.get_context("fork").Process(target=worker, name="mp_fork",
                                             args=("mp_fork", "multiprocessing.fork", cfg)),
              "mp_fork"),
             (mp.get_context("spawn").Process(target=worker, name="mp_spawn",
                                              args=("mp_spawn", "multiprocessing.spawn", cfg)),
              "mp_spawn")]
    for p, _ in procs:
        p.start()
    failed = []
    for pid, role in children:
        _, status = os.waitpid(pid, 0)
        if status != 0:
            failed.append(role)
    for p, role in procs:
        p.join()
        children.append((p.pid, role))
        if p.exitcode != 0:
            failed.append(role)
    live = 3 * cfg["keep_mib"] * BLOCK_REQUEST + cfg["leak_mib"] * BLOCK_REQUEST
    _emit({"role": "parent", "start": "exec", "functions": {},
           "children": [{"pid": pid, "role": role} for pid, role in children],
           "config": cfg, "tree_live_at_exit_bytes": live,
           "elapsed_s": round(time.perf_counter() - t0, 3), "failed": failed,
           "peak_bytes": 0, "live_at_exit_bytes": 0})
    if failed:
        print("mem_tree: children failed: %s" % ", ".join(failed), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

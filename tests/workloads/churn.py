#!/usr/bin/env python3
"""Process trees for the fault and stress tests (tests/integration/test_faults.py,
tests/stress.py). Each mode writes its ground truth to --out (one line per process,
"ROLE PID PPID", and for the storm a last line "COUNT N"):

    burn      N workers (--procs) burning CPU in burn_worker_hot for --seconds; the parent
              burns in burn_parent_hot (so the tree is N+1 CPU-bound processes)
    vanish    a parent forking --procs children that live --child-ms each, one after the
              other, then exiting after --seconds in all (a tree ending while treeprof
              attaches)
    storm     a parent forking --rate children a second for --seconds; each child exits at
              once (storm_child); the parent reaps them as it goes
    crowd     --procs children alive at once for --seconds, each burning --child-ms in
              crowd_child_hot every 100 ms and sleeping the rest

--go-file FILE: the parent writes its pid line, then waits for FILE before starting.
Works on Python 3.8 and later.
"""
import argparse
import os
import time

from _common import spin  # wall time: the tests check the leaf frame spin


def note(out, role, pid=None, ppid=None):
    with open(out, "a") as f:
        f.write("%s %d %d\n" % (role, pid or os.getpid(), ppid or os.getppid()))


def burn_worker_hot(seconds):
    return spin(seconds)


def burn_parent_hot(seconds):
    return spin(seconds)


def crowd_child_hot(seconds, ms):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        spin(ms / 1000.0)
        time.sleep(0.1)


def storm_child():
    os._exit(0)


def vanish_child(ms):
    spin(ms / 1000.0)
    os._exit(0)


def fork_do(fn, *args):
    pid = os.fork()
    if pid == 0:
        try:
            fn(*args)
        finally:
            os._exit(0)
    return pid


def burn(a):
    kids = []
    for _ in range(a.procs):
        pid = fork_do(lambda: (note(a.out, "worker"), burn_worker_hot(a.seconds)))
        kids.append(pid)
    burn_parent_hot(a.seconds)
    for pid in kids:
        os.waitpid(pid, 0)


def vanish(a):
    start = time.monotonic()
    for _ in range(a.procs):
        pid = fork_do(vanish_child, a.child_ms)
        note(a.out, "child", pid, os.getpid())
        os.waitpid(pid, 0)
    left = a.seconds - (time.monotonic() - start)
    if left > 0:
        time.sleep(left)


def storm(a):
    n, start = 0, time.monotonic()
    pids = []
    while True:
        now = time.monotonic()
        if now - start >= a.seconds:
            break
        due = int((now - start) * a.rate) + 1
        while n < due:
            pids.append(fork_do(storm_child))
            n += 1
        # Reap what has exited, without waiting.
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
        time.sleep(0.001)
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            break
    with open(a.out, "a") as f:
        for pid in pids:
            f.write("child %d %d\n" % (pid, os.getpid()))
        f.write("COUNT %d\n" % n)


def crowd(a):
    kids = []
    for _ in range(a.procs):
        kids.append(fork_do(crowd_child_hot, a.seconds, a.child_ms))
    with open(a.out, "a") as f:
        for pid in kids:
            f.write("child %d %d\n" % (pid, os.getpid()))
    for pid in kids:
        os.waitpid(pid, 0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["burn", "vanish", "storm", "crowd"])
    ap.add_argument("--out", required=True)
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--child-ms", type=float, default=5.0)
    ap.add_argument("--rate", type=float, default=1000.0)
    ap.add_argument("--go-file")
    a = ap.parse_args()
    note(a.out, "parent")
    if a.go_file:
        while not os.path.exists(a.go_file):
            time.sleep(0.005)
    {"burn": burn, "vanish": vanish, "storm": storm, "crowd": crowd}[a.mode](a)


if __name__ == "__main__":
    main()

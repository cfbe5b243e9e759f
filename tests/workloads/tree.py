#!/usr/bin/env python3
"""A Python process tree with every shape treeprof must follow.

Each process burns CPU in its own distinctly named function (own_hot under the role's
name, calling spin_until) and writes one line "ROLE PID PPID" to the manifest
(--manifest FILE), the ground truth the tests compare the recording with:

    parent          main process                    parent_hot
    fork            multiprocessing 'fork'          fork_worker_hot
    grandchild      os.fork() inside 'fork'         grandchild_hot
    spawn           multiprocessing 'spawn'         spawn_worker_hot
    forkserver      multiprocessing 'forkserver'    forkserver_worker_hot
    exec            subprocess of sys.executable    exec_helper_hot
    late            forked after --late-after s     late_child_hot
    short           twenty 20 ms os.fork() children short_child_hot

With --go-file FILE the early workers (fork, grandchild, spawn, forkserver, exec) wait
for FILE to exist before they spin for --seconds, and the parent starts the late and short
children only once FILE exists, and then --late-after: a test attaching with -p creates it
once attached, and finds every early worker still running however slow the machine.
Works on Python 3.8 and later.
"""
import argparse
import multiprocessing as mp
import os
import subprocess
import sys
import time

from _common import renamed


def spin_until(seconds, go=None):
    """Burn CPU for `seconds`; with go, idle until the file go exists first."""
    while go and not os.path.exists(go):
        time.sleep(0.01)
    x, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        for i in range(2000):
            x += i * i
    return x


def own_hot(seconds, go=None):
    return spin_until(seconds, go)


# role -> its own function: own_hot under the role's name (the table above).
HOT = {role: renamed(own_hot, name) for role, name in (
    ("parent", "parent_hot"), ("fork", "fork_worker_hot"), ("grandchild", "grandchild_hot"),
    ("spawn", "spawn_worker_hot"), ("forkserver", "forkserver_worker_hot"),
    ("exec", "exec_helper_hot"), ("late", "late_child_hot"), ("short", "short_child_hot"))}


def note(manifest, role):
    with open(manifest, "a") as f:
        f.write("%s %d %d\n" % (role, os.getpid(), os.getppid()))


def fork_worker(manifest, seconds, go):
    note(manifest, "fork")
    pid = os.fork()
    if pid == 0:
        note(manifest, "grandchild")
        HOT["grandchild"](seconds, go)
        os._exit(0)
    HOT["fork"](seconds, go)
    os.waitpid(pid, 0)


def spawn_worker(manifest, seconds, go):
    note(manifest, "spawn")
    HOT["spawn"](seconds, go)


def forkserver_worker(manifest, seconds, go):
    note(manifest, "forkserver")
    HOT["forkserver"](seconds, go)


def fork_child(manifest, role, fn, seconds):
    pid = os.fork()
    if pid == 0:
        try:
            note(manifest, role)
            fn(seconds)
        finally:
            os._exit(0)
    return pid


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--seconds", type=float, default=1.5, help="CPU time per worker")
    ap.add_argument("--go-file", help="start the late children, and the early workers' "
                    "--seconds, once this file exists")
    ap.add_argument("--late-after", type=float, default=0.3)
    ap.add_argument("--role", default="parent")
    a = ap.parse_args()

    if a.role == "exec":
        note(a.manifest, "exec")
        HOT["exec"](a.seconds, a.go_file)
        return

    note(a.manifest, "parent")
    procs = [
        mp.get_context("fork").Process(target=fork_worker,
                                       args=(a.manifest, a.seconds, a.go_file)),
        mp.get_context("spawn").Process(target=spawn_worker,
                                        args=(a.manifest, a.seconds, a.go_file)),
        mp.get_context("forkserver").Process(
            target=forkserver_worker, args=(a.manifest, a.seconds, a.go_file)),
    ]
    for p in procs:
        p.start()
    helper = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--role", "exec",
                               "--manifest", a.manifest, "--seconds", str(a.seconds)]
                              + (["--go-file", a.go_file] if a.go_file else []))
    if a.go_file:
        while not os.path.exists(a.go_file):
            time.sleep(0.01)
    time.sleep(a.late_after)
    late = fork_child(a.manifest, "late", HOT["late"], a.seconds / 2)
    for _ in range(20):
        pid = fork_child(a.manifest, "short", HOT["short"], 0.02)
        os.waitpid(pid, 0)
    HOT["parent"](a.seconds / 2)
    os.waitpid(late, 0)
    helper.wait()
    for p in procs:
        p.join()


if __name__ == "__main__":
    main()

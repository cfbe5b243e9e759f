#!/usr/bin/env python3
"""root_execs: a process that starts children in each of the ways that lose an inherited
descriptor or pass a new environment, for the sampler-in-any-root test (test_memory.py):

    subprocess     subprocess.run (close_fds: every descriptor from 3 on closed in the child
                   before its exec; Python 3.14 does it with posix_spawn's closefrom)
    posix_spawn    os.posix_spawn with the environment given explicitly
    fork_execv     os.fork, then os.execv in the child (descriptors kept)
    execve_env     os.fork, then os.execve with a new environment holding only LD_PRELOAD
                   and TREEPROF_MEM_SAMPLE as the parent has them

Each child runs this file again with `child TAG`: it keeps 8 MiB allocated in child_alloc
and prints one JSON line {"role": TAG, "pid": ...} before it exits. The parent waits for
each child in turn, prints {"role": "parent", "pid": ...} and exits 0.
Standard library only."""
import json
import os
import subprocess
import sys

KEEP = 8 << 20
HELD = []


def child_alloc():
    HELD.append(bytearray(KEEP))


def child(tag):
    child_alloc()
    print(json.dumps({"role": tag, "pid": os.getpid()}), flush=True)


def wait(pid):
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("root_execs: child %d failed (%d)" % (pid, status))


def main():
    me = [sys.executable, os.path.abspath(__file__), "child"]
    subprocess.run(me + ["subprocess"], check=True)
    wait(os.posix_spawn(sys.executable, me + ["posix_spawn"], dict(os.environ)))
    pid = os.fork()
    if pid == 0:
        os.execv(sys.executable, me + ["fork_execv"])
    wait(pid)
    pid = os.fork()
    if pid == 0:
        env = {k: v for k, v in os.environ.items() if k in ("LD_PRELOAD", "TREEPROF_MEM_SAMPLE")}
        os.execve(sys.executable, me + ["execve_env"], env)
    wait(pid)
    print(json.dumps({"role": "parent", "pid": os.getpid()}), flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "child":
        child(sys.argv[2])
    else:
        main()

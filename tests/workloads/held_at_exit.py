"""A process that keeps memory until its code ends, then exits normally: the interpreter's
finalization (Py_FinalizeEx) frees what the globals hold, which must not hide it. Before
that it forks a child that allocates memory of its own and leaves with os._exit.

keep_at_exit(n): n blocks of 1 MiB referenced from a global until the end (default 48).
child_alloc(m): in the fork child, m blocks of 1 MiB kept until its os._exit (default 16).
Prints one JSON line per process: {"role", "pid", "kept_bytes"}."""
import json
import os
import sys

BLOCK = 1 << 20
_kept = []


def keep_at_exit(n):
    for _ in range(n):
        _kept.append(bytearray(BLOCK))


def child_alloc(m):
    mine = [bytearray(BLOCK) for _ in range(m)]
    print(json.dumps({"role": "child", "pid": os.getpid(), "kept_bytes": m * BLOCK}),
          flush=True)
    os._exit(0 if mine else 1)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 48
    m = int(sys.argv[2]) if len(sys.argv) > 2 else 16
    keep_at_exit(n)
    pid = os.fork()
    if pid == 0:
        child_alloc(m)
    os.waitpid(pid, 0)
    print(json.dumps({"role": "parent", "pid": os.getpid(), "kept_bytes": n * BLOCK}),
          flush=True)


if __name__ == "__main__":
    main()

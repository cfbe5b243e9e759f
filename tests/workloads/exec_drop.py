"""An image that holds memory, then execs one that does not (live --mem's exec rule:
tests/integration/test_memory.py).

Before the exec: n blocks of 1 MiB (default 48) kept in a list, held for --seconds (default
2.5). Then os.execv into this same file with "after": the new image of the same process
allocates nothing much and sleeps --seconds. What the first image held is no longer the
process's heap after the exec, though no free of it is ever seen.

    exec_drop.py [N] [--seconds S]
Works on Python 3.6 and later."""
import os
import sys
import time

BLOCK = 1 << 20
_kept = []  # held until the exec replaces the image


def hold_then_exec(n, seconds):
    for _ in range(n):
        _kept.append(bytearray(BLOCK))
    time.sleep(seconds)
    argv = [sys.executable, os.path.abspath(__file__), "after", "--seconds", str(seconds)]
    os.execv(sys.executable, argv)


def main():
    args = sys.argv[1:]
    seconds = 2.5
    if "--seconds" in args:
        i = args.index("--seconds")
        seconds = float(args[i + 1])
        del args[i:i + 2]
    if args and args[0] == "after":
        time.sleep(seconds)
        return
    hold_then_exec(int(args[0]) if args else 48, seconds)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A 100-frame Python stack: recurse 99 levels below <module>, then burn CPU at the bottom
for about 2 seconds (argv[1]). Used by make bench for the BPF cost per sample of a deep
stack; argv[2] sets another depth (10 for the shallow row)."""
import sys
import time


def bottom(seconds):
    end = time.monotonic() + seconds
    x = 0
    while time.monotonic() < end:
        for i in range(1000):
            x += i
    return x


def level(n, seconds):
    if n == 0:
        return bottom(seconds)
    return level(n - 1, seconds)


if __name__ == "__main__":
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    depth = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    t0 = time.perf_counter()
    level(depth - 3, seconds)  # <module> + (depth - 2) level frames + bottom = depth frames
    print("TOTAL_ELAPSED %.4f" % (time.perf_counter() - t0))

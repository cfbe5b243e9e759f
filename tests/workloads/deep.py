#!/usr/bin/env python3
"""A 100-frame Python stack: recurse 99 levels below <module>, then burn CPU at the bottom
for about 2 seconds. Used by make bench for the BPF cost per sample of a deep stack."""
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
    t0 = time.perf_counter()
    level(97, seconds)  # <module> + 98 level frames + bottom = 100 frames
    print("TOTAL_ELAPSED %.4f" % (time.perf_counter() - t0))

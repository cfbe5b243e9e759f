#!/usr/bin/env python3
"""Python code shapes a profiler must name right, one after the other in one process.

    phase        function (its frame is on the stack while it burns)   CPU
    nested       Outer.Inner.method, hot loop on the line marked HOT-LINE   0.4 s
    recursion    recurse(100) .. recurse(1) -> recursion_leaf               0.3 s
    generator    gen_work, a generator consumed by a for loop                0.2 s
    coroutine    async def coro_work, run by asyncio.run                      0.2 s
    threads      thread_work in a second thread, main_thread_work in the    0.25 s
                 main thread at the same time                               each

Outer.Inner.method spins in its own body, so it is the leaf Python frame of its samples,
on the HOT-LINE.  run_recursion calls recurse(RECURSION_DEPTH) again and again until its
time is up: RECURSION_DEPTH frames of `recurse`, complete in one stack under <module> >
main > run_recursion, and recursion_leaf, which does a fixed amount of work, at the
bottom.  The generator, the coroutine and the two threads burn in _common.spin, called
from the function the tests look for on the stack.

With --out FILE it writes a JSON object: pid, the native thread ids of the main thread and
of the thread_work thread, sys.version and the line of the hot loop.
Standard library only; runs on Python 3.8 and later.
"""
import argparse
import asyncio
import json
import os
import sys
import threading
import time

from _common import renamed, spin

RECURSION_DEPTH = 100


class Outer:
    class Inner:
        def method(self, seconds):
            end = time.process_time() + seconds
            x = 0
            while time.process_time() < end:
                for i in range(5000): x += i * i  # HOT-LINE
            return x


def recursion_leaf():
    x = 0
    for i in range(5000):
        x += i * i
    return x


def recurse(n):
    """n frames of recurse, then recursion_leaf at the bottom."""
    if n <= 1:
        return recursion_leaf()
    return recurse(n - 1) + 0      # not a tail call, whatever the interpreter


def run_recursion(seconds):
    end = time.process_time() + seconds
    while time.process_time() < end:
        recurse(RECURSION_DEPTH)


def gen_work(seconds, slices):
    for _ in range(slices):
        yield spin(seconds / slices, time.process_time, 5000)


def run_generator(seconds):
    total = 0
    for x in gen_work(seconds, 20):
        total += x
    return total


async def coro_work(seconds, slices):
    x = 0
    for _ in range(slices):
        x += spin(seconds / slices, time.process_time, 5000)
        await asyncio.sleep(0)
    return x


def thread_work(seconds):
    # thread_time: this thread's own CPU time, whatever the other one does.
    return spin(seconds, time.thread_time, 5000)


# The main thread's twin, under a name of its own: the tests tell the two threads apart.
main_thread_work = renamed(thread_work, "main_thread_work")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", help="write pid, thread ids and version here (JSON)")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every phase's CPU")
    a = ap.parse_args()
    s = a.scale

    Outer.Inner().method(0.4 * s)
    run_recursion(0.3 * s)
    run_generator(0.2 * s)
    asyncio.run(coro_work(0.2 * s, 20))

    tids = {}

    def thread_main():
        tids["thread"] = threading.get_native_id()
        thread_work(0.25 * s)

    t = threading.Thread(target=thread_main, name="worker")
    t.start()
    tids["main"] = threading.get_native_id()
    main_thread_work(0.25 * s)
    t.join()

    if a.out:
        hot = [i for i, line in enumerate(open(__file__), 1)
               if line.rstrip().endswith("# HOT-LINE") and not line.lstrip().startswith("#")]
        with open(a.out, "w") as f:
            json.dump({"pid": os.getpid(), "main_tid": tids["main"],
                       "thread_tid": tids["thread"], "version": sys.version,
                       "hexversion": sys.hexversion, "hot_line": hot[0]}, f)


if __name__ == "__main__":
    main()

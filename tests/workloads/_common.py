"""What several workloads share (imported from their own folder; standard library only,
Python 3.8 and later).

A workload that must be seen *in* a function of its own spins in that function's body
(the tests check the leaf Python frame and its file); where several roles run the same
loop, one body serves them all under the names renamed() gives it (mixed_parent.py,
diff_pool.py, tree.py, pyfeatures.py's two threads). The others call spin() from a
function whose name the tests look for on the stack. run_tree() is the parent of the
reference trees (cpu_tree.py, alloc_tree.py); main_for() the main of a workload repeating
a few steps for argv[1] seconds (hot_paths.py, short_helpers.py)."""
import multiprocessing as mp
import os
import sys
import time
import types


def spin(seconds, clock=time.monotonic, width=1000):
    """Burn CPU in pure Python until `seconds` have passed on clock (wall time by default;
    time.process_time: this process's CPU time); width: iterations between clock reads."""
    x, end = 0, clock() + seconds
    while clock() < end:
        for i in range(width):
            x += i * i
    return x


def renamed(fn, name):
    """fn under another name: a copy of its code (same file, same lines) whose co_name, and
    co_qualname on 3.11+, is `name`, so a profiler shows frames of it as `name`."""
    code = fn.__code__.replace(co_name=name)
    if hasattr(code, "co_qualname"):
        code = code.replace(co_qualname=name)
    copy = types.FunctionType(code, fn.__globals__, name, fn.__defaults__, fn.__closure__)
    copy.__kwdefaults__ = fn.__kwdefaults__
    return copy


def main_for(*steps):
    """Call steps in turn, again and again, until argv[1] seconds of wall time have passed
    (checked after each round)."""
    end = time.monotonic() + float(sys.argv[1])
    while time.monotonic() < end:
        for step in steps:
            step()


def work_scale():
    """A reference tree's work scale: argv[1], else $WORK_SCALE, else 1.0."""
    return float(sys.argv[1]) if len(sys.argv) > 1 else float(os.environ.get("WORK_SCALE", "1.0"))


def run_tree(workers, scale, extra=""):
    """The parent of a reference tree: starts workers, [(start method, target, name)], all
    at once, joins them, prints "TOTAL_ELAPSED <seconds> ..." (from before the first
    start() to after the last join()) followed by extra, and exits 1 if a worker failed."""
    t0 = time.perf_counter()
    procs = [mp.get_context(method).Process(target=target, name=name)
             for method, target, name in workers]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    dt = time.perf_counter() - t0
    bad = [p.name for p in procs if p.exitcode != 0]
    print(f"TOTAL_ELAPSED {dt:.4f} python={sys.version.split()[0]} scale={scale} "
          f"parent={os.getpid()}{extra}", flush=True)
    if bad:
        print(f"FAILED workers: {bad}", file=sys.stderr)
        sys.exit(1)

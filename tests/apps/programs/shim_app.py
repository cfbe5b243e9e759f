"""A small multiprocessing application, meant to be started through a pyenv shim
(`python3 shim_app.py` with ~/.pyenv/shims first on PATH).

    python3 shim_app.py [--workers 3] [--seconds S] [--manifest PATH]

The parent starts --workers fork workers that run crunch() for --seconds, and runs
collect() itself meanwhile.  --manifest gets "parent PID PPID" and "worker PID PPID" lines,
and "exe PATH" with the interpreter the shim chose.
"""
import multiprocessing
import sys
import time

from _program import note, options


def spin(seconds):
    end, n = time.monotonic() + seconds, 0
    while time.monotonic() < end:
        n += sum(i * i for i in range(500))
    return n


def crunch(manifest, seconds):
    """A worker's job."""
    note(manifest, "worker")
    spin(seconds)


def collect(seconds):
    """The parent's own work while its workers run."""
    return spin(seconds)


def main():
    a = options(workers=3, seconds=1.5, manifest=None)
    note(a.manifest, "parent")
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=crunch, args=(a.manifest, a.seconds))
             for _ in range(a.workers)]
    for p in procs:
        p.start()
    collect(a.seconds)
    for p in procs:
        p.join()
    print("ran on", sys.executable, flush=True)


if __name__ == "__main__":
    main()

"""numpy work in a multiprocessing.Pool of fork workers.

    python3 numpy_pool.py [--workers 4] [--tasks N] [--size N] [--manifest PATH]

The parent builds the task inputs in make_inputs(), a generator that Pool.map consumes in
the parent (map turns its iterable into a list before sending tasks), and collects the
results; each worker runs sort_and_multiply(): np.sort of a random vector and a matrix
product.  --manifest gets "parent PID PPID" and one "worker PID PPID" per pool worker.
"""
import multiprocessing

import numpy as np

from _program import note, options


def sort_and_multiply(task):
    """A worker's task: sort a vector, multiply matrices, reduce to a number."""
    seed, size = task
    rng = np.random.default_rng(seed)
    total = 0.0
    for _ in range(4):
        v = np.sort(rng.standard_normal(size * size))
        m = v.reshape(size, size)
        total += float((m @ m.T).trace())
    return total


def make_inputs(tasks, size):
    """The parent's share: a seed per task, mixed in pure Python."""
    for i in range(tasks):
        seed = i
        for _ in range(20000):
            seed = (seed * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        yield seed, size


def main():
    a = options(workers=4, tasks=64, size=160, manifest=None)
    note(a.manifest, "parent")
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(a.workers, initializer=note, initargs=(a.manifest, "worker")) as pool:
        results = pool.map(sort_and_multiply, make_inputs(a.tasks, a.size), chunksize=1)
    print("%d results, sum %.3g" % (len(results), sum(results)), flush=True)


if __name__ == "__main__":
    main()

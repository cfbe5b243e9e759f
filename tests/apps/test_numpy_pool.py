"""numpy in a multiprocessing.Pool (python3-numpy, 4 fork workers), launched:
programs/numpy_pool.py, each worker in sort_and_multiply() (np.sort and a matrix product),
the parent in Pool.map, building the inputs in make_inputs()."""
import os

import pytest

from conftest import (DEBIAN_PYTHON, Report, check_function_in, need_module, pids_of,
                      program, py_frames, record_launched, wait_manifest)

PROG = program("numpy_pool.py")
WORKERS = 4


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    need_module("numpy")
    tmp = str(tmp_path_factory.mktemp("numpy-pool"))
    manifest = os.path.join(tmp, "manifest")
    # 499 Hz: the workers' numpy work is a few seconds of CPU between them
    data = record_launched(tmp, [DEBIAN_PYTHON, PROG, "--workers", str(WORKERS),
                                 "--manifest", manifest], ["-F", "499"], timeout=90)
    rows = wait_manifest(manifest, lambda r: True, 1, "the manifest")
    rep = Report(data)
    rep.parent = pids_of(rows, "parent")[0]
    rep.workers = pids_of(rows, "worker")
    assert len(rep.workers) == WORKERS, rows
    return rep


def test_every_pool_worker_present_with_samples(pool):
    for pid in [pool.parent] + pool.workers:
        assert pid in pool.procs, "process %d missing; recorded:\n%s" % (pid, pool.describe())
        assert pool.samples(pid) > 0, "process %d has no samples:\n%s" % (
            pid, pool.describe([pid]))
    for pid in pool.workers:
        assert pool.procs[pid]["ppid"] == pool.parent, pool.describe([pid])


def test_each_worker_shows_its_numpy_function_with_file_line(pool):
    for pid in pool.workers:
        got = check_function_in(pool, pid, "sort_and_multiply", PROG, "pool worker")
        share = sum(got.values()) / pool.samples(pid)
        # the worker does nothing else: most of its samples are under its task
        assert share >= 0.5, "worker %d: %.0f%% of its %d samples in sort_and_multiply" % (
            pid, 100 * share, pool.samples(pid))


def test_parent_shows_its_map_call(pool):
    """The parent's samples include main -> Pool.map at the line of the pool.map call,
    and the inputs being built under it."""
    src = open(PROG).read().splitlines()
    call_line = [i + 1 for i, ln in enumerate(src) if "pool.map(" in ln]
    assert len(call_line) == 1
    under_map = 0
    for count, frames in pool.stacks(pool.parent):
        py = py_frames(frames)
        for caller, callee in zip(py, py[1:]):
            if (caller["name"], caller["file"], caller["line"]) == ("main", PROG, call_line[0]) \
                    and callee["name"] == "Pool.map" \
                    and callee["file"].endswith("multiprocessing/pool.py"):
                under_map += count
                break
    assert under_map > 0, "parent %d: no sample under main (%s:%d) -> Pool.map; its " \
        "functions: %s" % (pool.parent, PROG, call_line[0],
                           sorted(pool.functions(pool.parent).items(), key=lambda x: -x[1])[:12])
    check_function_in(pool, pool.parent, "make_inputs", PROG, "parent")

"""A PyTorch training job (python3-torch, CPU) fed by a DataLoader with 4 worker processes,
fork and spawn, launched and attached: what its user checks in treeprof's reports.

programs/torch_train.py: the trainer runs train_step() (a tiny MLP, SGD); each DataLoader
worker builds samples in make_sample() (pure Python, called from SpinDataset.__getitem__).
Each process writes "ROLE PID PPID" to a manifest as it starts.

- launched: `record --mem -- /usr/bin/python3 torch_train.py` (CPU and memory, the
  preloaded sampler), with each process's VmHWM read from /proc while it runs;
- attached: the job started alone, `record --mem -p TRAINER -d 4` (uprobes on each
  process's C library) once its workers are training, VmHWM read the same way.
"""
import os

import pytest

from conftest import (DEBIAN_PYTHON, MIB, App, Attached, Report, RssWatcher,
                      check_function_in, fmt_mib, need_module, pids_of, program,
                      record_launched, report_text, text_section, tree_pids,
                      wait_manifest)

PROG = program("torch_train.py")
WORKERS = 4
CONTEXTS = ["fork", "spawn"]


def job_argv(context, manifest, *extra):
    return [DEBIAN_PYTHON, "-W", "ignore", PROG, "--context", context,
            "--workers", str(WORKERS), "--manifest", manifest] + list(extra)


class Run:
    """One recording of the job and what the job said about its processes."""

    def __init__(self, data, manifest, watcher=None):
        rows = wait_manifest(manifest, lambda r: True, 1, "the manifest")
        self.trainer = pids_of(rows, "trainer")[0]
        self.workers = pids_of(rows, "worker")
        assert len(self.workers) == WORKERS, "the job started %d workers: %s" % (
            len(self.workers), rows)
        self.data = data
        self.rep = Report(data)
        self.role = Report(data, "--group-by", "role")
        self.watcher = watcher


@pytest.fixture(scope="module", params=CONTEXTS)
def launched(request, tmp_path_factory):
    need_module("torch")
    tmp = str(tmp_path_factory.mktemp("torch-launch-" + request.param))
    manifest = os.path.join(tmp, "manifest")
    watcher = RssWatcher()
    data = record_launched(tmp, job_argv(request.param, manifest, "--seconds", "3"),
                           ["--mem"], timeout=150, watch=watcher)
    return Run(data, manifest, watcher)


@pytest.fixture(scope="module", params=CONTEXTS)
def attached(request, tmp_path_factory):
    need_module("torch")
    tmp = str(tmp_path_factory.mktemp("torch-attach-" + request.param))
    manifest, stop = os.path.join(tmp, "manifest"), os.path.join(tmp, "stop")
    app = App(tmp, job_argv(request.param, manifest, "--stop-file", stop), name="job")
    request.addfinalizer(app.stop)
    wait_manifest(manifest, lambda r: pids_of(r, "training"), 120,
                  "the job's workers to start training", app)
    watcher = RssWatcher().start(lambda: tree_pids(app.pid))
    request.addfinalizer(watcher.stop)
    rec = Attached(tmp, app.pid, ["--mem", "-d", "4"])
    request.addfinalizer(rec.kill)
    rec.wait_attached()
    data = rec.finish(timeout=40)
    watcher.stop()
    open(stop, "w").close()
    app.wait(60)
    return Run(data, manifest, watcher)


def check_every_worker_sampled(run):
    for pid in [run.trainer] + run.workers:
        assert pid in run.rep.procs, "process %d missing from the recording; it has\n%s" % (
            pid, run.rep.describe())
        assert run.rep.samples(pid) > 0, "process %d has no samples:\n%s" % (
            pid, run.rep.describe([pid]))
    for pid in run.workers:
        assert run.rep.procs[pid]["ppid"] == run.trainer, \
            "worker %d: parent %d recorded, the trainer is %d" % (
                pid, run.rep.procs[pid]["ppid"], run.trainer)


def check_workers_in_dataset_function(run):
    for pid in run.workers:
        check_function_in(run.rep, pid, "make_sample", PROG, "worker")


def check_trainer_in_train_step(run):
    check_function_in(run.rep, run.trainer, "train_step", PROG, "trainer")


def check_role_merges_workers(run):
    g = run.role.group_of(run.workers[0])
    assert g is not None, "worker %d in no role" % run.workers[0]
    assert sorted(g["pids"]) == sorted(run.workers) and g["count"] == WORKERS, (
        "--group-by role: the %d identical workers %s should be one role, got role %r "
        "with %s; all roles:\n%s" % (WORKERS, sorted(run.workers), g["label"], g["pids"],
                                     "\n".join("  %s %s" % (x["label"], x["pids"])
                                               for x in run.role.groups())))
    trainer = run.role.group_of(run.trainer)
    assert g["parent"] == trainer["id"], "the workers' role should hang under the trainer's"
    assert g["samples"] == sum(run.rep.samples(p) for p in run.workers)
    # the text report shows that role as one row of 4 processes
    text = report_text(run.data, "--group-by", "role")
    rows = text_section(text, "Processes by role")
    assert len(rows) == len(run.role.groups()), rows
    merged = [ln for ln in rows if ln.split()[:1] == [str(WORKERS)]]
    assert len(merged) == 1, "text report: no single row with PROCS %d:\n%s" % (
        WORKERS, "\n".join(rows))


# ---------------------------------------------------------------- launched

def test_launched_every_worker_present_with_samples(launched):
    check_every_worker_sampled(launched)


def test_launched_workers_show_the_dataset_function_with_file_line(launched):
    check_workers_in_dataset_function(launched)


def test_launched_trainer_shows_the_training_step(launched):
    check_trainer_in_train_step(launched)


def test_launched_group_by_role_merges_the_identical_workers(launched):
    check_role_merges_workers(launched)


# ---------------------------------------------------------------- attached

def test_attached_every_worker_present_with_samples(attached):
    check_every_worker_sampled(attached)


def test_attached_workers_show_the_dataset_function_with_file_line(attached):
    check_workers_in_dataset_function(attached)


def test_attached_trainer_shows_the_training_step(attached):
    check_trainer_in_train_step(attached)


def test_attached_group_by_role_merges_the_identical_workers(attached):
    check_role_merges_workers(attached)


# ---------------------------------------------------------------- memory (--mem)

# Heap is anonymous memory the process touched, nearly all of it: what a process holds
# cannot exceed what was resident at its peak by more than untouched slack.
SLACK = 0.10
SLACK_BYTES = 16 * MIB


def over_rss(heap, hwm):
    return heap > hwm * (1 + SLACK) + SLACK_BYTES


def check_figures_and_rss(mem_run):
    for pid in [mem_run.trainer] + mem_run.workers:
        m = mem_run.rep.mem.get(pid)
        assert m is not None, "process %d has no memory figures" % pid
        assert m["exact"] is not None, "process %d: no exact totals" % pid
        assert m["rss_peak"] > 0, "process %d: no RSS reading" % pid
        hwm = mem_run.watcher.hwm(pid)
        assert hwm, "process %d: VmHWM never read from /proc" % pid
        # the recording's own RSS readings (every 100 ms) agree with the kernel's peak
        assert 0.7 * hwm <= m["rss_peak"] <= 1.05 * hwm + MIB, (
            "process %d: rss_peak %s, VmHWM %s" % (pid, fmt_mib(m["rss_peak"]), fmt_mib(hwm)))


def check_heap_within_rss_peak(mem_run):
    bad = []
    for pid in [mem_run.trainer] + mem_run.workers:
        m, hwm = mem_run.rep.mem[pid], mem_run.watcher.hwm(pid)
        figures = {"exact in_use": m["exact"]["in_use"],
                   "exact peak_in_use": m["exact"]["peak_in_use"],
                   "peak_bytes~": m["peak_bytes"], "live_bytes~": m["live_bytes"]}
        for what, v in figures.items():
            if over_rss(v, hwm):
                bad.append("%d %s %s > VmHWM %s" % (pid, what, fmt_mib(v), fmt_mib(hwm)))
    assert not bad, "heap figures above the RSS peak (+%d%% +%s):\n  %s" % (
        100 * SLACK, fmt_mib(SLACK_BYTES), "\n  ".join(bad))


# Both recordings: launched (the preloaded sampler), attached (uprobes); each is
# parametrized by the workers' start method, so they are named here, not picked by name.
def test_memory_launched_every_process_has_figures_and_rss(launched):
    check_figures_and_rss(launched)


def test_memory_attached_every_process_has_figures_and_rss(attached):
    check_figures_and_rss(attached)


def test_memory_launched_heap_never_exceeds_the_process_rss_peak(launched):
    check_heap_within_rss_peak(launched)


def test_memory_attached_heap_never_exceeds_the_process_rss_peak(attached):
    check_heap_within_rss_peak(attached)


def test_memory_worker_heap_counts_only_what_the_worker_allocated(launched):
    """What a process holds of its own allocations cannot exceed what it allocated: a fork
    worker's copies of the trainer's blocks are the trainer's memory (README, Accounting
    rules), in the exact columns as in the estimated ones. Launched only: the exact in_use and
    peak_in_use come from the preloaded sampler."""
    bad = []
    for pid in launched.workers:
        e = launched.rep.mem[pid]["exact"]
        limit = e["alloc_bytes"] * 1.25 + 4 * MIB  # usable sizes round requests up
        for what in ("in_use", "peak_in_use"):
            if e[what] > limit:
                bad.append("worker %d exact %s %s, but it allocated %s in all" % (
                    pid, what, fmt_mib(e[what]), fmt_mib(e["alloc_bytes"])))
    assert not bad, "\n".join(bad)

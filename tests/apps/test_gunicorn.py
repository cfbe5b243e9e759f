"""gunicorn serving a Flask app with 4 sync workers, profiled as a user would: `treeprof
record -p MASTER` while a bounded load generator sends requests over the loopback, then
Ctrl-C. What a user expects to read in the report: the master and every worker, the
workers' time in the view that costs it (count_primes under heavy_view, with file:line),
the 4 workers as one role, a master that does (nearly) nothing, and with --mem heap
figures that never exceed what the kernel says each process has resident."""
import os

import pytest

from conftest import (TREEPROF, Recorder, call_samples, call_site, check_heap_is_own,
                      check_heap_within_rss, children_of, interrupt, need, program,
                      report_json, run)
from servers import (PYTHON, Gunicorn, http_load, need_module, pids_in,
                     require_root_and_build, vm_status)

APP = program("gunicorn_app.py")
# count_primes (its own lines) called from heavy_view at the marked line, in gunicorn_app.py
HEAVY_CALL = (APP, "heavy_view", "count_primes", "heavy_call")
HOLD_BYTES = 256 * 1024  # gunicorn_app.HOLD_BYTES


def need_gunicorn():
    require_root_and_build()
    need("/usr/bin/gunicorn", "Debian's gunicorn (package gunicorn)")
    need(PYTHON, "Debian's /usr/bin/python3")
    need_module("flask", "python3-flask")


class Served:
    """One recording of a gunicorn tree under load, and what the test saw of the tree:
    attached with `record -p MASTER` and ended with Ctrl-C (SIGINT) while the server keeps
    serving, or launched (`record ARGS -- gunicorn --preload ...`: the workers start with
    the app the master imported) and ended by stopping gunicorn."""

    def __init__(self, tmp, record_args, paths, requests, launched=False):
        self.data = os.path.join(tmp, "gunicorn.data")
        rec_argv = ["record", "-F", "99", "-o", self.data] + record_args
        g = Gunicorn(tmp, preload=launched,
                     launcher=[TREEPROF] + rec_argv + ["--"] if launched else ())
        rec = None
        try:
            g.start(60)
            self.master, self.workers = g.master, list(g.workers)
            if not launched:
                rec = Recorder(tmp, rec_argv + ["-p", str(g.master)])
                rec.wait_attached(timeout=40)
            urls = [g.url(p) for p in paths]
            self.answers, self.bodies, self.errors = http_load(urls, requests)
            self.bodies = {p: self.bodies.get(g.url(p), []) for p in paths}
            # What the kernel says each process holds, after the load and before the
            # recording ends (nothing allocates between the two).
            self.vm = {pid: vm_status(pid) for pid in [g.master] + self.workers}
            self.workers_after = children_of(g.master)
            if launched:
                self.rc = g.stop()
                self.stderr = g.stderr()
            else:
                self.rc, self.stderr = interrupt(rec)
        finally:
            if rec:
                rec.kill()
            g.stop()
        self.rep = report_json(self.data)
        self.roles = report_json_args(self.data, "--group-by", "role")
        self.procs = {p["pid"]: p for p in self.rep["processes"]}


def report_json_args(data, *args):
    import json
    return json.loads(run([TREEPROF, "report", data, "--format", "json"] + list(args)).stdout)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    need_gunicorn()
    return Served(str(tmp_path_factory.mktemp("gunicorn")), [], ["/heavy", "/light"], 160)


MEM_PATHS, MEM_REQUESTS = ["/heavy", "/light", "/hold"], 180
# 16 KiB: a 256 KiB /hold block is then sampled with probability 1 - e^-16. At 64 KiB it is
# 1 - e^-4 (0.982): two of a worker's ~15 blocks go unsampled in about 3% of the workers,
# which puts the estimate 12% low, past the 10% the held-blocks test allows.
MEM_SAMPLE = "16K"


@pytest.fixture(scope="module")
def served_mem_attached(tmp_path_factory):
    need_gunicorn()
    return Served(str(tmp_path_factory.mktemp("gunicorn_mem")),
                  ["--mem", "--mem-sample", MEM_SAMPLE], MEM_PATHS, MEM_REQUESTS)


@pytest.fixture(scope="module")
def served_mem_launched(tmp_path_factory):
    need_gunicorn()
    return Served(str(tmp_path_factory.mktemp("gunicorn_mem_launched")),
                  ["--mem", "--mem-sample", MEM_SAMPLE], MEM_PATHS, MEM_REQUESTS, launched=True)


@pytest.fixture(params=["attached", "launched"])
def served_mem(request):
    """--mem -p on the master (uprobes), and --mem launching gunicorn --preload (the
    preloaded sampler, workers forked from a master holding the app)."""
    return request.getfixturevalue("served_mem_" + request.param)


def test_every_request_is_answered(served):
    assert served.rc == 0, served.stderr[-2000:]
    assert not served.errors, "requests failed: %s" % served.errors[:5]
    assert sum(served.answers.values()) == 160 and set(
        s for _, s in served.answers) == {200}, served.answers


def test_master_and_every_worker_are_recorded(served):
    assert served.workers_after == served.workers, "workers were replaced during the run"
    assert served.master in served.procs, "master %d missing: %s" % (
        served.master, sorted(served.procs))
    for w in served.workers:
        assert w in served.procs, "worker %d missing: %s" % (w, sorted(served.procs))
        assert served.procs[w]["ppid"] == served.master, served.procs[w]
        assert served.procs[w]["samples"] > 0, "worker %d has no samples" % w


def test_workers_spend_their_time_in_the_heavy_view_with_file_and_line(served):
    served_by = pids_in(served.bodies["/heavy"])
    for w in served.workers:
        assert served_by[w] > 0, "worker %d served no /heavy request: %s" % (w, served_by)
        n = call_samples(served.rep, w, *HEAVY_CALL)
        total = served.procs[w]["samples"]
        assert n > 0 and n >= total // 3, "worker %d: %d of %d samples in %s" % (
            w, n, total, call_site(*HEAVY_CALL))


def test_group_by_role_merges_the_four_workers(served):
    groups = served.roles["groups"]
    of = {pid: g for g in groups for pid in g["pids"]}
    wg = of[served.workers[0]]
    assert sorted(wg["pids"]) == sorted(served.workers) and wg["count"] == 4, (
        "the 4 workers should be one role: %s" % [(g["label"], g["pids"]) for g in groups])
    assert wg["label"].endswith("[4 procs]"), wg["label"]
    assert "gunicorn" in wg["name"], wg["name"]
    mg = of[served.master]
    assert mg is not wg and mg["pids"] == [served.master], mg
    assert wg["parent"] == mg["id"], "the workers' role should hang under the master's"


def test_master_has_nearly_no_cpu(served):
    total = sum(p["samples"] for p in served.rep["processes"])
    master = served.procs[served.master]["samples"]
    assert master <= max(3, total // 50), "master %d has %d of %d samples" % (
        served.master, master, total)


# ---------------------------------------------------------------- --mem -p

def test_mem_every_process_has_memory_figures(served_mem):
    s = served_mem
    assert s.rc == 0, s.stderr[-2000:]
    assert not s.errors, "requests failed: %s" % s.errors[:5]
    assert s.workers_after == s.workers, "workers were replaced during the run"
    mem = {p["pid"]: p for p in s.rep["memory"]["processes"]}
    for pid in [s.master] + s.workers:
        assert pid in mem, "process %d has no memory figures: %s" % (pid, sorted(mem))
    for w in s.workers:
        assert mem[w]["alloc_bytes"] > 0, "worker %d: no allocation seen: %s" % (w, mem[w])


def test_mem_heap_never_above_rss(served_mem):
    s = served_mem
    who = {s.master: "master", **{w: "worker" for w in s.workers}}
    check_heap_within_rss(s.rep, s.vm, who)


def test_mem_worker_heap_is_what_it_allocated_itself(served_mem):
    """A worker's exact in-use heap and its peak count what the worker allocated itself:
    what it inherited from the master at the fork is the master's memory (README,
    accounting rules). Neither can exceed the bytes it allocated."""
    s = served_mem
    check_heap_is_own(s.rep, s.workers, "worker", s.master, need_exact=False)


def test_mem_held_blocks_found_in_the_view_that_keeps_them(served_mem):
    """Each worker answers /hold with what it holds at that moment; its last answer is what
    it still holds when its own code ends (attached: the recording ends while it serves;
    launched: gunicorn stops it, and what the interpreter frees while it finalizes is not
    given back by the app). treeprof's live bytes under hold_view must match it."""
    s = served_mem
    held = {}
    for body in s.bodies["/hold"]:
        n, pid = [int(x) for x in body.split()[1::3]]
        held[pid] = max(held.get(pid, 0), n)  # the deque only grows until it is full
    bad = []
    for pid, want in sorted(held.items()):
        got = sum(site["live_bytes"] for site in s.rep["memory"]["sites"]
                  if site["pid"] == pid
                  and "hold_view" in [s.rep["frames"][i]["name"] for i in site["frames"]])
        if abs(got - want) > 0.1 * want:
            bad.append("worker %d: %d bytes held under hold_view, truth %d" % (pid, got, want))
    assert held, "no /hold answers"
    assert not bad, "\n".join(bad)

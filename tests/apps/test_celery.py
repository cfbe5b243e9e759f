"""A Celery worker (prefork pool of 3) consuming tasks from a real redis-server that the test
starts on a private unix socket, profiled as a user would: launched (`treeprof record --
python3 -m celery -A celery_app worker ...`, ended by the worker's warm shutdown) and
attached (`record -p MAIN`, ended with Ctrl-C). What a user expects: every task done, the
main process and every pool process in the report, each pool process's time in the task's
own function (collatz_longest under crunch, with file:line), the pool as one role."""
import json
import os
import signal
import sys

import pytest

from conftest import (TREEPROF, Recorder, call_samples, call_site, check_heap_is_own,
                      check_heap_within_rss, children_of, interrupt, need, program,
                      report_json, run, wait_for)
from servers import (PROGRAMS, PYTHON, Celery, Redis, need_module, require_root_and_build,
                     vm_status)

APP = program("celery_app.py")
CONCURRENCY = 3
CRUNCH, CRUNCH_LIMIT = 18, 12000  # CPU tasks, ~0.1 s each: every pool process gets some
STORE, STORE_SIZE = 12, 64 * 1024  # I/O-ish tasks
# collatz_longest (its own lines) called from crunch at the marked line, in celery_app.py
CRUNCH_CALL = (APP, "crunch", "collatz_longest", "crunch_call")


def need_celery():
    require_root_and_build()
    need(PYTHON, "Debian's /usr/bin/python3")
    need("/usr/bin/redis-server", "redis-server (package redis-server)")
    for mod, pkg in (("celery", "python3-celery"), ("redis", "python3-redis")):
        need_module(mod, pkg)


class Run:
    """Tasks sent to a worker while treeprof records it, their results read from redis."""

    def __init__(self, tmp, launched, record_args=()):
        self.data = os.path.join(tmp, "celery.data")
        rec_argv = ["record", "-F", "99", "-o", self.data] + list(record_args)
        with Redis() as redis:
            worker = Celery(tmp, redis, CONCURRENCY)
            rec = None
            try:
                if launched:
                    rec = Recorder(tmp, rec_argv + ["--"] + worker.argv())
                    worker.wait_ready(lambda: rec.proc.poll() is None)
                else:
                    worker.start()
                    rec = Recorder(tmp, rec_argv + ["-p", str(worker.main_pid())])
                    rec.wait_attached(timeout=40)
                self.main, self.pool = worker.main_pid(), worker.pool()
                self.results = self.send_and_collect(worker, redis)
                self.pool_after = children_of(self.main)
                # What the kernel says each process holds, the tasks done, before the end.
                self.vm = {pid: vm_status(pid) for pid in [self.main] + self.pool}
                if launched:
                    worker.terminate()  # warm shutdown: the tree ends, so does the recording
                    self.rc, self.stderr = rec.wait(60), rec.stderr()
                else:
                    self.rc, self.stderr = interrupt(rec)
            finally:
                if rec:
                    rec.kill()
                if launched:  # the worker is treeprof's child: end it by its pids
                    for pid in [worker.main_pid()] + worker.pool():
                        if pid:
                            try:
                                os.kill(pid, signal.SIGKILL)
                            except ProcessLookupError:
                                pass
                else:
                    worker.stop()
        self.log = worker.read_log()
        self.rep = report_json(self.data)
        self.roles = json.loads(run([TREEPROF, "report", self.data, "--format", "json",
                                     "--group-by", "role"]).stdout)
        self.procs = {p["pid"]: p for p in self.rep["processes"]}

    @staticmethod
    def send_and_collect(worker, redis, timeout=40):
        """Send the tasks, then read each one's result record (celery-task-meta-ID) from
        redis until all are there. Returns {task id: (task name, arg, record)}."""
        client = worker.client()
        try:
            sent = {}
            for i in range(max(CRUNCH, STORE)):
                if i < CRUNCH:
                    r = client.send_task("celery_app.crunch", args=[CRUNCH_LIMIT])
                    sent[r.id] = ("crunch", CRUNCH_LIMIT)
                if i < STORE:
                    r = client.send_task("celery_app.store_and_read", args=[STORE_SIZE])
                    sent[r.id] = ("store_and_read", STORE_SIZE)
        finally:
            client.close()
        db, got = redis.client(), {}

        def done():
            for tid in sent:
                if tid not in got:
                    raw = db.get("celery-task-meta-" + tid)
                    if raw:
                        got[tid] = json.loads(raw)
            return len(got) == len(sent)
        try:
            wait_for(done, timeout, "every task's result in redis")
        except AssertionError:
            raise AssertionError("%d of %d tasks have a result after %d s; worker log:\n%s" % (
                len(got), len(sent), timeout, worker.read_log()[-3000:]))
        return {tid: sent[tid] + (got[tid],) for tid in sent}

    def pids_that_ran(self, name):
        return {rec["result"]["pid"] for n, _, rec in self.results.values()
                if n == name and rec["status"] == "SUCCESS"}


@pytest.fixture(scope="module")
def launched(tmp_path_factory):
    need_celery()
    return Run(str(tmp_path_factory.mktemp("celery_launched")), launched=True)


@pytest.fixture(scope="module")
def attached(tmp_path_factory):
    need_celery()
    return Run(str(tmp_path_factory.mktemp("celery_attached")), launched=False)


@pytest.fixture(scope="module")
def launched_mem(tmp_path_factory):
    need_celery()
    return Run(str(tmp_path_factory.mktemp("celery_launched_mem")), launched=True,
               record_args=["--mem", "--mem-sample", "64K"])


@pytest.fixture(params=["launched", "attached"])
def celery_run(request):
    return request.getfixturevalue(request.param)


def collatz_truth(limit):
    sys.path.insert(0, PROGRAMS)
    try:
        from celery_app import collatz_longest
    finally:
        sys.path.remove(PROGRAMS)
    return collatz_longest(limit)


def test_every_task_completes_with_its_result_in_redis(celery_run):
    r = celery_run
    assert r.rc == 0, r.stderr[-2000:]
    want = {"crunch": collatz_truth(CRUNCH_LIMIT), "store_and_read": STORE_SIZE}
    bad = ["%s %s(%d): %s" % (tid, name, arg, rec) for tid, (name, arg, rec) in r.results.items()
           if rec["status"] != "SUCCESS" or rec["result"]["value"] != want[name]]
    assert len(r.results) == CRUNCH + STORE
    assert not bad, "tasks failed or wrong:\n" + "\n".join(bad[:5])


def test_main_and_every_pool_process_are_recorded(celery_run):
    r = celery_run
    assert len(r.pool) == CONCURRENCY and r.pool_after == r.pool, (
        "pool at start %s, at the end %s" % (r.pool, r.pool_after))
    assert r.main in r.procs, "main process %d missing: %s" % (r.main, sorted(r.procs))
    for pid in r.pool:
        assert pid in r.procs, "pool process %d missing: %s" % (pid, sorted(r.procs))
        assert r.procs[pid]["ppid"] == r.main, r.procs[pid]
        assert r.procs[pid]["samples"] > 0, "pool process %d has no samples" % pid


def test_launched_main_process_has_samples(launched):
    """Launched, the main process is traced from its first instruction: importing Celery
    and starting the pool is CPU it spends."""
    assert launched.procs[launched.main]["samples"] > 0


def test_pool_processes_spend_their_time_in_the_task_with_file_and_line(celery_run):
    r = celery_run
    ran = r.pids_that_ran("crunch")
    assert ran <= set(r.pool), "crunch ran in %s, pool is %s" % (ran, r.pool)
    for pid in sorted(ran):
        n = call_samples(r.rep, pid, *CRUNCH_CALL)
        assert n > 0, "pool process %d ran crunch but has no sample in %s; %d samples" % (
            pid, call_site(*CRUNCH_CALL), r.procs[pid]["samples"])
    assert ran == set(r.pool), "not every pool process ran a crunch task: %s of %s" % (
        sorted(ran), r.pool)


def test_group_by_role_merges_the_pool(celery_run):
    r = celery_run
    groups = r.roles["groups"]
    of = {pid: g for g in groups for pid in g["pids"]}
    pg = of[r.pool[0]]
    assert sorted(pg["pids"]) == sorted(r.pool) and pg["count"] == CONCURRENCY, (
        "the pool should be one role: %s" % [(g["label"], g["pids"]) for g in groups])
    assert pg["label"].endswith("[%d procs]" % CONCURRENCY), pg["label"]
    assert "celery" in pg["name"], pg["name"]
    mg = of[r.main]
    assert mg is not pg and mg["pids"] == [r.main], mg
    assert pg["parent"] == mg["id"], "the pool's role should hang under the main's"


# ---------------------------------------------------------------- --mem, launched

def test_mem_heap_never_above_rss(launched_mem):
    """The main process runs threads (each with its own malloc arena, reserved PROT_NONE
    and made usable a part at a time): what treeprof reports held stays within what the
    kernel has resident, for the main process and each pool process."""
    r = launched_mem
    assert r.rc == 0, r.stderr[-2000:]
    who = {r.main: "main", **{pid: "pool" for pid in r.pool}}
    check_heap_within_rss(r.rep, r.vm, who)


def test_mem_pool_heap_is_what_it_allocated_itself(launched_mem):
    """A pool process's exact in-use heap and peak count what it allocated itself, not
    the main process's heap copied at the fork: neither exceeds the bytes it allocated."""
    r = launched_mem
    check_heap_is_own(r.rep, r.pool, "pool", r.main)

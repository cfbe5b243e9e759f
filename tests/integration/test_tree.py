"""Whole-tree CPU sampling: every process of a real Python tree is traced, launched or
attached, with its samples and its parent."""
import json
import os
import signal
import subprocess
import time

from conftest import (TREEPROF, WORKLOADS, Recorder, host_python, read_manifest,
                      report_folded, report_json, run, wait_for)

TREE = os.path.join(WORKLOADS, "tree.py")
ROLES = ["parent", "fork", "grandchild", "spawn", "forkserver", "exec", "late", "short"]


def procs_by_pid(rep):
    return {p["pid"]: p for p in rep["processes"]}


def check_tree(rep, manifest, expect_hot=False):
    procs = procs_by_pid(rep)
    rows = read_manifest(manifest)
    roles = [r for r, _, _ in rows]
    for role in ROLES:
        assert role in roles, "workload did not report role %s: %s" % (role, roles)
    assert roles.count("short") == 20
    for role, pid, ppid in rows:
        assert pid in procs, "%s process %d missing from the recording (have %s)" % (
            role, pid, sorted(procs))
        p = procs[pid]
        if role != "parent":
            assert p["ppid"] == ppid, "%s %d: parent %d recorded, %d real" % (
                role, pid, p["ppid"], ppid)
        assert p["samples"] > 0, "%s process %d has no samples" % (role, pid)
    return rows


def test_record_launch_traces_every_shape(tmp):
    data, manifest = os.path.join(tmp, "t.data"), os.path.join(tmp, "manifest")
    r = run([TREEPROF, "record", "-q", "-F", "999", "-o", data, "--",
             host_python(), TREE, "--manifest", manifest, "--seconds", "1.0"], timeout=120)
    rep = report_json(data)
    check_tree(rep, manifest)
    # The launched command is the root: its parent is treeprof itself.
    root = [p for p in rep["processes"] if p["pid"] == read_manifest(manifest)[0][1]][0]
    assert root["exited"], "the root should be seen exiting"
    assert rep["stats"].get("ringbuf_drops", 0) == 0


def test_attach_running_tree_sees_existing_and_later_children(tmp):
    data, manifest = os.path.join(tmp, "a.data"), os.path.join(tmp, "manifest")
    go = os.path.join(tmp, "go")
    tree = subprocess.Popen([host_python(), TREE, "--manifest", manifest, "--seconds", "2.0",
                             "--go-file", go])
    try:
        def early_ready():
            if not os.path.exists(manifest):
                return False
            roles = [r for r, _, _ in read_manifest(manifest)]
            return all(x in roles for x in ("fork", "grandchild", "spawn", "forkserver", "exec"))
        wait_for(early_ready, 20, "the early workers to start")
        # The early workers spin until the go file exists: they are all running when
        # treeprof attaches, however slow the machine.
        rec = Recorder(tmp, ["record", "-F", "999", "-o", data, "-p", str(tree.pid)])
        rec.wait_attached()
        open(go, "w").close()
        tree.wait(60)
        rc = rec.wait(30)
        assert rc == 0, rec.stderr()
    finally:
        if tree.poll() is None:
            tree.kill()
    check_tree(report_json(data), manifest)


def test_folded_output_names_process_and_filters(tmp):
    data, manifest = os.path.join(tmp, "f.data"), os.path.join(tmp, "manifest")
    run([TREEPROF, "record", "-q", "-F", "499", "-o", data, "--", host_python(), TREE,
         "--manifest", manifest, "--seconds", "0.5"])
    rows = read_manifest(manifest)
    folded = report_folded(data)
    assert folded
    for stack, count in folded.items():
        first = stack.split(";")[0]
        assert first.endswith("]") and " [" in first, "no 'COMM [PID]' frame: " + stack
        assert count > 0
    pid = [pid for role, pid, _ in rows if role == "spawn"][0]
    only = report_folded(data, "--pid", str(pid))
    assert only and all(s.split(";")[0].endswith("[%d]" % pid) for s in only)
    merged = report_folded(data, "--merge")
    assert sum(merged.values()) == sum(folded.values())
    assert not any(s.split(";")[0].endswith("]") and " [" in s.split(";")[0]
                   and s.split(";")[0].split(" [")[-1][:-1].isdigit() for s in merged)


def test_live_prints_a_line_per_sample(tmp):
    r = run([TREEPROF, "live", "-F", "199", "--", host_python(), "-c",
             "import time\nt=time.time()\nwhile time.time()-t<1: pass"], timeout=60)
    lines = [l for l in r.stdout.splitlines() if "--" not in l.split()[2:3]]
    samples = [l for l in lines if "/" in l.split()[1]]
    assert len(samples) >= 50, r.stdout[-2000:]
    first = samples[0].split()
    float(first[0])
    pid, tid = first[1].split("/")
    assert int(pid) > 0 and int(tid) > 0


def treeprof_prog_ids():
    out = run(["bpftool", "-j", "prog", "show"]).stdout
    return {p["id"] for p in json.loads(out)
            if p.get("name") in ("on_sample", "on_fork", "on_exec", "on_exit")}


def test_nothing_left_attached_after_sigkill(tmp):
    data = os.path.join(tmp, "k.data")
    before = treeprof_prog_ids()
    rec = subprocess.Popen([TREEPROF, "record", "-q", "-o", data, "--", host_python(), "-c",
                            "import time; time.sleep(3)"])
    wait_for(lambda: len(treeprof_prog_ids() - before) == 4, 10, "treeprof to load")
    ours = treeprof_prog_ids() - before
    time.sleep(1.5)
    rec.send_signal(signal.SIGKILL)
    rec.wait()
    # Programs are freed once their last reference (our descriptors, our links) is gone.
    wait_for(lambda: not (treeprof_prog_ids() & ours), 5, "the programs to be unloaded")
    # What was recorded before the kill is readable.
    r = run([TREEPROF, "report", data, "--format", "json"], check=False)
    assert r.returncode == 0, r.stderr
    assert "cut short" in r.stderr
    rep = json.loads(r.stdout)
    assert rep["processes"], "the process seen before the kill is in the recording"


def bpf_objects(kind):
    """{id: entry} of every BPF program or map on the host (bpftool -j prog|map show)."""
    return {o["id"]: o for o in json.loads(run(["bpftool", "-j", kind, "show"]).stdout)}


def test_a_run_without_mem_loads_no_memory_program(tmp):
    """Issue 16: nothing is loaded for a feature the run does not use. A run without --mem
    loads the four tree and sampling programs and no mem_* program, and its memory maps
    (created: the programs refer to them) hold one entry each."""
    progs_before, maps_before = set(bpf_objects("prog")), set(bpf_objects("map"))
    rec = subprocess.Popen([TREEPROF, "record", "-q", "-o", os.path.join(tmp, "n.data"), "--",
                            host_python(), "-c", "import time; time.sleep(2)"])
    try:
        wait_for(lambda: "on_sample" in {p.get("name") for i, p in bpf_objects("prog").items()
                                         if i not in progs_before}, 10, "treeprof to load")
        progs = {i: p for i, p in bpf_objects("prog").items() if i not in progs_before}
        maps = {i: m for i, m in bpf_objects("map").items() if i not in maps_before}
    finally:
        rec.wait(timeout=30)
    names = sorted(p.get("name") for p in progs.values())
    assert names == ["on_exec", "on_exit", "on_fork", "on_sample"], names
    mem_maps = {m.get("name"): m.get("max_entries") for m in maps.values()
                if m.get("name", "").startswith("mem_") and m.get("type") != "task_storage"}
    assert mem_maps, "no mem_* map among the run's maps: %s" % sorted(
        m.get("name") for m in maps.values())
    assert all(n == 1 for n in mem_maps.values()), mem_maps

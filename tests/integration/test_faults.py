"""Faults and load: a process killed mid-run, a tree ending while treeprof attaches,
treeprof itself stopped by a signal or a closed pipe, a full disk, an overflowing ring
buffer, and an output path that already exists or is a symlink. Whatever happens, treeprof
ends by itself, says what went wrong in one line, leaves no BPF program behind, and the
recording is readable."""
import glob
import json
import os
import re
import signal
import struct
import subprocess
import threading
import time
import zlib

import pytest

from conftest import (TREEPROF, WORKLOADS, Recorder, host_python, read_manifest, report_json, run,
                      wait_for)

CHURN = os.path.join(WORKLOADS, "churn.py")
PROG_NAMES = ("on_sample", "on_fork", "on_exec", "on_exit")


# ---------------------------------------------------------------- helpers

def prog_ids():
    """Ids of the loaded BPF programs that have treeprof's names."""
    out = run(["bpftool", "-j", "prog", "show"]).stdout
    return {p["id"] for p in json.loads(out) if p.get("name") in PROG_NAMES}


def held_by_running_treeprof():
    """Program ids some running treeprof holds (another run on this machine is not ours
    to judge): from /proc/PID/fdinfo of every process named treeprof."""
    ids = set()
    for comm in glob.glob("/proc/[0-9]*/comm"):
        try:
            if open(comm).read().strip() != "treeprof":
                continue
            for fd in glob.glob(os.path.join(os.path.dirname(comm), "fdinfo", "*")):
                m = re.search(r"^prog_id:\s*(\d+)", open(fd).read(), re.M)
                if m:
                    ids.add(int(m.group(1)))
        except OSError:
            pass
    return ids


def assert_nothing_left(before, what):
    """No program with treeprof's names loaded since `before` outlives its treeprof."""
    def clean():
        return not (prog_ids() - before - held_by_running_treeprof())
    try:
        wait_for(clean, 5, "BPF programs to be unloaded")
    except AssertionError:
        raise AssertionError("%s: BPF programs still loaded with nobody running: ids %s" % (
            what, sorted(prog_ids() - before - held_by_running_treeprof())))


def churn(mode, out, *args):
    return [host_python(), CHURN, mode, "--out", out] + [str(a) for a in args]


def manifest_rows(path, role=None):
    if not os.path.exists(path):
        return []
    rows = [r for r in read_manifest(path) if role is None or r[0] == role]
    return rows


def spawn_tree(argv):
    """A workload in its own process group, so kill_tree reaches its children too."""
    return subprocess.Popen(argv, start_new_session=True)


def kill_tree(popen):
    try:
        os.killpg(popen.pid, signal.SIGKILL)
    except OSError:
        pass
    popen.wait()


def stderr_lines(text, ignore=("recording at",)):
    return [l for l in text.splitlines() if l.strip() and not any(i in l for i in ignore)]


def write_recording(path, procs=100, stacks=400, depth=30):
    """A valid recording of the format in user/profile/datafile.c, written directly: procs
    processes with `stacks` distinct `depth`-deep Python stacks each (its folded report is
    tens of MB, far more than a pipe holds)."""
    def rec(t, payload):
        head = struct.pack("<II", t, len(payload)) + payload
        return head + struct.pack("<I", zlib.crc32(head))

    def s(x):
        b = x.encode()
        return struct.pack("<I", len(b)) + b

    out = [b"TREEPROF" + struct.pack("<II", 1, 0), rec(1, s("frequency") + s("99"))]
    nf = 0
    for d in range(depth):
        for k in range(20):
            out.append(rec(2, struct.pack("<III", nf, 1, 10 + k) +
                           s("pkg.mod%d.function_number_%d" % (d, k)) +
                           s("/usr/lib/python3/pkg/mod%d.py" % d)))
            nf += 1
    for i in range(stacks):
        ids = [d * 20 + ((i * 7 + d * 3) // (d + 1)) % 20 for d in range(depth)]
        out.append(rec(3, struct.pack("<II", i, depth) + struct.pack("<%dI" % depth, *ids)))
    for p in range(procs):
        pid = 1000 + p
        out.append(rec(4, struct.pack("<iiQ", pid, 999, 1000) + s("python3") +
                       s("python3 app.py") + s("/usr/bin/python3")))
        for i in range(stacks):
            out.append(rec(7, struct.pack("<QiiIIQ", 2000 + i, pid, pid, 0, i, 1)))
        out.append(rec(6, struct.pack("<iQi", pid, 9000, 0)))
    out.append(rec(9, b""))
    with open(path, "wb") as f:
        f.write(b"".join(out))


# ---------------------------------------------------------------- a target killed mid-run

@pytest.mark.parametrize("how", ["launch", "attach"])
def test_killed_worker_keeps_its_samples_and_the_run_goes_on(tmp, how):
    data, manifest, go = (os.path.join(tmp, n) for n in ("k.data", "manifest", "go"))
    before = prog_ids()
    tree = None
    opts = ["record", "-F", "499", "-o", data]
    if how == "launch":
        rec = Recorder(tmp, opts + ["--"] + churn("burn", manifest, "--procs", 2,
                                                   "--seconds", 3))
    else:
        tree = spawn_tree(churn("burn", manifest, "--procs", 2, "--seconds", 3,
                                      "--go-file", go))
        wait_for(lambda: manifest_rows(manifest, "parent"), 10, "the tree to start")
        rec = Recorder(tmp, opts + ["-p", str(tree.pid)])
        rec.wait_attached()
        open(go, "w").close()
    try:
        wait_for(lambda: len(manifest_rows(manifest, "worker")) == 2, 15, "both workers")
        time.sleep(1.0)
        victim, survivor = [pid for _, pid, _ in manifest_rows(manifest, "worker")]
        os.kill(victim, signal.SIGKILL)
        kill_t = time.monotonic()
        if tree:
            tree.wait(30)
        rc = rec.wait(30)
        assert rc == 0, "treeprof exited %d after a worker was killed:\n%s" % (rc, rec.stderr())
    finally:
        rec.kill()
        if tree:
            kill_tree(tree)
    rep = report_json(data)
    procs = {p["pid"]: p for p in rep["processes"]}
    assert victim in procs, "the killed worker %d is missing (have %s)" % (victim, sorted(procs))
    v, s = procs[victim], procs[survivor]
    assert v["exited"], "the killed worker is not marked exited: %s" % v
    assert v["exit_code"] == signal.SIGKILL, "killed worker's wait status: expected %d, saw %s" % (
        signal.SIGKILL, v["exit_code"])
    assert kill_t - 0.1 <= v["end_ns"] / 1e9 <= kill_t + 1.0, (
        "the killed worker's end (%.3f) is not at the kill (%.3f)" % (v["end_ns"] / 1e9, kill_t))
    # About a second of CPU at 499 Hz before the kill, with its Python frames (whether
    # every frame of them resolves is test_forked_children_keep_their_whole_python_stack).
    assert v["samples"] >= 100, "killed worker: %d samples before the kill" % v["samples"]
    names = {rep["frames"][i]["name"] for st in rep["stacks"] if st["pid"] == victim
             for i in st["frames"]}
    assert "spin" in names, "killed worker's stacks lack its Python leaf spin: %s" % names
    # The rest of the tree ran to its end.
    assert s["exited"] and s["exit_code"] == 0, "the survivor: %s" % s
    assert s["samples"] > v["samples"], "survivor %d samples, victim %d" % (
        s["samples"], v["samples"])
    assert_nothing_left(before, "after the run")


# ---------------------------------------------------------------- children forked under load

def test_forked_children_keep_their_whole_python_stack(tmp):
    """100 children forked back to back, each burning 15 ms, sampled at 4999 Hz: a child's
    first samples can reach treeprof before its fork event does; every sample of every
    child must still carry its whole Python stack (the frames it inherited from its parent,
    down to <module>), none of them [unknown]."""
    data, manifest = os.path.join(tmp, "f.data"), os.path.join(tmp, "manifest")
    run([TREEPROF, "record", "-q", "-F", "4999", "-o", data, "--"] +
        churn("vanish", manifest, "--procs", 100, "--child-ms", 15, "--seconds", 0), timeout=60)
    rep = report_json(data)
    frames = rep["frames"]
    children = {pid for _, pid, _ in manifest_rows(manifest, "child")}
    assert len(children) == 100
    sampled, bad = set(), {}
    for st in rep["stacks"]:
        if st["pid"] not in children:
            continue
        names = [frames[i]["name"] for i in st["frames"] if frames[i]["kind"] == "python"]
        if not names:
            continue
        sampled.add(st["pid"])
        if "[unknown]" in names or "main" not in names:
            bad.setdefault(st["pid"], [0, names])[0] += st["count"]
    assert len(sampled) >= 90, "only %d of 100 children have Python samples" % len(sampled)
    # Known race, seen before and after the packed samples (about 1 run in 6, at 4999 Hz):
    # one sample taken inside the child's at-fork hooks (Condition._at_fork_reinit) has
    # only that frame. At most one such sample of one child, never [unknown].
    unknown = {pid for pid, (_, names) in bad.items() if "[unknown]" in names}
    if not unknown and len(bad) == 1 and sum(n for n, _ in bad.values()) == 1:
        bad = {}
    assert not bad, "%d of %d sampled children have samples with [unknown] or missing " \
        "Python frames, e.g. %s" % (len(bad), len(sampled), "; ".join(
            "pid %d: %d samples like %s" % (pid, n, " > ".join(names))
            for pid, (n, names) in sorted(bad.items())[:3]))


# ---------------------------------------------------------------- the tree ends during attach

@pytest.mark.parametrize("delay", [0.0, 0.1, 0.2, 0.3])
def test_tree_exiting_during_attach_ends_the_run(tmp, delay):
    """A parent forking 50 children of 5 ms each and exiting after about 0.3 s; treeprof is
    started `delay` s after the parent is up, so the tree ends while it loads and attaches."""
    data, manifest = os.path.join(tmp, "v.data"), os.path.join(tmp, "manifest")
    before = prog_ids()
    tree = spawn_tree(churn("vanish", manifest, "--procs", 50, "--child-ms", 5,
                                  "--seconds", 0.3))
    reaper = threading.Thread(target=tree.wait)  # as a shell would, reap it at once
    reaper.start()
    try:
        wait_for(lambda: manifest_rows(manifest, "parent"), 10, "the tree to start")
        time.sleep(delay)
        t0 = time.monotonic()
        r = run([TREEPROF, "record", "-q", "-F", "99", "-o", data, "-p", str(tree.pid)],
                check=False, timeout=30)
        took = time.monotonic() - t0
    finally:
        kill_tree(tree)
        reaper.join()
    assert took < 5, "treeprof took %.1f s to notice the tree was gone" % took
    lines = stderr_lines(r.stderr)
    if r.returncode == 0:
        assert not lines, "exit 0 but stderr says: %s" % r.stderr
        rep = report_json(data)
        assert rep["processes"], "exit 0 with an empty recording"
        alive = [p for p in rep["processes"] if not p["exited"]]
        assert not alive, "processes not marked exited: %s" % alive
    else:
        assert len(lines) == 1, "expected one line on stderr, saw: %r" % r.stderr
    assert_nothing_left(before, "tree gone during attach (exit %d)" % r.returncode)


# ---------------------------------------------------------------- treeprof stopped by a signal

@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_stops_record_promptly_with_a_complete_recording(tmp, sig):
    data, manifest = os.path.join(tmp, "s.data"), os.path.join(tmp, "manifest")
    before = prog_ids()
    tree = spawn_tree(churn("burn", manifest, "--procs", 1, "--seconds", 30))
    rec = None
    try:
        wait_for(lambda: manifest_rows(manifest, "worker"), 10, "the tree to start")
        rec = Recorder(tmp, ["record", "-F", "499", "-o", data, "-p", str(tree.pid)])
        rec.wait_attached()
        time.sleep(1.0)
        t0 = time.monotonic()
        rec.proc.send_signal(sig)
        rc = rec.wait(10)
        took = time.monotonic() - t0
    finally:
        if rec:
            rec.kill()
        kill_tree(tree)
    assert took < 3, "treeprof took %.1f s to stop on %s" % (took, sig.name)
    assert rc == 0, "exit %d on %s: %s" % (rc, sig.name, rec.stderr())
    r = run([TREEPROF, "report", data, "--format", "json"])
    assert "cut short" not in r.stderr, "the recording is incomplete: " + r.stderr
    rep = json.loads(r.stdout)
    assert {tree.pid, manifest_rows(manifest, "worker")[0][1]} <= {
        p["pid"] for p in rep["processes"]}
    assert sum(p["samples"] for p in rep["processes"]) > 100
    assert rep["stats"].get("duration_ns", 0) > 0.9e9, rep["stats"]
    if sig == signal.SIGINT:
        out = rec.stdout()
        assert "Processes" in out and "Top functions" in out, "no summary: " + out[-2000:]
    assert_nothing_left(before, "after " + sig.name)


@pytest.mark.parametrize("fmt", ["folded", "text", "json"])
def test_report_into_a_closed_pipe_ends_quietly(tmp, fmt):
    big = os.path.join(tmp, "big.data")
    write_recording(big)
    t0 = time.monotonic()
    rep = subprocess.Popen([TREEPROF, "report", big, "--format", fmt],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    head = subprocess.Popen(["head", "-1"], stdin=rep.stdout, stdout=subprocess.PIPE)
    rep.stdout.close()
    first = head.communicate(timeout=20)[0]
    try:
        err = rep.communicate(timeout=10)[1].decode(errors="replace")
    except subprocess.TimeoutExpired:
        rep.kill()
        raise AssertionError("report kept running after its reader went away")
    took = time.monotonic() - t0
    assert first.strip(), "no output before the pipe closed"
    assert took < 10, "report | head -1 took %.1f s" % took
    assert len(stderr_lines(err)) <= 1, "more than one line on stderr: %r" % err


def test_live_into_a_closed_pipe_ends_the_run(tmp):
    token = "treeprof_faults_live_%d" % os.getpid()
    before = prog_ids()
    spin = "import sys, time\nt = time.time()\nwhile time.time() - t < 15: pass"
    errf = os.path.join(tmp, "live.stderr")
    t0 = time.monotonic()
    # stderr to a file: the launched command inherits it and outlives treeprof.
    with open(errf, "w") as e:
        live = subprocess.Popen([TREEPROF, "live", "-F", "99", "--", host_python(), "-c",
                                 spin, token], stdout=subprocess.PIPE, stderr=e)
    head = subprocess.Popen(["head", "-3"], stdin=live.stdout, stdout=subprocess.PIPE)
    live.stdout.close()
    try:
        lines = head.communicate(timeout=20)[0].decode().splitlines()
        try:
            live.wait(timeout=5)
        except subprocess.TimeoutExpired:
            live.kill()
            raise AssertionError("live kept running after its reader went away")
        took = time.monotonic() - t0
        err = open(errf).read()
    finally:
        if live.poll() is None:
            live.kill()
        for cmd in glob.glob("/proc/[0-9]*/cmdline"):  # the launched spinner
            try:
                if token.encode() in open(cmd, "rb").read():
                    os.kill(int(cmd.split("/")[2]), signal.SIGKILL)
            except OSError:
                pass
    assert len(lines) == 3, lines
    assert took < 8, "live | head -3 took %.1f s" % took
    assert live.returncode == 0, "live exited %d: %s" % (live.returncode, err)
    assert len(stderr_lines(err)) <= 1, "more than one line on stderr: %r" % err
    assert_nothing_left(before, "live | head")


# ---------------------------------------------------------------- out of disk space

def test_full_disk_is_reported_and_the_recording_stays_readable(tmp):
    mnt = os.path.join(tmp, "small")
    os.mkdir(mnt)
    run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", mnt])
    try:
        data, manifest = os.path.join(mnt, "full.data"), os.path.join(tmp, "manifest")
        before = prog_ids()
        # 4 CPU-bound processes at 999 Hz on 2 CPUs: about 90 KB of samples a second.
        r = run([TREEPROF, "record", "-F", "999", "-o", data, "--"] +
                churn("burn", manifest, "--procs", 3, "--seconds", 5), check=False, timeout=60)
        assert_nothing_left(before, "after the disk filled")
        size = os.path.getsize(data)
        assert size > 200 << 10, "the recording did not fill the disk (%d bytes)" % size
        rr = run([TREEPROF, "report", data, "--format", "json"], check=False)
        assert rr.returncode == 0, "report of the cut recording failed: " + rr.stderr
        rep = json.loads(rr.stdout)
        in_file = sum(p["samples"] for p in rep["processes"])
        assert rep["processes"] and in_file > 0, "nothing readable in the cut recording"
    finally:
        subprocess.run(["umount", "-l", mnt])
    problems = []
    if r.returncode != 0:
        lines = stderr_lines(r.stderr, ignore=("recording at", "wrote "))
        if len(lines) != 1:
            problems.append("expected one line about the write error, saw %r" % lines)
        if "no space left" not in r.stderr.lower():
            problems.append("the message does not say the disk is full (ENOSPC): %r"
                            % r.stderr)
        m = re.search(r"wrote \S+ \((\d+) samples", r.stderr)
        if m and int(m.group(1)) > in_file:
            problems.append("stderr claims %s samples were written, the file holds %d: %r"
                            % (m.group(1), in_file, r.stderr))
    else:
        assert "cut short" not in rr.stderr, "exit 0 but the recording is cut short"
    assert not problems, "disk full, treeprof exit %d:\n  %s" % (r.returncode,
                                                                 "\n  ".join(problems))


# ---------------------------------------------------------------- ring-buffer overflow

def test_ring_buffer_overflow_is_counted_and_shown(tmp):
    """A 1 MiB ring at 10 kHz on two CPU-bound Python processes, with treeprof stopped for
    0.7 s mid-run (SIGSTOP) so the ring must overflow: every drop is counted and shown,
    and the recording holds every sample the kernel sent."""
    data, manifest = os.path.join(tmp, "rb.data"), os.path.join(tmp, "manifest")
    before = prog_ids()
    rec = Recorder(tmp, ["record", "-F", "10000", "--ringbuf-mb", "1", "-o", data, "--"] +
                   churn("burn", manifest, "--procs", 1, "--seconds", 3))
    try:
        rec.wait_attached()
        wait_for(lambda: manifest_rows(manifest, "worker"), 10, "the worker to start")
        time.sleep(0.5)
        os.kill(rec.proc.pid, signal.SIGSTOP)
        time.sleep(0.7)
        os.kill(rec.proc.pid, signal.SIGCONT)
        rc = rec.wait(30)
    finally:
        rec.kill()
    assert rc == 0, "exit %d: %s" % (rc, rec.stderr())
    rep = report_json(data)
    stats = rep["stats"]
    assert "ringbuf_drops" in stats, "no ringbuf_drops stat: %s" % sorted(stats)
    drops = stats["ringbuf_drops"]
    assert drops > 0, "a 0.7 s stall at 10 kHz should overflow a 1 MiB ring; drops = 0"
    recorded = sum(p["samples"] for p in rep["processes"])
    assert recorded == stats["bpf_samples"], "kernel sent %d samples, the recording has %d" % (
        stats["bpf_samples"], recorded)
    m = re.search(r"^\s*ringbuf_drops\s+(\d+)\s*$", rec.stdout(), re.M)
    assert m, "the summary does not show ringbuf_drops:\n" + rec.stdout()[-3000:]
    assert int(m.group(1)) == drops, "summary says %s drops, the recording %d" % (
        m.group(1), drops)
    assert_nothing_left(before, "after the overflow")


# ---------------------------------------------------------------- -o on an existing path

def test_record_output_symlink_is_never_followed(tmp):
    target = os.path.join(tmp, "precious.txt")
    with open(target, "w") as f:
        f.write("do not touch\n")
    for name, dest in (("link.data", target), ("dangling.data", os.path.join(tmp, "nowhere"))):
        link = os.path.join(tmp, name)
        os.symlink(dest, link)
        r = run([TREEPROF, "record", "-q", "-o", link, "--", "true"], check=False)
        assert r.returncode != 0, "record -o %s (a symlink) exited 0" % name
        lines = stderr_lines(r.stderr)
        assert len(lines) == 1 and "symbolic link" in r.stderr, "stderr: %r" % r.stderr
        assert os.path.islink(link) and os.readlink(link) == dest, "the symlink was replaced"
    assert open(target).read() == "do not touch\n", "the symlink's target was written"
    assert not os.path.exists(os.path.join(tmp, "nowhere")), "a dangling link was followed"


def test_record_output_existing_file_is_replaced(tmp):
    """README: the recording is written under a temporary name and renamed over the old
    file once tracing has started."""
    data = os.path.join(tmp, "old.data")
    with open(data, "w") as f:
        f.write("an old file, not a recording\n" * 1000)
    run([TREEPROF, "record", "-q", "-o", data, "--", host_python(), "-c", "pass"])
    rep = report_json(data)
    assert rep["processes"], "the new recording is empty"


def test_failed_record_keeps_an_existing_output(tmp):
    """A record that fails before tracing anything (the command does not exist) must not
    destroy the recording already at -o."""
    data = os.path.join(tmp, "keep.data")
    run([TREEPROF, "record", "-q", "-o", data, "--", host_python(), "-c", "pass"])
    old = open(data, "rb").read()
    r = run([TREEPROF, "record", "-q", "-o", data, "--", "/no/such/cmd"], check=False)
    assert r.returncode != 0
    assert os.path.exists(data), "a failed record deleted the existing %s" % data
    assert open(data, "rb").read() == old, "a failed record changed the existing recording"

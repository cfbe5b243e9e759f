"""Report formats and grouping on a real recording of tests/workloads/tree.py: pprof read
by Go's pprof, speedscope and Chrome trace JSON checked structurally, --group-by role
merging the twenty short children, and reports from a cut-short or corrupt recording."""
import json
import os
import pty
import re
import shutil
import subprocess

import pytest

from conftest import (TREEPROF, WORKLOADS, corrupt_copy, host_python, need, read_manifest,
                      run)

TREE = os.path.join(WORKLOADS, "tree.py")
HOT = ["parent_hot", "fork_worker_hot", "grandchild_hot", "spawn_worker_hot",
       "forkserver_worker_hot", "exec_helper_hot", "late_child_hot", "short_child_hot"]


@pytest.fixture(scope="module")
def rec(tmp_path_factory):
    """One recording for the whole module: (data path, manifest rows, json report)."""
    d = str(tmp_path_factory.mktemp("formats"))
    data, manifest = os.path.join(d, "tree.data"), os.path.join(d, "manifest")
    # --seconds 2: the late child lives 1 s, far longer than the twenty 20 ms children
    run([TREEPROF, "record", "-q", "-F", "499", "-o", data, "--", host_python(), TREE,
         "--manifest", manifest, "--seconds", "2.0"], timeout=120)
    rep = json.loads(run([TREEPROF, "report", data, "--format", "json"]).stdout)
    return data, read_manifest(manifest), rep


def report(data, fmt, *extra, out=None):
    cmd = [TREEPROF, "report", data, "--format", fmt] + list(extra)
    if out:
        return run(cmd + ["-o", out])
    return run(cmd)


def go_pprof(path, tmp, *args):
    go = need(shutil.which("go"), "go (Debian golang-go)")
    env = dict(os.environ, HOME=tmp, GOCACHE=os.path.join(tmp, "gocache"), GOPROXY="off",
               GOTOOLCHAIN="local", GOFLAGS="", GOPATH=os.path.join(tmp, "gopath"))
    return run([go, "tool", "pprof"] + list(args) + [path], env=env, timeout=60).stdout


def top_rows(text):
    """`pprof -top` rows -> {function: (flat%, cum%)}."""
    rows = {}
    for line in text.splitlines():
        m = re.match(r"\s*\S+\s+([\d.]+)%\s+[\d.]+%\s+\S+\s+([\d.]+)%\s+(.+)$", line)
        if m:
            rows[m.group(3).strip()] = (float(m.group(1)), float(m.group(2)))
    return rows


def test_pprof_read_by_go_pprof_shows_the_hot_functions(rec, tmp):
    data, _, _ = rec
    out = os.path.join(tmp, "cpu.pprof")
    report(data, "pprof", out=out)
    with open(out, "rb") as f:
        assert f.read(2) == b"\x1f\x8b", "pprof output is not gzip'd"
    top = go_pprof(out, tmp, "-top", "-nodecount=30")
    assert "Type: cpu" in top, top
    rows = top_rows(top)
    assert "spin_until" in rows, "spin_until missing from pprof -top:\n" + top
    flat = rows["spin_until"][0]
    assert 30.0 <= flat <= 100.0, "spin_until flat %.1f%% is implausible:\n%s" % (flat, top)
    cum = top_rows(go_pprof(out, tmp, "-top", "-cum", "-nodecount=60"))
    for fn in HOT[:-1]:  # each worker spins for a second or more
        assert fn in cum and 2.0 <= cum[fn][1] <= 60.0, "%s: %s" % (fn, cum.get(fn))
    tags = go_pprof(out, tmp, "-tags")
    for label in ("pid:", "comm:", "role:"):
        assert label in tags, "label %s missing:\n%s" % (label, tags[:2000])


def test_pprof_is_refused_on_a_terminal_without_o(rec):
    data, _, _ = rec
    master, slave = pty.openpty()
    try:
        r = subprocess.run([TREEPROF, "report", data, "--format", "pprof"], stdout=slave,
                           stderr=subprocess.PIPE, text=True, timeout=30)
    finally:
        os.close(slave)
        os.close(master)
    assert r.returncode != 0 and "binary" in r.stderr, r.stderr


def test_speedscope_validates_with_one_profile_per_process(rec):
    data, _, rep = rec
    doc = json.loads(report(data, "speedscope").stdout)
    assert doc["$schema"] == "https://www.speedscope.app/file-format-schema.json"
    frames = doc["shared"]["frames"]
    assert frames and all(isinstance(f["name"], str) for f in frames)
    names = []
    for prof in doc["profiles"]:
        for key in ("type", "name", "unit", "startValue", "endValue", "samples", "weights"):
            assert key in prof, "profile without %s" % key
        assert prof["type"] == "sampled" and prof["unit"] == "none"
        assert len(prof["samples"]) == len(prof["weights"])
        assert all(0 <= i < len(frames) for s in prof["samples"] for i in s)
        assert all(w > 0 for w in prof["weights"])
        assert prof["endValue"] == sum(prof["weights"])
        names.append(prof["name"])
    want = ["%s [%d]" % (p["comm"], p["pid"]) for p in rep["processes"] if p["samples"]]
    assert sorted(names) == sorted(want)
    assert 0 <= doc["activeProfileIndex"] < len(doc["profiles"])
    assert any(f["name"] == "spin_until" for f in frames)


def test_chrome_trace_has_process_names_and_complete_events(rec):
    data, _, rep = rec
    doc = json.loads(report(data, "chrome").stdout)
    ev = doc["traceEvents"]
    named = {e["pid"] for e in ev if e["ph"] == "M" and e["name"] == "process_name"}
    assert {p["pid"] for p in rep["processes"]} <= named
    xs = [e for e in ev if e["ph"] == "X"]
    assert xs and all(e["dur"] > 0 and e["ts"] >= 0 for e in xs)
    with_x = {e["pid"] for e in xs}
    assert {p["pid"] for p in rep["processes"] if p["samples"]} <= with_x
    threads = {(e["pid"], e["tid"]) for e in ev if e["ph"] == "M" and e["name"] == "thread_name"}
    assert {(e["pid"], e["tid"]) for e in xs} <= threads
    assert any(e["name"].startswith("spin_until ") for e in xs)


def test_group_by_role_merges_the_twenty_short_children(rec):
    data, rows, rep = rec
    shorts = sorted(pid for role, pid, _ in rows if role == "short")
    assert len(shorts) == 20
    g = json.loads(report(data, "json", "--group-by", "role").stdout)
    assert g["group_by"] == "role" and g["version"] == 1
    group = [x for x in g["groups"] if shorts[0] in x["pids"]][0]
    assert sorted(group["pids"]) == shorts, "role of the short children: %s" % group
    assert group["count"] == 20
    samples = [p["samples"] for p in rep["processes"] if p["pid"] in shorts]
    assert group["spread"] == max(samples) - min(samples)
    assert all(s["group"] < len(g["groups"]) for s in g["stacks"])
    # folded: the group's label is the first frame of its lines
    folded = report(data, "folded", "--group-by", "role").stdout
    heads = {line.split(";", 1)[0] for line in folded.splitlines()}
    assert group["label"] in heads and group["label"].endswith("[20 procs]")
    # text: one row of twenty processes with the spread
    text = report(data, "text", "--group-by", "role").stdout
    table = text.split("Processes by role", 1)[1].split("\n\n", 1)[0]
    want = "%6d %9d" % (20, group["samples"])
    assert any(line.startswith(want) for line in table.splitlines()), table
    assert "[20 procs] (%d samples, spread %d)" % (group["samples"], group["spread"]) in text


def test_group_by_none_has_no_process_frame(rec):
    data, _, _ = rec
    none = report(data, "folded", "--group-by", "none").stdout
    merged = report(data, "folded", "--merge").stdout
    assert none == merged and "python3 [" not in none


def test_cut_short_recording_still_reports_and_says_so(rec, tmp):
    data, _, _ = rec
    cut = os.path.join(tmp, "cut.data")
    with open(data, "rb") as f:
        blob = f.read()
    with open(cut, "wb") as f:
        f.write(blob[: len(blob) * 6 // 10])
    for fmt in ("text", "json", "folded", "speedscope", "chrome"):
        r = report(cut, fmt)
        assert "cut short" in r.stderr, r.stderr
        assert r.stdout
    r = report(cut, "pprof", out=os.path.join(tmp, "cut.pprof"))
    assert "cut short" in r.stderr


def test_corrupt_recording_fails_with_one_line(rec, tmp):
    data, _, _ = rec
    bad = corrupt_copy(data, os.path.join(tmp, "bad.data"))
    for fmt in ("speedscope", "chrome", "pprof"):
        r = run([TREEPROF, "report", bad, "--format", fmt, "-o", os.path.join(tmp, "o")],
                check=False)
        assert r.returncode != 0
        assert len(r.stderr.strip().splitlines()) == 1 and "corrupt" in r.stderr, r.stderr
        assert not os.path.exists(os.path.join(tmp, "o"))

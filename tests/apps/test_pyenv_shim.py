"""A Python application started through a pyenv shim: `treeprof record -- python3 app.py`
where python3 is ~/.pyenv/shims/python3, a bash script that runs pyenv's own bash scripts
(and readlink, basename) to pick the interpreter, then execs it in the same process.

programs/shim_app.py: a parent running collect() and 3 fork workers running crunch().
"""
import os
import re

import pytest

from conftest import (Report, check_function_in, need, pids_of, program, record_launched,
                      report_text, text_section, wait_manifest)

PROG = program("shim_app.py")
WORKERS = 3
APP_COMM = "python3"


def pyenv_shim():
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    shim = os.path.join(root, "shims", "python3")
    need(shim if os.path.exists(shim) and open(shim, "rb").read(2) == b"#!" else None,
         "pyenv's python3 shim (%s)" % shim)
    return root, shim


@pytest.fixture(scope="module")
def shim_run(tmp_path_factory):
    root, shim = pyenv_shim()
    tmp = str(tmp_path_factory.mktemp("pyenv-shim"))
    manifest = os.path.join(tmp, "manifest")
    env = dict(os.environ, PATH=os.path.dirname(shim) + ":" + os.environ.get("PATH", ""))
    data = record_launched(tmp, ["python3", PROG, "--workers", str(WORKERS), "--seconds",
                                 "4", "--manifest", manifest], ["-F", "199"],
                           timeout=90, env=env)
    rows = wait_manifest(manifest, lambda r: True, 1, "the manifest")
    rep = Report(data)
    rep.pyenv_root = root
    rep.parent = pids_of(rows, "parent")[0]
    rep.workers = pids_of(rows, "worker")
    assert len(rep.workers) == WORKERS, rows
    app = set([rep.parent] + rep.workers)
    rep.helpers = [p for p in rep.rep["processes"] if p["pid"] not in app]
    return rep


def test_shim_app_processes_and_functions_present(shim_run):
    r = shim_run
    for pid in [r.parent] + r.workers:
        assert pid in r.procs, "app process %d missing; recorded:\n%s" % (pid, r.describe())
        p = r.procs[pid]
        assert p["samples"] > 0, "app process %d has no samples" % pid
        assert p["comm"] == APP_COMM, p
        assert p["exe"].startswith(os.path.join(r.pyenv_root, "versions") + "/"), (
            "process %d runs %s, not a pyenv interpreter" % (pid, p["exe"]))
    check_function_in(r, r.parent, "collect", PROG, "app parent")
    for pid in r.workers:
        assert r.procs[pid]["ppid"] == r.parent
        check_function_in(r, pid, "crunch", PROG, "app worker")


def test_shim_helpers_recorded_as_short_lived_processes(shim_run):
    """The recording keeps every process the shim ran: bash and readlink among them, all
    descendants of the app's first process (the shim, which became the app by exec)."""
    r = shim_run
    comms = [p["comm"] for p in r.helpers]
    assert comms.count("bash") >= 1 and comms.count("readlink") >= 1, (
        "the shim's bash and readlink processes should be in the recording; helpers: %s"
        % sorted(set(comms)))
    for p in r.helpers:
        anc, seen = p["ppid"], set()
        while anc in r.procs and anc != r.parent and anc not in seen:
            seen.add(anc)
            anc = r.procs[anc]["ppid"]
        assert anc == r.parent, "helper %d (%s) is not a descendant of the app %d" % (
            p["pid"], p["comm"], r.parent)
        assert p["exited"] and p["end_ns"] > 0, p
        assert p["end_ns"] - p["start_ns"] < 2e9, "helper %d lived %.1f s" % (
            p["pid"], (p["end_ns"] - p["start_ns"]) / 1e9)


SHORT_ROW = re.compile(r"(\d+) short-lived: (.+?) -- ([\d.]+)%")


def test_text_report_collapses_the_shim_helpers_into_one_row(shim_run):
    """README/issue 15 item 5: processes with a negligible share of samples and no memory
    events fold into one row in the text report ("41 short-lived: bash x38, readlink x3 --
    1.2%"); --all lists them one by one. Nothing is dropped from the json."""
    r = shim_run
    text = report_text(r.data)
    rows = text_section(text, "Processes")
    folded = [ln for ln in rows if "short-lived:" in ln]
    assert len(folded) == 1, "expected one 'N short-lived: bash xA, readlink xB -- P%%' row " \
        "for the %d helpers, got %d:\n%s" % (len(r.helpers), len(folded), "\n".join(rows))
    m = SHORT_ROW.search(folded[0])
    assert m, "row not of the form 'N short-lived: CMD xK, ... -- P%%': " + folded[0]
    per_cmd = {}
    for part in m.group(2).split(", "):
        cmd, _, k = part.rpartition(" x")
        per_cmd[cmd] = int(k)
    want = {}
    for p in r.helpers:
        want[p["comm"]] = want.get(p["comm"], 0) + 1
    assert int(m.group(1)) == len(r.helpers) == sum(per_cmd.values()), (folded[0], want)
    assert per_cmd == want, "row %r, helpers by command %s" % (folded[0], want)
    share = 100.0 * sum(p["samples"] for p in r.helpers) / sum(
        p["samples"] for p in r.rep["processes"])
    assert abs(float(m.group(3)) - share) <= 0.15, (folded[0], share)
    listed = {int(ln.split()[0]) for ln in rows if ln.split()[:1] and ln.split()[0].isdigit()
              and "short-lived:" not in ln}
    shown = sorted(listed & {p["pid"] for p in r.helpers})
    assert not shown, "helpers still listed one by one: %s" % shown
    for pid in [r.parent] + r.workers:
        assert pid in listed, "app process %d not listed in the text report" % pid
    # --all lists every process, helpers included
    rows_all = text_section(report_text(r.data, "--all"), "Processes")
    listed_all = {int(ln.split()[0]) for ln in rows_all
                  if ln.split()[:1] and ln.split()[0].isdigit()}
    missing = sorted({p["pid"] for p in r.rep["processes"]} - listed_all)
    assert not missing, "--all: processes not listed: %s" % missing

"""Shared helpers for the integration tests: they drive the real ./treeprof binary, as
root, against real Python process trees, and read what the recording says."""
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TREEPROF = os.path.join(ROOT, "treeprof")
WORKLOADS = os.path.join(ROOT, "tests", "workloads")
IN_CI = os.environ.get("CI") == "true"


def pyenv_python(minor):
    """Path of pyenv's python3.<minor>, or None."""
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    vdir = os.path.join(root, "versions")
    if not os.path.isdir(vdir):
        return None
    for v in sorted(os.listdir(vdir), reverse=True):
        if v.startswith("3.%d." % minor):
            exe = os.path.join(vdir, v, "bin", "python3.%d" % minor)
            if os.access(exe, os.X_OK):
                return exe
    return None


def host_python():
    """A Python 3 for workloads: pyenv's 3.11 when present, else Debian's."""
    return pyenv_python(11) or shutil.which("python3.11") or "/usr/bin/python3"


def need(path, what):
    """Skip outside CI when a tool is missing; under CI=true a missing tool is a failure."""
    if path and os.path.exists(path):
        return path
    if IN_CI:
        pytest.fail("%s is required under CI=true but missing" % what)
    pytest.skip("%s not installed" % what)


def run(cmd, timeout=120, check=True, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise AssertionError("%s exited %d\nstdout:\n%s\nstderr:\n%s"
                             % (" ".join(cmd), r.returncode, r.stdout[-4000:], r.stderr[-4000:]))
    return r


def report_json(data):
    r = run([TREEPROF, "report", data, "--format", "json"])
    return json.loads(r.stdout)


def report_folded(data, *extra):
    r = run([TREEPROF, "report", data, "--format", "folded"] + list(extra))
    out = {}
    for line in r.stdout.splitlines():
        stack, _, count = line.rpartition(" ")
        out[stack] = out.get(stack, 0) + int(count)
    return out


def read_manifest(path):
    """ROLE PID PPID lines -> list of (role, pid, ppid)."""
    rows = []
    with open(path) as f:
        for line in f:
            role, pid, ppid = line.split()
            rows.append((role, int(pid), int(ppid)))
    return rows


def wait_for(pred, timeout=10.0, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError("timed out waiting for " + what)


@pytest.fixture
def tmp(tmp_path):
    return str(tmp_path)


@pytest.fixture(scope="session", autouse=True)
def built():
    assert os.access(TREEPROF, os.X_OK), "build ./treeprof first (make)"
    assert os.geteuid() == 0, "the integration tests load BPF programs: run as root"

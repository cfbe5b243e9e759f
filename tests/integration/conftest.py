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
# TREEPROF_BIN: run the suite against another build (make integration-san: ASan+UBSan).
TREEPROF = os.environ.get("TREEPROF_BIN") or os.path.join(ROOT, "treeprof")
WORKLOADS = os.path.join(ROOT, "tests", "workloads")
IN_CI = os.environ.get("CI") == "true"

# Under `sudo make test`, treeprof would run launched commands as the invoking user (see
# test_privileges.py); the other tests run them as root, in root-owned temporary dirs.
for _var in ("SUDO_UID", "SUDO_GID", "SUDO_USER", "SUDO_COMMAND"):
    os.environ.pop(_var, None)


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
    pytest.skip("%s not installed" % what)  # outside CI only: under CI=true, failed above


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


def corrupt_copy(data, path):
    """Copy the recording data to path with 16 bytes in its middle inverted (a record's
    CRC no longer matches); returns path."""
    with open(data, "rb") as f:
        blob = bytearray(f.read())
    mid = len(blob) // 2
    blob[mid:mid + 16] = bytes(b ^ 0xFF for b in blob[mid:mid + 16])
    with open(path, "wb") as f:
        f.write(bytes(blob))
    return path


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


class Recorder:
    """treeprof record (or live) in the background, stdout and stderr to files."""

    def __init__(self, tmp, args, name="rec"):
        self.out_path = os.path.join(tmp, name + ".stdout")
        self.err_path = os.path.join(tmp, name + ".stderr")
        with open(self.out_path, "w") as o, open(self.err_path, "w") as e:
            self.proc = subprocess.Popen([TREEPROF] + args, stdout=o, stderr=e)

    def stderr(self):
        return open(self.err_path).read()

    def stdout(self):
        return open(self.out_path).read()

    def wait_attached(self, timeout=15):
        """`record` says "recording at" once every probe is attached."""
        wait_for(lambda: "recording at" in self.stderr() or self.proc.poll() is not None,
                 timeout, "treeprof to attach")
        assert self.proc.poll() is None, "treeprof ended early: " + self.stderr()

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("treeprof did not end within %.1f s; stderr:\n%s" % (
                timeout, self.stderr()[-2000:]))

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def tmp(tmp_path):
    return str(tmp_path)


@pytest.fixture(scope="session", autouse=True)
def built():
    assert os.access(TREEPROF, os.X_OK), "build ./treeprof first (make)"
    assert os.geteuid() == 0, "the integration tests load BPF programs: run as root"


# ---------------------------------------------------------------- Python interpreters
# (added for test_python_versions.py)

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_dont_write, sys.dont_write_bytecode = sys.dont_write_bytecode, True  # no tests/__pycache__
import roots  # noqa: E402  (tests/roots.py: cached Debian roots, chroot runner)
sys.dont_write_bytecode = _dont_write

# Where a chrooted interpreter sees the workloads and the test's scratch directory.
ROOT_WORKLOADS = "/treeprof/workloads"
ROOT_OUT = "/treeprof/out"


class Interp:
    """A Python interpreter to run workloads on: on the host (root is None), or inside a
    cached Debian root with chroot (exe is then its path inside the root)."""

    def __init__(self, label, minor, exe, root=None):
        self.label, self.minor, self.exe, self.root = label, minor, exe, root

    def cmd(self, workload, *args, out):
        """argv running tests/workloads/<workload> with args on this interpreter; "{out}" in
        an argument stands for the host directory `out` as the interpreter sees it."""
        if self.root is None:
            return [self.exe, os.path.join(WORKLOADS, workload)] + [
                a.replace("{out}", out) for a in args]
        return roots.chroot_argv(
            self.root,
            [self.exe, ROOT_WORKLOADS + "/" + workload] + [a.replace("{out}", ROOT_OUT)
                                                           for a in args],
            binds={WORKLOADS: ROOT_WORKLOADS, out: ROOT_OUT})

    def __repr__(self):
        return "<%s %s%s>" % (self.label, self.exe,
                              " in " + self.root if self.root else "")


def interpreter(spec):
    """The interpreter named by spec -- "pyenv-3.8", "debian-3.11" (/usr/bin/python3.11),
    or "<root>-3.14" for python3.14 in a Debian root of tests/roots.py (built on first use,
    then cached).  Missing: skipped outside CI, a failure under CI=true (see need)."""
    where, _, ver = spec.partition("-")
    minor = int(ver.split(".")[1])
    if where == "pyenv":
        return Interp(spec, minor, need(pyenv_python(minor), "pyenv python3.%d" % minor))
    if where == "debian":
        return Interp(spec, minor, need("/usr/bin/python3.%d" % minor,
                                        "Debian's /usr/bin/python3.%d" % minor))
    if where in roots.ROOTS:
        if not shutil.which("debootstrap") and not roots.stamp(where):
            need(None, "debootstrap (to build the Debian %s root)" % where)
        try:
            path, exe = roots.python_in(where, minor)
        except Exception as e:  # no network, no mirror, ...
            need(None, "the Debian %s root (%s: %s)" % (where, type(e).__name__,
                                                       str(e)[-2000:]))
        if exe is None:
            need(None, "python3.%d in Debian %s (the suite has no python3.%d package)"
                 % (minor, where, minor))
        return Interp(spec, minor, exe, root=path)
    raise ValueError("unknown interpreter spec " + spec)


# ---------------------------------------------------------------- reading stacks

def stacks_of(rep, pid=None):
    """[(count, frames root first as dicts)] of the json report, for one pid or all."""
    frames = rep["frames"]
    return [(s["count"], [frames[i] for i in s["frames"]])
            for s in rep["stacks"] if pid is None or s["pid"] == pid]


def py_frames(stack):
    """The Python frames of a stack (root first)."""
    return [f for f in stack if f["kind"] == "python"]


def live_samples(stdout):
    """`treeprof live` sample lines -> [(pid, tid, [frame names, leaf first])].
    A line is "%9.3f %7d/%-7u %-15.15s " then the frames, "name (file:line)" for Python
    ones, joined by " < "; event lines ("--") are left out."""
    import re
    out = []
    for line in stdout.splitlines():
        m = re.match(r"\s*[\d.]+ +(\d+)/(\d+)", line)
        if not m:
            continue
        pos = m.end(2) + max(0, 7 - len(m.group(2))) + 1 + 16
        names = []
        for f in line[pos:].split(" < "):
            if f.startswith("... ("):
                break
            names.append(f.split(" (")[0])
        out.append((int(m.group(1)), int(m.group(2)), names))
    return out

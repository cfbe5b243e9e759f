"""Shared helpers for the application tests: real programs (PyTorch, numpy, gunicorn, Celery,
a pyenv shim) recorded by the real ./treeprof, launched or attached with -p, as root.

The integration suite's helpers (Recorder, run, report_json, stacks_of, py_frames, need,
wait_for, the tmp fixture, the root/build check) are imported from
tests/integration/conftest.py, not copied; this file adds what applications need on top:

- App:        a program started on its own (to attach to), killed with its whole tree at
              the end of the test, whatever happened;
- record_launched / Attached: `record -- CMD` and `record -p PID` until the tree exits or for
              a few seconds, with a stderr that says what went wrong;
- RssWatcher: each process's peak RSS (VmHWM) read from /proc while it runs;
- Report:     the json report of a recording, indexed: processes, per-process sample counts,
              Python functions with file:line, roles, memory figures;
- checks:     a function sampled on its own lines, a call at a marked line, heap figures
              against what the kernel says each process has resident;
- manifests:  "ROLE PID PPID" lines that the programs write as their processes start.

Every helper fails with a message that says what was expected and what was seen.
"""
import ast
import importlib.util
import os
import signal
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAMS = os.path.join(HERE, "programs")
MIB = 1 << 20

# tests/integration/conftest.py under a name of its own: pytest imports every conftest.py as
# "conftest", and the test modules here import this file by that name.
_spec = importlib.util.spec_from_file_location(
    "treeprof_integration_conftest",
    os.path.join(os.path.dirname(HERE), "integration", "conftest.py"))
integration = importlib.util.module_from_spec(_spec)
_dont_write, sys.dont_write_bytecode = sys.dont_write_bytecode, True
_spec.loader.exec_module(integration)
sys.dont_write_bytecode = _dont_write

TREEPROF = integration.TREEPROF
IN_CI = integration.IN_CI
Recorder = integration.Recorder
run = integration.run
need = integration.need
wait_for = integration.wait_for
report_json = integration.report_json
report_folded = integration.report_folded
stacks_of = integration.stacks_of
py_frames = integration.py_frames
read_manifest = integration.read_manifest
pyenv_python = integration.pyenv_python
interpreter = integration.interpreter
# fixtures: tmp (a str tmp_path) and the session check that ./treeprof is built and we are root
tmp = integration.tmp
built = integration.built

DEBIAN_PYTHON = "/usr/bin/python3"


def program(name):
    """Path of tests/apps/programs/<name>."""
    return os.path.join(PROGRAMS, name)


def need_module(module, python=DEBIAN_PYTHON, package=None):
    """Skip (a failure under CI=true) unless `python` can import `module`."""
    need(python, python)
    ok = subprocess.run([python, "-c", "import " + module], capture_output=True,
                        timeout=60).returncode == 0
    need(python if ok else None, "%s for %s (Debian package %s)" % (
        module, python, package or "python3-" + module))


# ---------------------------------------------------------------- processes

def children_of(pid):
    """Direct children of pid (every thread's), sorted, from /proc/PID/task/*/children;
    [] once pid is gone."""
    out = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                out += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return sorted(set(out))


def tree_pids(root):
    """root and all its live descendants."""
    seen, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.append(pid)
        todo += children_of(pid)
    return seen


def kill_tree(root, sig=signal.SIGKILL):
    """Signal root and every descendant (children first found, then signalled, so a
    parent cannot re-fork behind us). Gone processes are ignored."""
    for _ in range(3):
        pids = tree_pids(root)
        for pid in reversed(pids):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        if len(pids) <= 1:
            break


class App:
    """A program run on its own (to be attached to), its output in files under tmp.
    stop() kills it and every descendant; use it from a fixture's finalizer."""

    def __init__(self, tmp, argv, name="app", env=None, cwd=None):
        self.argv = argv
        self.out_path = os.path.join(tmp, name + ".stdout")
        self.err_path = os.path.join(tmp, name + ".stderr")
        with open(self.out_path, "w") as o, open(self.err_path, "w") as e:
            self.proc = subprocess.Popen(argv, stdout=o, stderr=e, env=env, cwd=cwd,
                                         start_new_session=True)
        self.pid = self.proc.pid

    def output(self):
        return "stdout:\n%s\nstderr:\n%s" % (open(self.out_path).read()[-3000:],
                                              open(self.err_path).read()[-3000:])

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError("%s did not end within %.0f s\n%s" % (
                " ".join(self.argv), timeout, self.output()))

    def stop(self):
        if self.proc.poll() is None:
            kill_tree(self.pid)
            try:
                os.killpg(self.pid, signal.SIGKILL)  # anything that left the tree
            except ProcessLookupError:
                pass
            self.proc.wait(10)


def record_launched(tmp, argv, record_args=(), timeout=120, name="launch", watch=None,
                    env=None):
    """`treeprof record -q -o DATA [record_args] -- argv`, waited for; returns DATA.
    watch: an RssWatcher started on treeprof's tree while it runs."""
    data = os.path.join(tmp, name + ".data")
    with open(os.path.join(tmp, name + ".stdout"), "w") as o, \
            open(os.path.join(tmp, name + ".stderr"), "w") as e:
        proc = subprocess.Popen([TREEPROF, "record", "-q", "-o", data] + list(record_args)
                                + ["--"] + list(argv), stdout=o, stderr=e, env=env,
                                start_new_session=True)
    try:
        if watch is not None:
            watch.start(lambda: tree_pids(proc.pid)[1:])
        try:
            rc = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            rc = None
    finally:
        if watch is not None:
            watch.stop()
        if proc.poll() is None:
            kill_tree(proc.pid)
            proc.wait(10)
    err = open(os.path.join(tmp, name + ".stderr")).read()
    out = open(os.path.join(tmp, name + ".stdout")).read()
    assert rc is not None, "record -- %s did not end within %d s\nstderr:\n%s" % (
        " ".join(argv), timeout, err[-3000:])
    assert rc == 0, "record -- %s exited %d\nstdout:\n%s\nstderr:\n%s" % (
        " ".join(argv), rc, out[-3000:], err[-3000:])
    return data


class Attached:
    """`treeprof record -o DATA -p PID [record_args]` in the background; ready once every
    probe is attached. finish() waits for it (-d, or the tree's exit) and returns DATA."""

    def __init__(self, tmp, pid, record_args=(), name="attach"):
        self.data = os.path.join(tmp, name + ".data")
        # not -q: "recording at" on stderr says when every probe is attached
        self.rec = Recorder(tmp, ["record", "-o", self.data, "-p", str(pid)]
                            + list(record_args), name=name)

    def wait_attached(self, timeout=30):
        self.rec.wait_attached(timeout)

    def finish(self, timeout=60):
        rc = self.rec.wait(timeout)
        assert rc == 0, "record -p exited %d\nstderr:\n%s" % (rc, self.rec.stderr()[-3000:])
        return self.data

    def kill(self):
        self.rec.kill()


def interrupt(rec, timeout=60):
    """End a `record -p` Recorder as a user does, with Ctrl-C (SIGINT): (its exit status,
    its stderr)."""
    rec.proc.send_signal(signal.SIGINT)
    return rec.wait(timeout), rec.stderr()


def wait_manifest(path, pred, timeout, what, app=None):
    """Wait until pred(read_manifest(path)) holds; an app that ends first fails at once."""
    def ready():
        if app is not None and app.proc.poll() is not None:
            raise AssertionError("the program ended (%s) before %s\n%s" % (
                app.proc.returncode, what, app.output()))
        try:
            return os.path.exists(path) and pred(read_manifest(path))
        except ValueError:  # a line being written
            return False
    wait_for(ready, timeout, what)
    return read_manifest(path)


def pids_of(manifest_rows, role):
    return [pid for r, pid, _ in manifest_rows if r == role]


# ---------------------------------------------------------------- RSS from /proc

def proc_status(pid):
    """/proc/PID/status as {field: value in bytes for kB fields, else the text}."""
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                key, _, val = line.partition(":")
                val = val.strip()
                out[key] = int(val.split()[0]) * 1024 if val.endswith(" kB") else val
    except OSError:
        return None
    return out


class RssWatcher:
    """Polls VmHWM (peak RSS), VmRSS and RssAnon of a changing set of pids every
    `interval` seconds from a thread, keeping the largest value seen per pid. VmHWM only
    grows, so what a process reached before its last poll is kept even after it exits."""

    def __init__(self, interval=0.05):
        self.interval = interval
        self.peak = {}  # pid -> {"VmHWM": bytes, "VmRSS": bytes, "RssAnon": bytes}
        self.comm = {}
        self._stop = threading.Event()
        self._thread = None

    def poll(self, pids):
        for pid in pids:
            st = proc_status(pid)
            if not st or "VmHWM" not in st:
                continue
            p = self.peak.setdefault(pid, {})
            for k in ("VmHWM", "VmRSS", "RssAnon"):
                if isinstance(st.get(k), int):
                    p[k] = max(p.get(k, 0), st[k])
            self.comm[pid] = st.get("Name", "?")

    def start(self, pids_fn):
        def loop():
            while not self._stop.is_set():
                try:
                    self.poll(pids_fn())
                except Exception:  # a process vanishing mid-read: next round
                    pass
                self._stop.wait(self.interval)
        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join(5)

    def hwm(self, pid):
        """The largest VmHWM read for pid, or None if it was never seen."""
        return self.peak.get(pid, {}).get("VmHWM")


# ---------------------------------------------------------------- reading reports

def function_lines(path, qualname):
    """The line numbers of function `qualname` (dotted for methods) in the Python file."""
    tree = ast.parse(open(path).read())

    def find(nodes, parts):
        for n in nodes:
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) \
                    and n.name == parts[0]:
                if len(parts) == 1:
                    return set(range(n.lineno, n.end_lineno + 1))
                return find(n.body, parts[1:])
        return None
    lines = find(tree.body, qualname.split("."))
    assert lines, "%s has no function %s" % (path, qualname)
    return lines


def marked_line(path, name):
    """Line number of the `# LINE:name` marker in the Python file at path."""
    with open(path) as f:
        for n, text in enumerate(f, 1):
            if text.rstrip().endswith("# LINE:" + name):
                return n
    raise AssertionError("no '# LINE:%s' marker in %s" % (name, path))


def call_site(path, caller, callee, marker):
    """The call call_samples looks for, in words: "callee (file:first-last) < caller (line N)"."""
    lines = function_lines(path, callee)
    return "%s (%s:%d-%d) < %s (line %d)" % (callee, os.path.basename(path), min(lines),
                                            max(lines), caller, marked_line(path, marker))


def call_samples(rep, pid, path, caller, callee, marker):
    """Samples of pid (json report rep) whose Python stack has callee, on its own lines,
    called from caller at the line marked `# LINE:marker`, both in the file at path."""
    lines, call = function_lines(path, callee), marked_line(path, marker)
    ours = "/" + os.path.basename(path)

    def is_call(a, b):
        return (a["name"] == caller and b["name"] == callee and a["line"] == call
                and b["line"] in lines and (a["file"] or "").endswith(ours)
                and (b["file"] or "").endswith(ours))
    return sum(count for count, stack in stacks_of(rep, pid)
               if any(is_call(a, b) for a, b in zip(py_frames(stack), py_frames(stack)[1:])))


class Report:
    """The json report of a recording (any --group-by), indexed for assertions."""

    def __init__(self, data, *extra):
        self.data = data
        r = run([TREEPROF, "report", data, "--format", "json"] + list(extra))
        import json
        self.rep = json.loads(r.stdout)
        self.procs = {p["pid"]: p for p in self.rep["processes"]}
        mem = self.rep.get("memory") or {}
        self.mem = {p["pid"]: p for p in mem.get("processes", [])}

    def samples(self, pid):
        """Samples of pid (its processes[] entry), 0 when absent."""
        return self.procs.get(pid, {}).get("samples", 0)

    def stacks(self, pid=None):
        return stacks_of(self.rep, pid)

    def function_samples(self, pid, name, file=None):
        """{line: samples} of the Python function `name` (its qualname) in pid's stacks,
        counted once per stack, at its innermost occurrence; file: its source path."""
        out = {}
        for count, frames in self.stacks(pid):
            for f in reversed(py_frames(frames)):
                if f["name"] == name and (file is None or f["file"] == file):
                    out[f["line"]] = out.get(f["line"], 0) + count
                    break
        return out

    def functions(self, pid):
        """{qualname: samples} of every Python frame of pid (counted once per stack)."""
        out = {}
        for count, frames in self.stacks(pid):
            for name in {f["name"] for f in py_frames(frames)}:
                out[name] = out.get(name, 0) + count
        return out

    def groups(self):
        return self.rep.get("groups", [])

    def group_of(self, pid):
        for g in self.groups():
            if pid in g["pids"]:
                return g
        return None

    def describe(self, pids=None):
        """One line per process, for assertion messages."""
        return "\n".join("  %d ppid %d samples %d %s" % (p["pid"], p["ppid"], p["samples"],
                                                        p["cmdline"][:100])
                         for p in self.rep["processes"] if pids is None or p["pid"] in pids)


def report_text(data, *extra):
    return run([TREEPROF, "report", data] + list(extra)).stdout


def text_section(text, title):
    """The lines of a text report's section whose heading starts with `title` (the heading
    and the column header excluded), up to the next blank line."""
    lines = text.splitlines()
    for i, ln in enumerate(lines):
        if ln.startswith(title):
            out = []
            for row in lines[i + 2:]:
                if not row.strip():
                    break
                out.append(row)
            return out
    raise AssertionError("text report has no section %r:\n%s" % (title, text[:3000]))


def check_function_in(report, pid, name, path, what):
    """pid has samples in Python function `name` of file `path`, on lines of its body."""
    lines = function_lines(path, name)
    got = report.function_samples(pid, name, path)
    assert got, "%s %d: no sample in %s (%s); its functions: %s" % (
        what, pid, name, path, sorted(report.functions(pid).items(), key=lambda x: -x[1])[:12])
    bad = [ln for ln in got if ln not in lines]
    assert not bad, "%s %d: %s sampled at lines %s, outside its body %d-%d of %s" % (
        what, pid, name, bad, min(lines), max(lines), path)
    return got


def fmt_mib(n):
    return "%.1f MiB" % (n / MIB)


# ---------------------------------------------------------------- heap against the kernel

HEAP_MARGIN = 4 * MIB  # RSS read a moment before the end; pages of a block not yet touched


def heap_figures(p):
    """(name, bytes, against) for every heap figure treeprof reports for one process (its
    json memory.processes[] entry): figures held now are compared with VmRSS, peaks with
    VmHWM."""
    out = [("estimated live_bytes", p["live_bytes"], "VmRSS"),
           ("estimated peak_bytes", p["peak_bytes"], "VmHWM")]
    if p.get("exact"):
        out += [("exact in_use", p["exact"]["in_use"], "VmRSS"),
                ("exact peak_in_use", p["exact"]["peak_in_use"], "VmHWM")]
    return out


def check_heap_within_rss(rep, vm, who):
    """No heap figure of a process of who ({pid: what it is}) above what the kernel said
    it had resident (vm: {pid: {"VmRSS": bytes, "VmHWM": bytes}}), give or take HEAP_MARGIN."""
    mem = {p["pid"]: p for p in rep["memory"]["processes"]}
    bad = []
    for pid, what in who.items():
        assert pid in mem, "process %d has no memory figures: %s" % (pid, sorted(mem))
        for name, got, against in heap_figures(mem[pid]):
            if got > vm[pid][against] + HEAP_MARGIN:
                bad.append("%s %d: %s %s > %s %s" % (what, pid, name, fmt_mib(got), against,
                                                     fmt_mib(vm[pid][against])))
    assert not bad, "heap above what the kernel has resident (margin %d MiB):\n  %s" % (
        HEAP_MARGIN // MIB, "\n  ".join(bad))


def check_heap_is_own(rep, pids, what, parent, need_exact=True):
    """Each forked process of pids counts in its exact in-use heap and peak what it
    allocated itself, not its parent's heap copied at the fork (README, accounting rules):
    neither exceeds the bytes it allocated. need_exact: a process without exact counters
    fails, else it is passed over."""
    mem = {p["pid"]: p for p in rep["memory"]["processes"]}
    parent_in_use = ((mem.get(parent) or {}).get("exact") or {}).get("in_use", 0)
    bad = []
    for pid in pids:
        ex = mem[pid]["exact"]
        if not ex:
            assert not need_exact, "%s %d: no exact counters (the preloaded sampler)" % (
                what, pid)
            continue
        for key in ("in_use", "peak_in_use"):
            if ex[key] > ex["alloc_bytes"]:
                bad.append("%s %d: exact %s %s > the %s it allocated (its parent's in_use %s)"
                           % (what, pid, key, fmt_mib(ex[key]), fmt_mib(ex["alloc_bytes"]),
                              fmt_mib(parent_in_use)))
    assert not bad, "\n".join(bad)

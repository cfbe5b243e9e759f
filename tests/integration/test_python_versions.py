"""Python frames in every sample, on every supported Python: pyenv 3.8-3.13, Debian's
own python3.11 (libpython linked in statically, non-PIE), and Debian trixie / sid
interpreters (3.13, 3.14, 3.15) run inside chroots of cached Debian roots
(tests/roots.py), profiled from the host as a container would be.

The workloads are tests/workloads/pyfeatures.py (nested classes, deep recursion,
generator, coroutine, threads), shares.py (a known 3:1 CPU split), mixed_parent.py (a
parent and a child on different Python versions) and tree.py (every process shape)."""
import collections
import json
import os

import pytest

from conftest import (TREEPROF, WORKLOADS, interpreter, live_samples, py_frames,
                      read_manifest, report_json, run, stacks_of)

VERSIONS = ["pyenv-3.8", "pyenv-3.9", "pyenv-3.10", "pyenv-3.11", "pyenv-3.12",
            "pyenv-3.13", "debian-3.11", "trixie-3.13", "sid-3.14", "sid-3.15"]

PYFEATURES = os.path.join(WORKLOADS, "pyfeatures.py")


def hot_line():
    """Line number of the one code line ending with the HOT-LINE marker."""
    with open(PYFEATURES) as f:
        lines = [i for i, l in enumerate(f, 1)
                 if l.rstrip().endswith("# HOT-LINE") and not l.lstrip().startswith("#")]
    assert len(lines) == 1, "pyfeatures.py should mark exactly one line: %s" % lines
    return lines[0]


def is_ours(frame, workload):
    return os.path.basename(frame["file"] or "") == workload


def describe(stack):
    return " > ".join("%s:%s" % (f["name"], f["line"]) if f["kind"] == "python"
                      else "[%s] %s" % (f["kind"], f["name"]) for f in stack)


def top_stacks(stacks, n=5):
    best = sorted(stacks, key=lambda cs: -cs[0])[:n]
    return "\n".join("  %5d  %s" % (c, describe(s)[-600:]) for c, s in best)


# ---------------------------------------------------------------- pyfeatures, per version

class Features:
    """One recording of pyfeatures.py on one interpreter, and what it says."""

    def __init__(self, py, tmp):
        self.py = py
        self.data = os.path.join(tmp, "pf.data")
        run([TREEPROF, "record", "-q", "-F", "999", "-o", self.data, "--"]
            + py.cmd("pyfeatures.py", "--out", "{out}/pf.json", out=tmp), timeout=90)
        with open(os.path.join(tmp, "pf.json")) as f:
            self.info = json.load(f)
        self.rep = report_json(self.data)
        self.pid = self.info["pid"]
        self.stacks = stacks_of(self.rep, self.pid)
        self.version = (self.info["hexversion"] >> 24, (self.info["hexversion"] >> 16) & 0xff)
        self.tmp = tmp

    def with_fn(self, name):
        """(count, stack) of the stacks with a Python frame of pyfeatures.py called name."""
        return [(c, s) for c, s in self.stacks
                if any(f["name"] == name and is_ours(f, "pyfeatures.py")
                       for f in py_frames(s))]

    def total(self, stacks):
        return sum(c for c, _ in stacks)


@pytest.fixture(scope="module", params=VERSIONS)
def features(request, tmp_path_factory):
    py = interpreter(request.param)
    return Features(py, str(tmp_path_factory.mktemp("pf-" + request.param)))


def test_runs_the_requested_version(features):
    assert features.version == (3, features.py.minor), (
        "%s: expected Python 3.%d, the workload says it ran on %s"
        % (features.py.label, features.py.minor, features.info["version"]))
    procs = {p["pid"]: p for p in features.rep["processes"]}
    assert features.pid in procs, "workload pid %d not in the recording (have %s)" % (
        features.pid, sorted(procs))


def test_python_frames_in_almost_every_sample(features):
    """The process burns ~1.6 s of CPU in Python code; only interpreter start-up (and, in a
    root, the unshare/chroot wrappers exec'd in the same pid) may lack Python frames."""
    total = features.total(features.stacks)
    with_py = sum(c for c, s in features.stacks if py_frames(s))
    assert total >= 800, "%s: expected ~1600 samples of pid %d at 999 Hz, got %d" % (
        features.py.label, features.pid, total)
    assert with_py >= 0.9 * total, (
        "%s: expected >= 90%% of the samples to have Python frames, got %d of %d (%.0f%%)."
        " stats: %s\ntop stacks:\n%s" % (
            features.py.label, with_py, total, 100.0 * with_py / total,
            {k: v for k, v in features.rep["stats"].items() if k.startswith("python")},
            top_stacks(features.stacks)))


def test_nested_method_qualname_and_hot_line(features):
    name = "Outer.Inner.method" if features.version >= (3, 11) else "method"
    line = hot_line()
    assert features.info["hot_line"] == line
    # Samples whose leaf Python frame is the method.
    leafs = collections.Counter()
    n = 0
    for c, s in features.stacks:
        py = py_frames(s)
        if py and py[-1]["name"] == name and is_ours(py[-1], "pyfeatures.py"):
            leafs[py[-1]["line"]] += c
            n += c
    names = collections.Counter()
    for c, s in features.stacks:
        for f in py_frames(s)[-1:]:
            names[f["name"]] += c
    assert n >= 150, (
        "%s: expected ~400 samples with leaf Python frame %r (0.4 s CPU at 999 Hz), got %d;"
        " leaf Python functions seen: %s" % (features.py.label, name, n,
                                            names.most_common(12)))
    at_hot = leafs[line]
    assert at_hot >= 0.8 * n, (
        "%s: expected >= 80%% of %s's %d samples at pyfeatures.py:%d (HOT-LINE), got %d;"
        " lines seen: %s" % (features.py.label, name, n, line, at_hot,
                             leafs.most_common(6)))
    if features.version >= (3, 11):
        bare = [(c, s) for c, s in features.stacks
                if any(f["name"] == "method" for f in py_frames(s))]
        assert not bare, "%s: frames named 'method' instead of the qualname:\n%s" % (
            features.py.label, top_stacks(bare))


def test_deep_recursion_complete_in_one_stack(features):
    expect = ["<module>", "main", "run_recursion"] + ["recurse"] * 100 + ["recursion_leaf"]
    leaf = features.with_fn("recursion_leaf")
    n = features.total(leaf)
    assert n >= 100, "%s: expected ~300 samples in recursion_leaf, got %d" % (
        features.py.label, n)
    complete = sum(c for c, s in leaf if [f["name"] for f in py_frames(s)] == expect)
    depths = collections.Counter()
    for c, s in leaf:
        depths[sum(1 for f in py_frames(s) if f["name"] == "recurse")] += c
    best = max(leaf, key=lambda cs: cs[0])[1]
    assert complete >= 0.8 * n, (
        "%s: expected >= 80%% of recursion_leaf's %d samples with the whole Python stack"
        " <module> > main > run_recursion > recurse x100 > recursion_leaf, got %d;"
        " recurse frames per sample: %s; commonest stack's Python frames: %s" % (
            features.py.label, n, complete, dict(depths),
            [f["name"] for f in py_frames(best)][:8] + ["..."]
            + [f["name"] for f in py_frames(best)][-3:]))


@pytest.mark.parametrize("fn,caller", [("gen_work", "run_generator"),
                                       ("coro_work", "BaseEventLoop.run_until_complete"),
                                       ("thread_work", None),
                                       ("main_thread_work", "main")])
def test_generator_coroutine_thread_frames(features, fn, caller):
    stacks = features.with_fn(fn)
    n = features.total(stacks)
    assert n >= 80, "%s: expected ~200 samples with a Python frame %s, got %d;\n%s" % (
        features.py.label, fn, n, top_stacks(features.stacks))
    if caller and caller.startswith("BaseEventLoop.") and features.version < (3, 11):
        caller = caller.split(".")[1]                 # co_name before 3.11
    roots = collections.Counter()
    bad = []
    for c, s in stacks:
        names = [f["name"] for f in py_frames(s)]
        roots[names[0]] += c
        if caller and caller not in names:
            bad.append((c, s))
        if fn == "thread_work" and ("<module>" in names or "main_thread_work" in names):
            bad.append((c, s))
    assert features.total(bad) <= 0.1 * n, (
        "%s: %s's stacks should %s; %d of %d do not:\n%s" % (
            features.py.label, fn,
            "run from %s up to <module>" % caller if caller
            else "be the worker thread's own (no <module>, no main_thread_work)",
            features.total(bad), n, top_stacks(bad)))
    want_root = "Thread._bootstrap" if fn == "thread_work" else "<module>"
    if fn == "thread_work" and features.version < (3, 11):
        want_root = "_bootstrap"
    assert roots[want_root] >= 0.9 * n, (
        "%s: %s's stacks should start at %s, roots seen: %s" % (
            features.py.label, fn, want_root, roots.most_common(5)))


@pytest.fixture(scope="module")
def live_threads(features):
    """pyfeatures.py again under `treeprof live`, which shows each sample's thread id."""
    tmp = os.path.join(features.tmp, "live")
    os.makedirs(tmp, exist_ok=True)
    r = run([TREEPROF, "live", "-F", "499", "--"]
            + features.py.cmd("pyfeatures.py", "--out", "{out}/pf.json", out=tmp),
            timeout=90)
    with open(os.path.join(tmp, "pf.json")) as f:
        info = json.load(f)
    return info, live_samples(r.stdout), r.stdout


def test_two_threads_sampled_with_python_frames(features, live_threads):
    info, samples, out = live_threads
    mine = [(tid, names) for pid, tid, names in samples if pid == info["pid"]]
    per_tid = collections.Counter()
    where = collections.defaultdict(collections.Counter)
    for tid, names in mine:
        for fn in ("thread_work", "main_thread_work"):
            if fn in names:
                where[fn][tid] += 1
        per_tid[tid] += 1
    tail = "\n".join(l for l in out.splitlines() if "thread_work" in l)[-1500:]
    for fn, tid in (("thread_work", info["thread_tid"]), ("main_thread_work", info["main_tid"])):
        seen = where[fn]
        assert seen[tid] >= 30, (
            "%s: expected ~120 live samples of tid %d in %s (0.25 s at 499 Hz), got %d;"
            " %s seen in tids %s; samples per tid: %s\n%s" % (
                features.py.label, tid, fn, seen[tid], fn, dict(seen), dict(per_tid), tail))
        others = sum(v for t, v in seen.items() if t != tid)
        assert others <= 0.05 * seen[tid], (
            "%s: %s runs in tid %d only, but samples show it in %s" % (
                features.py.label, fn, tid, dict(seen)))


# ---------------------------------------------------------------- CPU shares

def test_cpu_share_three_to_one(tmp):
    py = interpreter("pyenv-3.11")
    data = os.path.join(tmp, "s.data")
    run([TREEPROF, "record", "-q", "-F", "999", "-o", data, "--"]
        + py.cmd("shares.py", "--seconds", "3", out=tmp), timeout=60)
    rep = report_json(data)
    three = one = 0
    for c, s in stacks_of(rep):
        names = {f["name"] for f in py_frames(s) if is_ours(f, "shares.py")}
        three += c if "three_quarters" in names else 0
        one += c if "one_quarter" in names else 0
    assert three + one >= 1500, "expected ~3000 samples in the two functions, got %d + %d" % (
        three, one)
    share = 100.0 * three / (three + one)
    assert abs(share - 75.0) <= 3.0, (
        "expected three_quarters on 75%% +- 3 of the samples (one_quarter 25%%), got"
        " %.1f%% / %.1f%% (%d / %d samples)" % (share, 100 - share, three, one))


# ---------------------------------------------------------------- mixed versions in a tree

def record_mixed(tmp, py, child, seconds):
    """Record mixed_parent.py run by interpreter py with child (an interpreter's path) for
    seconds: ({role: (pid, ppid, "3.X")} from its manifest, the JSON report)."""
    data = os.path.join(tmp, "m.data")
    run([TREEPROF, "record", "-q", "-F", "999", "-o", data, "--"]
        + py.cmd("mixed_parent.py", "--child", child, "--seconds", seconds,
                 "--manifest", "{out}/manifest", out=tmp), timeout=60)
    rows = {}
    with open(os.path.join(tmp, "manifest")) as f:
        for line in f:
            role, pid, ppid, ver = line.split()
            rows[role] = (int(pid), int(ppid), ver)
    return rows, report_json(data)


@pytest.mark.parametrize("parent,child", [("pyenv-3.13", "pyenv-3.8"),
                                          ("debian-3.11", "pyenv-3.10"),
                                          ("sid-3.14", "sid-3.13")])
def test_mixed_version_parent_and_child(tmp, parent, child):
    ppy, cpy = interpreter(parent), interpreter(child)
    assert ppy.root == cpy.root, "parent and child must run in the same place"
    rows, rep = record_mixed(tmp, ppy, cpy.exe, "1.0")
    assert rows["parent"][2] == "3.%d" % ppy.minor and rows["child"][2] == "3.%d" % cpy.minor
    procs = {p["pid"]: p for p in rep["processes"]}
    for role, hot, other in (("parent", "parent_version_hot", "child_version_hot"),
                             ("child", "child_version_hot", "parent_version_hot")):
        pid, ppid, ver = rows[role]
        assert pid in procs, "%s (Python %s) pid %d missing from the recording (have %s)" % (
            role, ver, pid, sorted(procs))
        if role == "child":
            assert procs[pid]["ppid"] == rows["parent"][0], (
                "child %d: expected parent %d, recorded %d" % (pid, rows["parent"][0],
                                                               procs[pid]["ppid"]))
        stacks = stacks_of(rep, pid)
        total = sum(c for c, _ in stacks)
        leafs = collections.Counter()
        for c, s in stacks:
            py = py_frames(s)
            leafs[(py[-1]["name"], os.path.basename(py[-1]["file"] or "")) if py
                  else "(no Python frame)"] += c
        got = leafs[(hot, "mixed_parent.py")]
        assert got >= 0.6 * total and got >= 300, (
            "%s on Python %s (pid %d): expected its own %s as leaf Python frame in most of"
            " its ~1000 samples, got %d of %d; leaves: %s" % (
                role, ver, pid, hot, got, total, leafs.most_common(6)))
        assert leafs[(other, "mixed_parent.py")] == 0, (
            "%s pid %d shows the other process's %s: %s" % (role, pid, other,
                                                          leafs.most_common(6)))


def test_short_lived_processes_have_python_frames_from_the_start(tmp):
    """A parent and a child living ~0.2 s each (0.1 s of CPU in their hot function, after
    ~20 ms of interpreter start-up and imports, which run Python code too): nearly every
    sample must have Python frames -- not only those taken once treeprof has got round to
    the new process -- and they must be symbolized, not left as [unknown] because the
    process is gone by the time its code objects are looked at."""
    py = interpreter("pyenv-3.11")
    rows, rep = record_mixed(tmp, py, py.exe, "0.1")
    pids = {role: row[0] for role, row in rows.items()}
    problems = []
    for role, hot in (("child", "child_version_hot"), ("parent", "parent_version_hot")):
        leafs = collections.Counter()
        for c, s in stacks_of(rep, pids[role]):
            py_ = py_frames(s)
            leafs[py_[-1]["name"] if py_ else "(no Python frame)"] += c
        total = sum(leafs.values())
        with_py = total - leafs["(no Python frame)"]
        if with_py < 0.75 * total:
            problems.append("%s %d: expected >= 75%% of its samples with Python frames, got"
                            " %d of %d" % (role, pids[role], with_py, total))
        if leafs[hot] < 60:
            problems.append("%s %d: expected ~100 samples with leaf Python frame %s (0.1 s"
                            " of CPU), got %d" % (role, pids[role], hot, leafs[hot]))
        if problems and problems[-1].startswith(role):
            problems.append("    %s leaves: %s" % (role, leafs.most_common(5)))
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------- the whole tree

TREE_HOT = {"parent": "parent_hot", "fork": "fork_worker_hot", "grandchild": "grandchild_hot",
            "spawn": "spawn_worker_hot", "forkserver": "forkserver_worker_hot",
            "exec": "exec_helper_hot", "late": "late_child_hot", "short": "short_child_hot"}


def own_function(stack):
    """The workload function a sample is in: its leaf Python frame, or, when that is
    tree.py's shared spin_until, spin_until's caller."""
    py = py_frames(stack)
    while py and py[-1]["name"] == "spin_until":
        py = py[:-1]
    return py[-1]["name"] if py else None


def test_tree_each_process_tops_in_its_own_function(tmp):
    py = interpreter("pyenv-3.11")
    data, manifest = os.path.join(tmp, "t.data"), os.path.join(tmp, "manifest")
    run([TREEPROF, "record", "-q", "-F", "999", "-o", data, "--"]
        + py.cmd("tree.py", "--manifest", "{out}/manifest", "--seconds", "1.0", out=tmp),
        timeout=90)
    rep = report_json(data)
    rows = read_manifest(manifest)
    short = collections.Counter()
    for role, pid, _ in rows:
        fns = collections.Counter()
        for c, s in stacks_of(rep, pid):
            fns[own_function(s)] += c
        if role == "short":
            short.update(fns)
            continue
        top = fns.most_common(1)[0] if fns else (None, 0)
        total = sum(fns.values())
        assert top[0] == TREE_HOT[role] and top[1] >= 0.5 * total, (
            "%s process %d: expected %s as its top Python function (>= half of its samples),"
            " got %s; functions: %s" % (role, pid, TREE_HOT[role], top,
                                        fns.most_common(6)))
    top = short.most_common(1)[0] if short else (None, 0)
    assert top[0] == "short_child_hot", (
        "the 20 short children together: expected short_child_hot on top, got %s" %
        short.most_common(6))

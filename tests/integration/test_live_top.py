"""Live output and the top view: every process of a real tree streamed as text or JSON Lines,
output that never blocks the tracer, and a full-screen top driven with keys under tmux."""
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import time

from conftest import (TREEPROF, WORKLOADS, host_python, live_samples, need, read_manifest,
                      report_json, run, wait_for)

TREE = os.path.join(WORKLOADS, "tree.py")
# tree.py's hot function labelled as in the text report: the file as recorded, a full path
SPIN_LABEL = "spin_until (%s)" % TREE
KINDS = {"python", "native", "kernel"}


def tree_argv(manifest, seconds):
    return [host_python(), TREE, "--manifest", manifest, "--seconds", str(seconds)]


def roles(manifest):
    out = {}
    for role, pid, _ in read_manifest(manifest):
        out.setdefault(role, []).append(pid)
    return out


def spin_shown(screen, cols):
    """Whether a top screen cols wide shows tree.py's hot function in its FUNCTION pane: a
    row has 16 columns of shares, the label, and its last column blank (a long path is cut)."""
    return SPIN_LABEL[:cols - 17] in screen


def check_frame(f, where):
    assert set(f) - {"mangled"} == {"kind", "name", "file", "line"}, \
        "%s: frame keys %s" % (where, sorted(f))  # mangled: a C++ symbol, when demangled
    assert isinstance(f.get("mangled", ""), str), "%s: mangled %r" % (where, f["mangled"])
    assert f["kind"] in KINDS, "%s: frame kind %r" % (where, f["kind"])
    assert isinstance(f["name"], str) and f["name"], "%s: frame name %r" % (where, f["name"])
    assert f["file"] is None or isinstance(f["file"], str), "%s: file %r" % (where, f["file"])
    assert isinstance(f["line"], int) and f["line"] >= 0, "%s: line %r" % (where, f["line"])


SCHEMA = {  # type -> required keys and their types
    "sample": {"t": float, "pid": int, "tid": int, "cpu": int, "comm": str, "frames": list},
    "start": {"t": float, "pid": int, "ppid": int, "comm": str, "cmdline": str},
    "exec": {"t": float, "pid": int, "ppid": int, "comm": str, "cmdline": str},
    "exit": {"t": float, "pid": int, "ppid": int, "comm": str, "cmdline": str,
             "exit_code": int},
    "summary": {"t": float, "seconds": float, "samples": int, "top": list},
    "folded": {"t": float, "samples": int, "events": int, "top": list},
}


def check_object(o, n):
    where = "line %d (%s)" % (n, str(o)[:200])
    assert o.get("type") in SCHEMA, "%s: unknown type" % where
    for key, typ in SCHEMA[o["type"]].items():
        assert key in o, "%s: no %r" % (where, key)
        ok = isinstance(o[key], (int, float)) if typ is float else isinstance(o[key], typ)
        assert ok and not (typ is int and isinstance(o[key], bool)), \
            "%s: %r is %r, expected %s" % (where, key, o[key], typ.__name__)
    for f in o.get("frames", []):
        check_frame(f, where)
    for e in o.get("top", []):
        assert isinstance(e["count"], int) and e["count"] > 0, where
        for f in e["frames"]:
            check_frame(f, where)


def test_live_json_lines_hold_every_process_and_event(tmp):
    manifest, out = os.path.join(tmp, "manifest"), os.path.join(tmp, "live.jsonl")
    with open(out, "w") as f:
        r = subprocess.run([TREEPROF, "live", "--json", "-F", "999", "--"]
                           + tree_argv(manifest, 1.0), stdout=f, stderr=subprocess.PIPE,
                           text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    objs = []
    with open(out, encoding="utf-8") as f:  # strict UTF-8: invalid bytes must be escaped
        for n, line in enumerate(f, 1):
            assert line.endswith("\n"), "line %d is cut: %r" % (n, line[-200:])
            objs.append(json.loads(line))
            check_object(objs[-1], n)
    by_type = {}
    for o in objs:
        by_type.setdefault(o["type"], []).append(o)
    assert set(by_type) <= {"sample", "start", "exec", "exit"}, sorted(by_type)
    sampled = {o["pid"] for o in by_type["sample"]}
    started = {o["pid"] for o in by_type["start"]}
    exited = {o["pid"] for o in by_type["exit"]}
    got = roles(manifest)
    for role, pids in got.items():
        for pid in pids:
            assert pid in sampled, "%s %d has no sample line" % (role, pid)
    for pid in got["short"]:
        assert pid in started and pid in exited, "short child %d: start %s, exit %s" % (
            pid, pid in started, pid in exited)
    assert any(o["pid"] == got["exec"][0] for o in by_type["exec"]), "no exec event"
    # Frames are leaf first: the fork worker's innermost Python frame is mostly spin_until,
    # called by fork_worker_hot (a sample can also land in fork_worker_hot itself).
    fork = got["fork"][0]
    hot = [[f["name"] for f in o["frames"] if f["kind"] == "python"]
           for o in by_type["sample"] if o["pid"] == fork]
    hot = [n for n in hot if "fork_worker_hot" in n]
    assert hot, "no fork_worker_hot sample for the fork worker %d" % fork
    leaf_first = [n for n in hot if n[:2] == ["spin_until", "fork_worker_hot"]]
    assert len(leaf_first) >= 0.5 * len(hot), (
        "expected spin_until < fork_worker_hot (leaf first) in most samples, %d of %d: %s"
        % (len(leaf_first), len(hot), hot[:3]))
    times = [o["t"] for o in objs]
    assert all(t >= 0 for t in times) and max(times) < 60


def test_live_every_and_interval_print_aggregates(tmp):
    manifest = os.path.join(tmp, "manifest")
    r = run([TREEPROF, "live", "--every", "100", "-F", "499", "--"] + tree_argv(manifest, 1.0))
    aggs = [l for l in r.stdout.splitlines() if re.match(r"\s*[\d.]+ -- \d+ samples in ", l)]
    assert not live_samples(r.stdout), "per-sample lines printed with --every"
    counts = [int(l.split()[2]) for l in aggs]
    assert len(aggs) >= 5 and all(c == 100 for c in counts[:-1]), aggs[:3]
    assert any("fork_worker_hot" in l for l in aggs), aggs[:3]
    assert "-- exit (status" in r.stdout, "process events are still printed"

    r = run([TREEPROF, "live", "--interval", "0.5", "--json", "-F", "199", "--"]
            + tree_argv(manifest, 1.0))
    objs = [json.loads(l) for l in r.stdout.splitlines()]
    summ = [o for o in objs if o["type"] == "summary"]
    assert len(summ) >= 3, "one summary per 0.5 s expected, got %d" % len(summ)
    for n, o in enumerate(summ):
        check_object(o, n)
        assert 0.3 < o["seconds"] < 1.2 or o is summ[-1], o["seconds"]
    assert not [o for o in objs if o["type"] == "sample"]


def test_live_slow_reader_folds_lines_and_records_everything(tmp):
    """A reader taking a line every 50 ms while ~2000 samples/s arrive: treeprof must not
    wait for it (it ends with the tree), say how many lines it folded, and -o still holds
    every sample the kernel sent."""
    manifest, data = os.path.join(tmp, "manifest"), os.path.join(tmp, "burst.data")
    seconds = 3.0
    t0 = time.monotonic()
    p = subprocess.Popen([TREEPROF, "live", "-F", "999", "-o", data, "--"]
                         + tree_argv(manifest, seconds),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines = []
    try:
        while p.poll() is None and time.monotonic() - t0 < 40:
            line = p.stdout.readline()
            if not line:
                break
            lines.append(line)
            time.sleep(0.05)
        ended = time.monotonic() - t0
        lines += p.stdout.read().splitlines(True)
        err = p.stderr.read().decode()
        p.wait(10)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    # The tree runs about seconds + 1.5 s; a blocked treeprof would need minutes.
    assert ended < seconds + 8, "treeprof took %.1f s for a %.1f s tree" % (ended, seconds)
    assert len(lines) < 1500, "the slow reader cannot have read %d lines" % len(lines)
    text = b"".join(lines).decode("utf-8", "replace")
    notes = re.findall(r"\.\.\. (\d+) samples folded \(terminal too slow\)", text)
    assert notes, "no folded-lines notice in the output:\n" + text[-2000:]
    assert re.search(r"\d+ samples and \d+ events folded", err), err
    rep = report_json(data)
    st = rep["stats"]
    recorded = sum(s["count"] for s in rep["stacks"])
    assert st["ringbuf_drops"] == 0, st
    assert recorded == st["bpf_samples"] > 3000, (recorded, st["bpf_samples"])
    assert recorded > len(lines) + sum(int(n) for n in notes) - 1


def test_top_prints_plain_snapshots_when_not_a_tty(tmp):
    manifest = os.path.join(tmp, "manifest")
    r = run([TREEPROF, "top", "--interval", "0.5", "-F", "199", "--"]
            + tree_argv(manifest, 1.5))
    assert "\x1b" not in r.stdout, "escape sequences in a non-TTY snapshot"
    snaps = [s for s in r.stdout.split("\n\n") if s.strip()]
    assert len(snaps) >= 4, "expected a snapshot per 0.5 s, got %d" % len(snaps)
    assert all(s.startswith("treeprof top") for s in snaps), snaps[0][:200]
    text = r.stdout
    for role, pids in roles(manifest).items():
        if role != "short":
            assert any(re.search(r"^[ *]\s*%d " % pid, text, re.M) for pid in pids), \
                "%s process %s in no snapshot" % (role, pids)
    assert spin_shown(text, 100), text[-2000:]  # plain snapshots are 100 columns
    assert re.search(r"samples/s .* drops \d+ .*procs \d+ alive/\d+ seen", snaps[0])


# ---------------------------------------------------------------- top on a terminal (tmux)

class Tmux:
    """A private tmux server (its own socket, no config) with one 80x24 shell window."""

    def __init__(self, tmp):
        self.sock = "treeprof-test-%d-%d" % (os.getpid(), time.monotonic_ns())
        self.tmp = tmp
        self.cmd("new-session", "-d", "-x", "80", "-y", "24", "/bin/sh")

    def cmd(self, *args):
        return run(["tmux", "-L", self.sock, "-f", "/dev/null"] + list(args),
                   env=dict(os.environ, PS1="$ ")).stdout

    def keys(self, *keys):
        self.cmd("send-keys", "-t", "0", *keys)

    def screen(self, history=False):
        """The visible pane; with history, the lines scrolled off above it too (the
        alternate screen of a full-screen program never goes there)."""
        return self.cmd("capture-pane", "-p", "-t", "0", *(["-S", "-"] if history else []))

    def wait(self, pred, timeout, what, history=False):
        last = [""]

        def ok():
            last[0] = self.screen(history)
            return pred(last[0])
        try:
            wait_for(ok, timeout, what)
        except AssertionError:
            raise AssertionError("timed out waiting for %s; the screen:\n%s" % (what, last[0]))
        return last[0]

    def close(self):
        subprocess.run(["tmux", "-L", self.sock, "kill-server"], capture_output=True)


@contextlib.contextmanager
def top_in_tmux(tmp, seconds=12, argv=None, opts=""):
    """`treeprof top OPTS` on tree.py (its manifest in tmp), or on argv, in a private tmux
    terminal: yields (tm, manifest, before, after), before and after the files the
    terminal's modes are saved in as top starts and once it has ended. Closes the terminal
    and kills the tree at the end, whatever happened (argv must end by itself)."""
    need(shutil.which("tmux"), "tmux")
    manifest = os.path.join(tmp, "manifest")
    tm = Tmux(tmp)
    try:
        before, after = os.path.join(tmp, "stty.before"), os.path.join(tmp, "stty.after")
        # stderr (treeprof's and the tree's: tracebacks after Ctrl-C) to a file, off the screen
        tm.keys("stty -g > %s; %s top %s -- %s 2>%s; echo TOP-EXIT-$?; stty -g > %s" % (
            before, TREEPROF, opts, " ".join(argv or tree_argv(manifest, seconds)),
            os.path.join(tmp, "stderr"), after), "Enter")
        yield tm, manifest, before, after
    finally:
        tm.close()
        kill_tree(manifest)


def selected(screen):
    m = re.search(r"selected: (\d+)", screen)
    return int(m.group(1)) if m else None


def rows(screen):
    """pids of the process list, top to bottom."""
    out = []
    for line in screen.splitlines():
        m = re.match(r"[ *]\s*(\d+)\s+(\d+)\s+[\d.]+\s+\d+  ", line)
        if m:
            out.append(int(m.group(1)))
    return out


def kill_tree(manifest):
    if os.path.exists(manifest):
        for _, pid, _ in read_manifest(manifest):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def check_restored(tm, before, after):
    # With history: whatever the tree printed last may have scrolled it away.
    screen = tm.wait(lambda s: re.search(r"TOP-EXIT-\d", s), 10, "treeprof to exit",
                     history=True)
    wait_for(lambda: os.path.exists(after) and os.path.getsize(after), 5, "stty after")
    with open(os.path.join(tm.tmp, "stderr"), errors="replace") as f:
        err = f.read()
    assert re.search(r"TOP-EXIT-0\b", screen), screen + "\nstderr:\n" + err[-2000:]
    assert not re.search(r"treeprof top  \d", screen), "the top screen was not left:\n" + screen
    with open(before) as b, open(after) as a:
        assert b.read() == a.read(), "terminal modes not restored"


def test_top_on_a_terminal_shows_the_tree_and_follows_keys(tmp):
    with top_in_tmux(tmp) as (tm, manifest, before, after):
        main = ("parent", "fork", "spawn", "forkserver", "exec")
        wait_for(lambda: os.path.exists(manifest) and all(r in roles(manifest) for r in main),
                 20, "the workers to start")
        fork = roles(manifest)["fork"][0]
        pids = [roles(manifest)[r][0] for r in main]
        screen = tm.wait(lambda s: spin_shown(s, 80) and set(pids) <= set(rows(s)),
                         15, "the tree's processes and their hot function on screen")
        lines = screen.splitlines()
        assert len(lines) <= 24 and all(len(l) <= 80 for l in lines), screen
        assert re.search(r"procs \d+ alive/\d+ seen", screen), screen

        tm.keys("s")  # sort by pid: a stable order to walk
        screen = tm.wait(lambda s: "sort: pid" in s, 5, "sort by pid")
        order = rows(screen)
        tm.keys("j")
        screen = tm.wait(lambda s: selected(s) != order[0], 5, "j to move the selection")
        assert selected(screen) == rows(screen)[1], screen
        tm.keys("k")
        tm.wait(lambda s: selected(s) == rows(s)[0], 5, "k to move it back")
        # Walk down to the fork worker and focus it.
        for _ in range(30):
            screen = tm.screen()
            if selected(screen) == fork:
                break
            tm.keys("j")
            time.sleep(0.15)
        assert selected(screen) == fork, screen
        tm.keys("Enter")
        # Its own functions: fork_worker, and fork_worker_hot where the rows reach it (with
        # 20+ samples in the window every frame but the leaf is on every stack, so the hot
        # path is just "spin_until" and the list of nine 100% functions may end before it).
        screen = tm.wait(lambda s: "FUNCTION (pid %d" % fork in s and "fork_worker" in s,
                         5, "the fork worker's functions")
        assert "view: pid %d" % fork in screen
        tm.keys("t")
        screen = tm.wait(lambda s: "FUNCTION (whole tree" in s, 5, "t back to the tree")
        tm.keys("q")
        check_restored(tm, before, after)


def test_top_ctrl_c_and_resize_restore_the_terminal(tmp):
    with top_in_tmux(tmp) as (tm, manifest, before, after):
        tm.wait(lambda s: "spin_until" in s, 20, "top to draw")
        tm.cmd("resize-window", "-t", "0", "-x", "60", "-y", "15")
        screen = tm.wait(lambda s: len(s.splitlines()) <= 15 and "treeprof top" in s
                         and all(len(l) < 60 for l in s.splitlines()), 5, "a redraw at 60x15")
        tm.keys("C-c")
        check_restored(tm, before, after)


PATH_ROW = re.compile(r"^\s+([\d.]+)%  (\S.*)$")


def hot_paths(screen):
    """The hot call paths under the functions: {path: share}."""
    lines = screen.splitlines()
    start = next((i for i, ln in enumerate(lines) if "hot call paths" in ln), len(lines))
    out = {}
    for ln in lines[start + 1:]:
        m = PATH_ROW.match(ln)
        if not m:
            break
        out[m.group(2)] = float(m.group(1))
    return out


def test_top_shows_the_hot_call_paths_of_the_window(tmp):
    """hot_paths.py: main runs parent_share_major 3/4 of the time and parent_share_minor 1/4,
    both in spin(); <module>, main and main_for are on every stack and left out of the
    paths."""
    argv = [host_python(), os.path.join(WORKLOADS, "hot_paths.py"), "12"]
    both = ("spin < parent_share_major", "spin < parent_share_minor")
    with top_in_tmux(tmp, argv=argv, opts="-F 499") as (tm, _, before, after):
        screens = [tm.wait(lambda s: set(both) <= set(hot_paths(s)), 20, "both hot paths")]
        for _ in range(2):  # three windows: one is ~500 samples, three make the ratio firm
            time.sleep(1.1)
            screens.append(tm.screen())
        paths = [hot_paths(s) for s in screens]
        for s, p in zip(screens, paths):
            everywhere = {"<module>", "main", "main_for"}
            assert not [k for k in p if everywhere & set(k.split(" < "))], s
            assert s.index("FUNCTION (") < s.index("hot call paths"), s
        major = sum(p.get(both[0], 0) for p in paths)
        minor = sum(p.get(both[1], 0) for p in paths)
        assert minor and 2.0 <= major / minor <= 4.5, paths
        tm.keys("q")
        check_restored(tm, before, after)


FOLD_ROW = re.compile(r"^\s+-\s+-\s+([\d.]+)\s+(\d+)  (\d+) short-lived: (.+)$", re.M)


def test_top_folds_short_lived_helpers_into_one_unselectable_row(tmp):
    """short_helpers.py starts a ~30 ms `sh -c` helper five times a second: each window
    shows several exited ones, which must be one "N short-lived: sh xN" row, never listed
    one by one, and the selection must stay on real processes."""
    argv = [host_python(), os.path.join(WORKLOADS, "short_helpers.py"), "14"]
    with top_in_tmux(tmp, argv=argv, opts="-F 499") as (tm, _, before, after):
        tm.wait(lambda s: FOLD_ROW.search(s), 20, "a short-lived row")
        seen = 0
        for _ in range(4):
            screen = tm.screen()
            m = FOLD_ROW.search(screen)
            exited = [ln for ln in screen.splitlines() if "(exited) sh -c" in ln]
            if m:
                seen += 1
                n, names = int(m.group(3)), m.group(4).strip().split(", ")
                assert n >= 2 and int(m.group(2)) > 0, screen
                assert sum(int(x.rsplit(" x", 1)[1]) for x in names) == n, screen
                assert "sh x" in m.group(4), screen
                assert not exited, "an exited helper listed besides the folded row:\n" + screen
            assert len(exited) <= 1, "helpers listed one by one:\n" + screen
            assert len(rows(screen)) <= 3, "the helpers are not folded:\n" + screen
            time.sleep(1.1)
        assert seen >= 2, "the short-lived row came and went: %d of 4 screens" % seen
        for _ in range(6):  # walk down past the end: the folded row is never selected
            tm.keys("j")
            time.sleep(0.1)
        screen = tm.screen()
        assert selected(screen) in rows(screen), screen
        tm.keys("Enter")
        # Focus goes to a process, never the folded row. Not necessarily the one selected
        # now: the last row may be a live helper that exits within ms, and the selection
        # then moves to its parent while the view stays on it.
        screen = tm.wait(lambda s: re.search(r"FUNCTION \(pid \d+ ", s), 5, "focus")
        tm.keys("q")
        check_restored(tm, before, after)

"""Where -o writes, the same rule for record, live, top and report (README, "Where -o
writes"): a character device or a FIFO is written in place and stays what it was, `-o -` is
standard output, a regular file is replaced by a rename, binary output refuses a terminal,
and a link, a directory, a missing directory or a read-only file system is refused with one
line before anything is traced."""
import json
import os
import pty
import select
import signal
import stat
import subprocess
import threading
import time

import pytest

from conftest import TREEPROF, host_python, run

TRACE = ("record", "live", "top")
ALL = TRACE + ("report",)
MARK = "child-says-hi"
# A short CPU-bound Python child that prints one line on its standard output.
SPIN = ("import sys, time\nprint(%r, flush=True)\nt = time.time()\n"
        "while time.time() - t < float(sys.argv[1]): pass\n" % MARK)
END = b"\x09\x00\x00\x00\x00\x00\x00\x00"  # the END record's type and length


def spin(seconds=0.3):
    return [host_python(), "-c", SPIN, str(seconds)]


def argv(cmd, out, child=None, rec=None, fmt="text"):
    """treeprof argv writing cmd's -o output to out (report reads rec)."""
    if cmd == "report":
        return [TREEPROF, "report", rec, "--format", fmt, "-o", out]
    extra = {"record": ["-q", "-F", "199"], "live": ["-F", "99"],
             "top": ["-F", "99", "--interval", "0.2"]}[cmd]
    return [TREEPROF, cmd] + extra + ["-o", out, "--"] + (child or spin())


def lines(text):
    return [l for l in text.splitlines() if l.strip()]


def check_recording(data, tmp, what):
    """data (bytes) is a whole recording that report reads in full: the report's json."""
    assert data.startswith(b"TREEPROF"), "%s: not a recording: %r" % (what, data[:32])
    assert data[-12:-4] == END, "%s: the recording does not end with its END record" % what
    path = os.path.join(tmp, "got.data")
    with open(path, "wb") as f:
        f.write(data)
    r = run([TREEPROF, "report", path, "--format", "json"])
    assert "cut short" not in r.stderr, "%s: %s" % (what, r.stderr)
    rep = json.loads(r.stdout)
    assert rep["processes"], "%s: no process in the recording" % what
    return rep


@pytest.fixture(scope="module")
def rec(tmp_path_factory):
    """A small recording for the report cases."""
    path = str(tmp_path_factory.mktemp("outputs") / "rec.data")
    run([TREEPROF, "record", "-q", "-F", "199", "-o", path, "--"] + spin())
    return path


@pytest.fixture
def mnt(tmp):
    """mnt(ro=False): a fresh small tmpfs under tmp (devices allowed, unlike a nodev /tmp),
    unmounted afterwards."""
    made = []

    def mount(ro=False):
        d = os.path.join(tmp, "mnt%d" % len(made))
        os.mkdir(d)
        run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=755" + (",ro" if ro else ""),
             "tmpfs", d])
        made.append(d)
        return d

    yield mount
    for d in made:
        subprocess.run(["umount", d], check=False)


class Reader(threading.Thread):
    """Reads a FIFO (or a pipe end) to its end, as the program on its other end would."""

    def __init__(self, path=None, fileobj=None):
        super().__init__(daemon=True)
        self.path, self.fileobj, self.data = path, fileobj, b""
        self.start()

    def run(self):
        f = self.fileobj or open(self.path, "rb")
        with f:
            self.data = f.read()

    def result(self):
        self.join(30)
        assert not self.is_alive(), "the reader never saw the end of the output"
        return self.data


def leftovers(d):
    return [n for n in os.listdir(d) if ".tmp." in n]


# ---------------------------------------------------------------- a character device

@pytest.mark.parametrize("cmd", ALL)
def test_character_device_is_written_in_place_and_stays_a_device(cmd, tmp, mnt, rec):
    d = mnt()
    null = os.path.join(d, "null")
    os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    os.chmod(null, 0o666)  # past the umask
    r = run(argv(cmd, null, rec=rec), check=False)
    assert r.returncode == 0, "%s -o NULL-CLONE exited %d: %s" % (cmd, r.returncode, r.stderr)
    st = os.lstat(null)
    assert stat.S_ISCHR(st.st_mode), "%s replaced the device with mode %o" % (cmd, st.st_mode)
    assert st.st_rdev == os.makedev(1, 3), "device numbers changed: %x" % st.st_rdev
    assert stat.S_IMODE(st.st_mode) == 0o666 and st.st_uid == 0, "the device was chmod/chown'd"
    assert leftovers(d) == [], "temporary files left: %s" % leftovers(d)


def test_record_to_a_device_still_prints_the_summary(tmp, mnt):
    d = mnt()
    null = os.path.join(d, "null")
    os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    r = run([TREEPROF, "record", "-F", "199", "-o", null, "--"] + spin())
    assert "Processes" in r.stdout and MARK in r.stdout, r.stdout[-2000:]


def test_under_sudo_a_created_file_is_given_away_a_device_never(tmp, mnt):
    d = mnt()
    null, data = os.path.join(d, "null"), os.path.join(d, "x.data")
    os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    os.chmod(null, 0o666)
    env = dict(os.environ, SUDO_UID="65534", SUDO_GID="65534")
    for out in (null, data):
        run([TREEPROF, "record", "-q", "-o", out, "--", "true"], env=env)
    st = os.lstat(null)
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, 0, 0o666), \
        "the device was given away: uid %d gid %d mode %o" % (st.st_uid, st.st_gid,
                                                              stat.S_IMODE(st.st_mode))
    st = os.lstat(data)
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (65534, 0o640), \
        "the recording file: uid %d mode %o" % (st.st_uid, stat.S_IMODE(st.st_mode))


# ---------------------------------------------------------------- a FIFO with a reader

@pytest.mark.parametrize("cmd", TRACE)
def test_fifo_reader_receives_the_whole_recording(cmd, tmp):
    fifo = os.path.join(tmp, "fifo")
    os.mkfifo(fifo)
    reader = Reader(fifo)
    r = run(argv(cmd, fifo), check=False)
    assert r.returncode == 0, "%s -o FIFO exited %d: %s" % (cmd, r.returncode, r.stderr)
    rep = check_recording(reader.result(), tmp, "%s -o FIFO" % cmd)
    assert sum(p["samples"] for p in rep["processes"]) > 0, "no samples came through"
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode), "the FIFO was replaced"
    assert leftovers(tmp) == []


def test_fifo_recording_of_a_run_stopped_with_sigint_reads_in_full(tmp):
    fifo = os.path.join(tmp, "fifo")
    os.mkfifo(fifo)
    target = subprocess.Popen(spin(30), stdout=subprocess.DEVNULL)
    try:
        reader = Reader(fifo)
        p = subprocess.Popen([TREEPROF, "record", "-F", "199", "-o", fifo, "-p",
                              str(target.pid)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        seen = ""
        end = time.monotonic() + 30
        while "recording at" not in seen and time.monotonic() < end:
            if select.select([p.stderr], [], [], 0.1)[0]:
                seen += p.stderr.readline()
        assert "recording at" in seen, "record never started: %s" % seen
        time.sleep(0.5)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=30)
        assert p.returncode == 0, "record stopped with SIGINT exited %d: %s" % (
            p.returncode, seen + err)
    finally:
        target.kill()
        target.wait()
    rep = check_recording(reader.result(), tmp, "record -o FIFO, SIGINT")
    procs = {q["pid"]: q for q in rep["processes"]}
    got = procs.get(target.pid, {}).get("samples", 0)
    assert got > 20, "the spinning target has %d samples in 0.5 s at 199 Hz" % got


@pytest.mark.parametrize("fmt", ["text", "pprof"])
def test_report_to_a_fifo(fmt, tmp, rec):
    fifo = os.path.join(tmp, "fifo")
    os.mkfifo(fifo)
    reader = Reader(fifo)
    run(argv("report", fifo, rec=rec, fmt=fmt))
    data = reader.result()
    if fmt == "pprof":
        assert data[:2] == b"\x1f\x8b", "not a gzip'd pprof: %r" % data[:16]
    else:
        assert b"Processes" in data, data[:500]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_fifo_without_a_reader_says_so(tmp):
    fifo = os.path.join(tmp, "fifo")
    os.mkfifo(fifo)
    marker = os.path.join(tmp, "traced")
    p = subprocess.Popen([TREEPROF, "record", "-q", "-o", fifo, "--", "touch", marker],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready = select.select([p.stderr], [], [], 10)[0]
        assert ready, "record -o FIFO without a reader said nothing for 10 s"
        line = p.stderr.readline()
        assert "waiting for a reader" in line and fifo in line, line
        assert p.poll() is None and not os.path.exists(marker), "traced before the reader came"
        reader = Reader(fifo)
        assert p.wait(30) == 0, p.stderr.read()
        check_recording(reader.result(), tmp, "record -o FIFO, reader came late")
    finally:
        p.kill()
        p.wait()


# ---------------------------------------------------------------- -o - (standard output)

def test_record_dash_pipes_into_report_stdin(tmp):
    rec = subprocess.Popen([TREEPROF, "record", "-F", "199", "-o", "-", "--"] + spin(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    rep = subprocess.run([TREEPROF, "report", "/dev/stdin", "--format", "folded"],
                         stdin=rec.stdout, capture_output=True, text=True, timeout=60)
    rec.stdout.close()
    err = rec.stderr.read().decode(errors="replace")
    assert rec.wait(30) == 0, err
    assert rep.returncode == 0 and "cut short" not in rep.stderr, rep.stderr
    assert "python" in rep.stdout, rep.stdout[:1000]
    # the child's own output and the summary went to stderr, not into the recording
    assert MARK in err and "Processes" in err, err[-2000:]


@pytest.mark.parametrize("cmd", ("live", "top"))
def test_view_moves_to_stderr_when_the_recording_takes_stdout(cmd, tmp):
    r = subprocess.run(argv(cmd, "-"), capture_output=True, timeout=60)
    err = r.stderr.decode(errors="replace")
    assert r.returncode == 0, err
    check_recording(r.stdout, tmp, "%s -o -" % cmd)
    assert MARK in err, "the child's output is not on stderr: %s" % err[-1000:]
    view = "treeprof top" if cmd == "top" else "-- exit"
    assert view in err, "the %s view is not on stderr: %s" % (cmd, err[-1000:])


def test_report_dash_is_stdout(rec):
    r = run([TREEPROF, "report", rec, "-o", "-"])
    assert "Processes" in r.stdout, r.stdout[:500]


# ---------------------------------------------------------------- binary output, terminal

def on_a_pty(args):
    """Run args with standard output on a pseudo-terminal that a thread keeps reading."""
    master, slave = pty.openpty()

    def drain():
        try:
            while os.read(master, 65536):
                pass
        except OSError:  # EIO: the last writer closed the terminal
            pass

    t = threading.Thread(target=drain, daemon=True)
    t.start()
    try:
        return subprocess.run(args, stdout=slave, stderr=subprocess.PIPE, text=True,
                              timeout=60)
    finally:
        os.close(slave)
        t.join(10)
        os.close(master)


@pytest.mark.parametrize("cmd", TRACE)
def test_recording_to_a_terminal_is_refused(cmd, tmp):
    marker = os.path.join(tmp, "traced")
    r = on_a_pty(argv(cmd, "-", child=["touch", marker]))
    assert r.returncode != 0, "%s -o - on a terminal exited 0" % cmd
    assert len(lines(r.stderr)) == 1 and "terminal" in r.stderr, r.stderr
    assert not os.path.exists(marker), "the command ran although the output was refused"


def test_binary_report_formats_refuse_a_terminal_text_does_not(rec):
    binary = []
    for fmt in ("text", "folded", "json", "pprof", "speedscope", "chrome", "html"):
        r = on_a_pty([TREEPROF, "report", rec, "--format", fmt, "-o", "-"])
        if r.returncode != 0:
            assert "binary" in r.stderr and len(lines(r.stderr)) == 1, r.stderr
            binary.append(fmt)
    assert binary == ["pprof"], "refused on a terminal: %s (expected pprof only)" % binary


# ---------------------------------------------------------------- regular files, links

@pytest.mark.parametrize("cmd", ALL)
def test_regular_file_is_replaced_by_rename_never_rewritten(cmd, tmp, rec):
    out, keep = os.path.join(tmp, "out"), os.path.join(tmp, "keep")
    with open(out, "w") as f:
        f.write("old\n")
    os.link(out, keep)  # the old inode, seen through a second name
    run(argv(cmd, out, rec=rec))
    assert open(keep).read() == "old\n", "the old file was written in place"
    assert os.stat(out).st_ino != os.stat(keep).st_ino, "the old file was not replaced"
    if cmd == "report":
        assert "Processes" in open(out).read()
    else:
        check_recording(open(out, "rb").read(), tmp, "%s -o FILE" % cmd)
    assert leftovers(tmp) == []


@pytest.mark.parametrize("cmd", TRACE)
def test_regular_file_survives_a_run_that_never_starts(cmd, tmp):
    out = os.path.join(tmp, "out")
    with open(out, "w") as f:
        f.write("old\n")
    ino = os.stat(out).st_ino
    r = run(argv(cmd, out, child=["/no/such/cmd"]), check=False)
    assert r.returncode != 0
    assert open(out).read() == "old\n" and os.stat(out).st_ino == ino, "the old file changed"
    assert leftovers(tmp) == []


@pytest.mark.parametrize("cmd", ALL)
def test_symbolic_link_is_refused(cmd, tmp, rec):
    target, link = os.path.join(tmp, "target"), os.path.join(tmp, "link")
    with open(target, "w") as f:
        f.write("keep\n")
    os.symlink(target, link)
    r = run(argv(cmd, link, rec=rec), check=False)
    assert r.returncode != 0, "%s -o LINK exited 0" % cmd
    assert len(lines(r.stderr)) == 1 and "symbolic link" in r.stderr, r.stderr
    assert os.path.islink(link) and open(target).read() == "keep\n"
    assert leftovers(tmp) == []


# ---------------------------------------------------------------- unwritable: one line

@pytest.mark.parametrize("case", ["directory", "missing directory", "read-only"])
@pytest.mark.parametrize("cmd", ALL)
def test_unwritable_output_gets_one_line_and_nothing_is_traced(cmd, case, tmp, mnt, rec):
    if case == "directory":
        out, why = tmp, "Is a directory"
    elif case == "missing directory":
        out, why = os.path.join(tmp, "no", "x"), "No such file or directory"
    else:
        out, why = os.path.join(mnt(ro=True), "x"), "Read-only file system"
    marker = os.path.join(tmp, "traced")
    r = run(argv(cmd, out, child=["touch", marker], rec=rec), check=False)
    assert r.returncode != 0, "%s -o %s exited 0" % (cmd, case)
    assert lines(r.stderr) == ["treeprof: cannot write %s: %s" % (out, why)], r.stderr
    assert not os.path.exists(marker), "the command ran although -o was unwritable"
    assert r.stdout == "", "%s printed: %s" % (cmd, r.stdout[:500])

"""Bad input: one clear line on stderr, a non-zero exit, nothing left attached."""
import os
import subprocess

from conftest import TREEPROF, run


def fails_with(args, *needles, **kw):
    r = run([TREEPROF] + args, check=False, **kw)
    assert r.returncode != 0, "expected failure for %s" % args
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert lines, "no message on stderr for %s" % args
    text = r.stderr.lower()
    for n in needles:
        assert n.lower() in text, "expected %r in stderr for %s, saw: %s" % (n, args, r.stderr)
    return r


def free_pid():
    pid = 4000000
    while os.path.exists("/proc/%d" % pid):
        pid -= 1
    return pid


def test_no_such_pid():
    r = fails_with(["record", "-p", str(free_pid())], "no such process")
    assert len(r.stderr.strip().splitlines()) == 1


def test_kernel_thread_refused():
    fails_with(["record", "-p", "2"], "kernel thread")


def test_frequency_out_of_range():
    fails_with(["record", "-F", "0", "-p", "1"], "-F")
    fails_with(["record", "-F", "100000", "-p", "1"], "-F")
    fails_with(["record", "-F", "abc", "-p", "1"], "-F")


def test_negative_duration():
    fails_with(["record", "-d", "-1", "-p", "1"], "-d")


def test_unwritable_output(tmp):
    fails_with(["record", "-o", os.path.join(tmp, "no", "such", "dir", "x.data"), "--",
                "true"], "cannot write")


def test_command_that_does_not_exist(tmp):
    fails_with(["record", "-o", os.path.join(tmp, "x.data"), "--", "/no/such/cmd"],
               "cannot run", "no such file")


def test_not_root():
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        "--inh-caps=-all", TREEPROF, "record", "-p", "1", "-o", "/tmp/x.data"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert "root" in r.stderr and "sudo" in r.stderr, r.stderr


def test_nothing_to_trace():
    fails_with(["record"], "-p PID")


def test_report_missing_file(tmp):
    fails_with(["report", os.path.join(tmp, "absent.data")], "absent.data")


def test_report_foreign_file(tmp):
    path = os.path.join(tmp, "foreign.data")
    with open(path, "w") as f:
        f.write("hello, this is not a recording\n" * 10)
    fails_with(["report", path], "not a treeprof recording")


def test_unknown_subcommand_and_format():
    fails_with(["frobnicate"], "unknown command")
    fails_with(["report", "--format", "svg", "x.data"], "unknown format")

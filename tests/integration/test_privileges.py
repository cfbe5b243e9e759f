"""Least privilege: under sudo, `record -- CMD` runs CMD as the user who ran sudo, not
root (unless --as-root), and the recording belongs to that user, unreadable by others."""
import os
import stat

from conftest import TREEPROF, report_json, run

NOBODY = 65534


def sudo_env():
    env = dict(os.environ)
    env.update(SUDO_UID=str(NOBODY), SUDO_GID=str(NOBODY), SUDO_USER="nobody")
    return env


def test_command_runs_as_the_sudo_user_and_owns_the_recording(tmp):
    os.chmod(tmp, 0o755)
    data = os.path.join(tmp, "p.data")
    r = run([TREEPROF, "record", "-q", "-o", data, "--", "id", "-u"], env=sudo_env())
    assert r.stdout.strip() == str(NOBODY), "CMD ran as uid %r" % r.stdout.strip()
    st = os.stat(data)
    assert st.st_uid == NOBODY and st.st_gid == NOBODY, "recording owned by %d:%d" % (
        st.st_uid, st.st_gid)
    assert not st.st_mode & stat.S_IROTH, "recording is world-readable: %o" % st.st_mode
    assert report_json(data)["processes"], "the recording is usable"


def test_as_root_keeps_root(tmp):
    data = os.path.join(tmp, "r.data")
    r = run([TREEPROF, "record", "-q", "--as-root", "-o", data, "--", "id", "-u"],
            env=sudo_env())
    assert r.stdout.strip() == "0"


def test_unprivileged_target_is_still_profiled_with_python_frames(tmp):
    os.chmod(tmp, 0o755)
    data = os.path.join(tmp, "u.data")
    prog = ("import time, os\n"
            "def as_user_hot():\n"
            "    t = time.monotonic()\n"
            "    while time.monotonic() - t < 0.5: pass\n"
            "print(os.getuid())\n"
            "as_user_hot()\n")
    # /usr/bin/python3: pyenv lives under /root, which nobody cannot enter.
    r = run([TREEPROF, "record", "-q", "-F", "499", "-o", data, "--", "/usr/bin/python3", "-c",
             prog], env=sudo_env())
    assert r.stdout.strip() == str(NOBODY)
    rep = report_json(data)
    names = {f["name"] for f in rep["frames"] if f["kind"] == "python"}
    assert "as_user_hot" in names, "Python frames of the unprivileged target: %s" % names

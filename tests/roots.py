#!/usr/bin/env python3
"""Debian root file systems for the per-version tests, built once and cached.

A root is a `debootstrap --variant=minbase` tree of a Debian suite with some Python
interpreters installed.  The test programs run inside a root with chroot, in a private
mount namespace (unshare -m) that has its own /proc, /dev and /dev/shm, much as a
container would; treeprof itself runs on the host and must reach the target's files
through /proc/PID/root.

Roots are cached under /var/cache/treeprof/roots/<name> (TREEPROF_ROOTS overrides the
directory), outside the clone, so that later runs on the same machine reuse them.  A root
is built into a temporary directory next to it and renamed into place once complete; its
stamp file (.treeprof-root.json) says what is in it.  An fcntl lock per root keeps two
test processes from building the same root at once: the second waits, then reuses it.

    python3 tests/roots.py build trixie sid     # build (or reuse) roots, print their stamps
    python3 tests/roots.py run sid -- python3.14 -c 'import sys; print(sys.version)'

Only the standard library is used, so this works with any Python 3.8+.
"""
import fcntl
import json
import os
import shlex
import shutil
import subprocess
import sys
import time

CACHE = os.environ.get("TREEPROF_ROOTS", "/var/cache/treeprof/roots")
STAMP = ".treeprof-root.json"
# The host's own mirror (/etc/apt/sources.list.d/debian.sources).
MIRROR = os.environ.get("TREEPROF_DEBIAN_MIRROR", "http://deb.debian.org/debian")
# sid's Release file is only valid for a week; a cached mirror or a skewed clock must not
# make apt refuse it.
APT_CONF = 'Acquire::Check-Valid-Until "false";\nAPT::Install-Recommends "false";\n'

# name -> suite, packages that must be installed, interpreters wanted (installed when
# the suite has them: which ones exist is recorded in the stamp).
ROOTS = {
    # The release treeprof is built on: tests/integration/test_install.py installs the
    # package there (python3 is 3.11).
    "bookworm": {
        "suite": "bookworm",
        "packages": [],
        "pythons": ["3.11"],
    },
    "trixie": {
        "suite": "trixie",
        "packages": ["python3.13", "python3-memray", "austin"],
        "pythons": ["3.13"],
    },
    "sid": {
        "suite": "sid",
        "packages": [],
        "pythons": ["3.13", "3.14", "3.15"],
    },
}


def logger(who):
    """A progress printer for stderr, "[who HH:MM:SS] msg" (roots here, kernels.py)."""
    def log(msg):
        sys.stderr.write("[%s %s] %s\n" % (who, time.strftime("%H:%M:%S"), msg))
        sys.stderr.flush()
    return log


log = logger("roots")


def root_path(name):
    return os.path.join(CACHE, name)


def read_stamp(path):
    """The JSON stamp file at path (a dict), or None when it is missing or unreadable:
    a cached tree is complete only once its stamp is written."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def stamp(name):
    """The stamp of a complete root (a dict), or None when it is not built."""
    return read_stamp(os.path.join(root_path(name), STAMP))


# ---------------------------------------------------------------- running inside a root

def chroot_argv(root, argv, binds=None, env=None, cwd="/"):
    """argv that runs `argv` chrooted into `root`, in a new private mount namespace with
    /proc, /dev (bind), /dev/pts and /dev/shm (tmpfs, for multiprocessing) mounted.

    binds maps host directories to paths inside the root (bind-mounted there).  The mounts
    live only in that namespace: they disappear when its last process exits, so nothing
    is left mounted on the host whatever happens to the command (no cleanup to forget).
    The pid stays the same across unshare, sh, chroot and the exec of argv, so this can
    follow `treeprof record --` directly."""
    root = os.path.abspath(root)
    binds = dict(binds or {})
    for d in ["proc", "dev", "tmp"] + [p.lstrip("/") for p in binds.values()]:
        os.makedirs(os.path.join(root, d), exist_ok=True)
    q = shlex.quote
    script = [
        "set -e",
        "mount -t proc proc %s" % q(root + "/proc"),
        "mount --rbind /dev %s" % q(root + "/dev"),
        "mount -t tmpfs -o mode=1777,nosuid,nodev shm %s" % q(root + "/dev/shm"),
    ]
    for host, inside in sorted(binds.items()):
        script.append("mount --bind %s %s" % (q(os.path.abspath(host)),
                                               q(root + "/" + inside.lstrip("/"))))
    envs = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": "/root", "LANG": "C.UTF-8"}
    envs.update(env or {})
    inner = " ".join(q(a) for a in argv)
    script.append("cd %s" % q(root))
    # The environment is cleared, as a container runtime would, except what a profiler sets
    # for its preloaded sampler (treeprof record --mem): passed on when present.
    keep = " ".join('${%s:+"%s=$%s"}' % (v, v, v) for v in ("LD_PRELOAD", "TREEPROF_MEM_SAMPLE"))
    script.append("exec chroot %s /usr/bin/env -i %s %s sh -c %s" % (
        q(root), " ".join(q("%s=%s" % kv) for kv in sorted(envs.items())), keep,
        q("cd %s && exec %s" % (q(cwd), inner))))
    # --propagation private: none of these mounts reach the host's namespace.
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", "\n".join(script)]


def run_in_root(root, argv, binds=None, env=None, cwd="/", check=True, **kw):
    """subprocess.run of argv inside root (a name from ROOTS or a path)."""
    if not os.path.isabs(root) and root in ROOTS:
        root = root_path(root)
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    r = subprocess.run(chroot_argv(root, argv, binds, env, cwd), **kw)
    if check and r.returncode != 0:
        raise RuntimeError("in %s: %s exited %d\n%s%s" % (
            root, " ".join(argv), r.returncode, r.stdout or "", r.stderr or ""))
    return r


# ---------------------------------------------------------------- building

def _streamed(cmd, what):
    """Run cmd with its output copied to stderr as progress; raise if it fails."""
    log("%s: %s" % (what, " ".join(cmd[:6]) + (" ..." if len(cmd) > 6 else "")))
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         env=dict(os.environ, DEBIAN_FRONTEND="noninteractive", LC_ALL="C"))
    tail = []
    for line in p.stdout:
        line = line.rstrip("\n")
        tail = (tail + [line])[-40:]
        sys.stderr.write("    " + line + "\n")
    if p.wait() != 0:
        raise RuntimeError("%s failed (exit %d):\n%s" % (what, p.returncode, "\n".join(tail)))


def _umount_under(path):
    """Lazily unmount anything a crashed build left mounted under path (deepest first)."""
    path = os.path.realpath(path)
    with open("/proc/self/mounts") as f:
        points = [l.split()[1].replace("\\040", " ") for l in f]
    for mp in sorted((m for m in points if m == path or m.startswith(path + "/")),
                     key=len, reverse=True):
        subprocess.run(["umount", "-l", mp], check=False)


def _remove(path):
    if os.path.lexists(path):
        _umount_under(path)
        shutil.rmtree(path, ignore_errors=True)


def _build(name, spec, tmp):
    t0 = time.monotonic()
    suite = spec["suite"]
    # debootstrap runs in its own mount namespace too: the /proc and /sys it mounts in
    # the target cannot outlive it on the host if it is killed.
    _streamed(["unshare", "--mount", "--propagation", "private",
               "debootstrap", "--variant=minbase", suite, tmp, MIRROR],
              "debootstrap %s (takes minutes)" % suite)
    with open(os.path.join(tmp, "etc/apt/apt.conf.d/99treeprof"), "w") as f:
        f.write(APT_CONF)
    with open(os.path.join(tmp, "etc/apt/sources.list"), "w") as f:
        f.write("deb %s %s main\n" % (MIRROR, suite))
    shutil.copy("/etc/resolv.conf", os.path.join(tmp, "etc/resolv.conf"))
    _streamed(chroot_argv(tmp, ["apt-get", "update"]), "apt-get update in %s" % name)

    # Which interpreters does the suite have?  (apt-cache, in the root itself)
    available, missing = [], []
    for v in spec["pythons"]:
        r = run_in_root(tmp, ["apt-cache", "show", "--no-all-versions", "python" + v],
                        check=False)
        ok = r.returncode == 0 and ("Package: python" + v) in r.stdout
        (available if ok else missing).append(v)
        log("%s: python%s %s" % (name, v, "is available" if ok else "is NOT in " + suite))
    pkgs = list(spec["packages"]) + ["python" + v for v in available
                                     if "python" + v not in spec["packages"]]
    _streamed(chroot_argv(tmp, ["apt-get", "install", "-y", "-o",
                                "Dpkg::Options::=--force-confdef"] + pkgs,
                          env={"DEBIAN_FRONTEND": "noninteractive"}),
              "apt-get install %s in %s" % (" ".join(pkgs), name))
    run_in_root(tmp, ["apt-get", "clean"], check=False)

    pythons = {}
    for v in available:
        exe = "/usr/bin/python" + v
        r = run_in_root(tmp, [exe, "-c", "import sys; print(sys.version.split()[0])"])
        pythons[v] = {"exe": exe, "version": r.stdout.strip()}
    versions = {}
    r = run_in_root(tmp, ["dpkg-query", "-W", "-f", "${Package} ${Version}\\n"] + pkgs,
                    check=False)
    for line in r.stdout.splitlines():
        p, _, v = line.partition(" ")
        versions[p] = v
    info = {
        "name": name, "suite": suite, "mirror": MIRROR, "packages": versions,
        "pythons": pythons, "missing_pythons": missing,
        "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "build_seconds": round(time.monotonic() - t0, 1),
    }
    with open(os.path.join(tmp, STAMP), "w") as f:
        json.dump(info, f, indent=1, sort_keys=True)
    return info


def build_cached(cache, name, what, ready, build, log=log):
    """The one way a cached tree is made (a Debian root here, a kernel in kernels.py):
    cache/name is complete once ready() is true (its stamp is written). Otherwise, holding
    the lock cache/name.lock, remove the leftovers of an interrupted build, let build(tmp)
    fill the new directory cache/.build-name-PID and rename it to cache/name. Returns what
    build returned, or None when the tree was complete (or was completed by another
    process while this one waited for the lock)."""
    if ready():
        return None
    os.makedirs(cache, exist_ok=True)
    with open(os.path.join(cache, name + ".lock"), "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log("%s: another process is building it, waiting" % name)
            fcntl.flock(lock, fcntl.LOCK_EX)
        if ready():                           # built while we waited
            return None
        # We hold the lock: any temporary or incomplete tree is left over from a crash.
        for d in os.listdir(cache):
            if d.startswith(".build-%s-" % name):
                log("%s: removing the leftovers of an interrupted build, %s" % (name, d))
                _remove(os.path.join(cache, d))
        _remove(os.path.join(cache, name))
        tmp = os.path.join(cache, ".build-%s-%d" % (name, os.getpid()))
        log("%s: %s in %s" % (name, what, tmp))
        try:
            info = build(tmp)
            os.rename(tmp, os.path.join(cache, name))
        except BaseException:
            _remove(tmp)
            raise
    return info


def ensure(name):
    """Path of the complete root `name`, building it first if it is not cached."""
    if name not in ROOTS:
        raise KeyError("unknown root %r (have %s)" % (name, ", ".join(sorted(ROOTS))))
    info = build_cached(CACHE, name, "building Debian %s" % ROOTS[name]["suite"],
                        lambda: stamp(name), lambda tmp: _build(name, ROOTS[name], tmp))
    if info:
        log("%s: done in %.0f s, pythons %s%s" % (
            name, info["build_seconds"],
            ", ".join("%s (%s)" % (v, p["version"]) for v, p in sorted(info["pythons"].items())),
            "; not in the suite: " + ", ".join(info["missing_pythons"])
            if info["missing_pythons"] else ""))
    return root_path(name)


def python_in(name, minor):
    """(root path, interpreter path inside it) of python3.<minor> in root `name`, building
    the root if needed; (root, None) when the suite does not have that version."""
    path = ensure(name)
    p = stamp(name)["pythons"].get("3.%d" % minor)
    return path, (p["exe"] if p else None)


def cli(argv, verb, ensure, stamp, run, usage):
    """The command line of roots.py and kernels.py: `VERB NAME...` makes (or reuses) each
    tree and prints its stamp; `run NAME -- ARGV...` returns run(NAME, ARGV), an exit
    status; anything else prints usage and returns 2."""
    if len(argv) >= 2 and argv[0] == verb:
        for name in argv[1:]:
            ensure(name)
            print(json.dumps(stamp(name), indent=1, sort_keys=True))
        return 0
    if len(argv) >= 3 and argv[0] == "run" and "--" in argv:
        return run(argv[1], argv[argv.index("--") + 1:])
    sys.stderr.write(usage)
    return 2


def main(argv):
    return cli(argv, "build", ensure, stamp, lambda name, cmd: run_in_root(
        ensure(name), cmd, check=False, capture_output=False).returncode, __doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

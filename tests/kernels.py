#!/usr/bin/env python3
"""Debian's own kernels under qemu, for the kernel matrix (make test-kernels).

A kernel is a Debian linux-image package, downloaded once with apt from the suite that
ships it; its vmlinuz, config and the few modules the guest needs to mount 9p file
systems over virtio (their dependencies read from each module's own .modinfo) are cached
under /var/cache/treeprof/kernels/<name> (TREEPROF_KERNELS_CACHE overrides the
directory), like the Debian roots of tests/roots.py.  Each boot packs them with a static
busybox and tests/kernel_init.sh (/init) into an initramfs.

The guest sees the host's files read-only through 9p (-virtfs): /usr, /etc, pyenv's
interpreters, the cached Debian roots and this checkout, at the same paths, on a tmpfs
root of its own; /out is a writable share that gives the command's files and its exit
status back.  Nothing of the host's /proc, /sys or /dev is shared.  The command runs as
root in the guest, which has 2 CPUs and 3 GiB; KVM is used when /dev/kvm exists, else
qemu emulates the CPU (slow, but a 6.12 guest boots in a few seconds).

    python3 tests/kernels.py fetch 6.1 6.12      # download and prepare (cached)
    python3 tests/kernels.py run 6.1 -- uname -r # boot, run a command, print its output

Only the standard library is used.
"""
import json
import lzma
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import roots  # noqa: E402  (tests/roots.py: read_stamp, build_cached, logger)
REPO = os.path.dirname(HERE)
CACHE = os.environ.get("TREEPROF_KERNELS_CACHE", "/var/cache/treeprof/kernels")
MIRROR = os.environ.get("TREEPROF_DEBIAN_MIRROR", "http://deb.debian.org/debian")
STAMP = ".treeprof-kernel-2.json"  # 2: modules cached, initramfs made per boot

# name -> the suite that ships it (and whether its kernel updates come from the security
# archive). The metapackage linux-image-amd64 depends on the suite's current kernel
# package; that one is downloaded.
KERNELS = {
    "5.10": {"suite": "bullseye", "what": "Debian bullseye"},
    "6.1": {"suite": "bookworm", "what": "Debian bookworm", "security": True},
    "6.12": {"suite": "trixie", "what": "Debian trixie"},
}
# Modules the guest loads from the initramfs (with their dependencies), when the kernel
# has them as modules rather than built in.
GUEST_MODULES = ["virtio_pci", "9pnet_virtio", "9p"]


log = roots.logger("kernels")


def kernel_dir(name):
    return os.path.join(CACHE, name)


def stamp(name):
    return roots.read_stamp(os.path.join(kernel_dir(name), STAMP))


# ---------------------------------------------------------------- fetching

def _apt(spec, tmp, *args):
    """apt-get/apt-cache argv on a private list of the suite's sources, leaving the
    host's own apt state alone."""
    lines = ["deb %s %s main" % (MIRROR, spec["suite"])]
    if spec.get("security"):
        lines.append("deb %s-security %s-security main" % (MIRROR, spec["suite"]))
    srcs = os.path.join(tmp, "sources.list")
    with open(srcs, "w") as f:
        f.write("\n".join(lines) + "\n")
    for d in ("lists/partial", "cache/archives/partial"):
        os.makedirs(os.path.join(tmp, d), exist_ok=True)
    return list(args) + [
        "-o", "Dir::Etc::SourceList=" + srcs, "-o", "Dir::Etc::SourceParts=/dev/null",
        "-o", "Dir::State::Lists=" + os.path.join(tmp, "lists"),
        "-o", "Dir::Cache=" + os.path.join(tmp, "cache"),
        "-o", "Dir::State::status=/dev/null", "-o", "Acquire::Check-Valid-Until=false",
        "-o", "APT::Sandbox::User=root"]


def _check(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode:
        raise RuntimeError("%s exited %d:\n%s%s" % (" ".join(cmd[:3]), r.returncode,
                                                    r.stdout[-2000:], r.stderr[-2000:]))
    return r.stdout


def _modinfo_depends(path):
    """The module names a .ko (or .ko.xz) file depends on, from its .modinfo strings."""
    data = _ko_bytes(path)
    i = data.find(b"\0depends=")
    if i < 0:
        return []
    v = data[i + 9:data.index(b"\0", i + 1)].decode()
    return [d for d in v.split(",") if d]


def _ko_bytes(path):
    with open(path, "rb") as f:
        data = f.read()
    return lzma.decompress(data) if path.endswith(".xz") else data


def _module_files(tree, release):
    """name -> path of every module of the unpacked kernel package."""
    out = {}
    for base in ("lib/modules", "usr/lib/modules"):
        top = os.path.join(tree, base, release)
        for d, _, files in os.walk(top):
            for fn in files:
                for ext in (".ko", ".ko.xz"):
                    if fn.endswith(ext):
                        out[fn[:-len(ext)].replace("-", "_")] = os.path.join(d, fn)
    return out


def _closure(mods, wanted):
    """wanted and their dependencies, each after what it depends on."""
    order, seen = [], set()

    def visit(m):
        m = m.replace("-", "_")
        if m in seen or m not in mods:      # built in, or already placed
            return
        seen.add(m)
        for d in _modinfo_depends(mods[m]):
            visit(d)
        order.append(m)
    for w in wanted:
        visit(w)
    return order


def _cpio_newc(entries, out):
    """Write a newc cpio archive: entries are (path, mode, data bytes or link target)."""
    ino = 1
    with open(out, "wb") as f:
        for path, mode, data in entries + [("TRAILER!!!", 0, b"")]:
            if isinstance(data, str):
                data = data.encode()
            name = path.encode() + b"\0"
            hdr = "070701" + "".join("%08X" % v for v in (
                ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name), 0))
            f.write(hdr.encode() + name)
            f.write(b"\0" * ((4 - (110 + len(name)) % 4) % 4))
            f.write(data)
            f.write(b"\0" * ((4 - len(data) % 4) % 4))
            ino += 1


def _prepare(name, spec, tmp):
    t0 = time.monotonic()
    _check(["apt-get", "-q"] + _apt(spec, tmp, "update"))
    deps = _check(["apt-cache"] + _apt(spec, tmp, "depends", "linux-image-amd64"))
    pkg = next((l.split()[1] for l in deps.splitlines()
                if l.strip().startswith("Depends: linux-image-")), None)
    if not pkg:
        raise RuntimeError("%s: no linux-image-amd64 dependency in:\n%s" % (name, deps))
    log("%s: downloading %s from %s" % (name, pkg, spec["suite"]))
    _check(["apt-get", "-q"] + _apt(spec, tmp, "download", pkg), cwd=tmp)
    deb = next(os.path.join(tmp, f) for f in os.listdir(tmp) if f.endswith(".deb"))
    tree = os.path.join(tmp, "pkg")
    _check(["dpkg-deb", "-x", deb, tree])
    boot = os.path.join(tree, "boot")
    vmlinuz = next(f for f in os.listdir(boot) if f.startswith("vmlinuz-"))
    release = vmlinuz[len("vmlinuz-"):]
    shutil.copy(os.path.join(boot, vmlinuz), os.path.join(tmp, "vmlinuz"))
    shutil.copy(os.path.join(boot, "config-" + release), os.path.join(tmp, "config"))

    mods = _module_files(tree, release)
    order = _closure(mods, GUEST_MODULES)
    os.makedirs(os.path.join(tmp, "modules"))
    for i, m in enumerate(order):
        with open(os.path.join(tmp, "modules", "%02d-%s.ko" % (i, m)), "wb") as f:
            f.write(_ko_bytes(mods[m]))
    shutil.rmtree(tree)
    os.unlink(deb)
    shutil.rmtree(os.path.join(tmp, "lists"), ignore_errors=True)
    shutil.rmtree(os.path.join(tmp, "cache"), ignore_errors=True)
    os.unlink(os.path.join(tmp, "sources.list"))
    info = {"name": name, "suite": spec["suite"], "package": pkg,
            "deb": os.path.basename(deb), "release": release, "modules": order,
            "prepared": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "seconds": round(time.monotonic() - t0, 1)}
    with open(os.path.join(tmp, STAMP), "w") as f:
        json.dump(info, f, indent=1, sort_keys=True)
    return info


def _initramfs(kdir, out):
    """Write the guest's initramfs to out: a static busybox, kdir's modules (in load
    order) and tests/kernel_init.sh as /init. Made at each boot: it takes milliseconds,
    and an edited init script can never meet a stale copy."""
    busybox = shutil.which("busybox") or "/bin/busybox"
    if subprocess.run(["ldd", busybox], capture_output=True).returncode == 0:
        raise RuntimeError("%s is dynamically linked: install busybox-static" % busybox)
    with open(busybox, "rb") as f:
        bb = f.read()
    entries = [("bin", stat.S_IFDIR | 0o755, b""), ("bin/busybox", stat.S_IFREG | 0o755, bb),
               ("bin/sh", stat.S_IFLNK | 0o777, "busybox"),
               ("modules", stat.S_IFDIR | 0o755, b"")]
    mdir = os.path.join(kdir, "modules")
    for fn in sorted(os.listdir(mdir)):
        with open(os.path.join(mdir, fn), "rb") as f:
            entries.append(("modules/" + fn, stat.S_IFREG | 0o644, f.read()))
    with open(os.path.join(HERE, "kernel_init.sh"), "rb") as f:
        entries.append(("init", stat.S_IFREG | 0o755, f.read()))
    _cpio_newc(entries, out)


def ensure(name):
    """Path of the prepared kernel `name`, downloading it first if it is not cached."""
    if name not in KERNELS:
        raise KeyError("unknown kernel %r (have %s)" % (name, ", ".join(sorted(KERNELS))))
    spec = KERNELS[name]

    def prepare(tmp):
        os.makedirs(tmp)
        return _prepare(name, spec, tmp)

    info = roots.build_cached(CACHE, name, "fetching the kernel of %s" % spec["what"],
                              lambda: stamp(name), prepare, log)
    if info:
        log("%s: %s ready (%s), modules %s" % (name, info["package"], info["release"],
                                                ", ".join(info["modules"]) or "none"))
    return kernel_dir(name)


# ---------------------------------------------------------------- booting

def _shares():
    """(tag, host path) of what the guest sees, read-only, at the same path."""
    out = [("usr", "/usr"), ("etc", "/etc")]
    pyenv = os.environ.get("PYENV_ROOT") or "/root/.pyenv"
    if os.path.isdir(pyenv):
        out.append(("pyenv", pyenv))
    roots = os.environ.get("TREEPROF_ROOTS", "/var/cache/treeprof/roots")
    if os.path.isdir(roots):
        out.append(("roots", roots))
    out.append(("repo", REPO))
    return out


# A guest kernel that reports one of these will not finish its command: it is stopped
# STUCK_GRACE seconds later (time for the other CPUs' traces to reach the console) instead
# of at the timeout.
STUCK = re.compile(r"(soft lockup - CPU#|rcu: INFO: .* detected stalls|hung_task_timeout_secs|"
                   r"Kernel panic - not syncing)")
STUCK_GRACE = 45


def boot(name, command, timeout=900, memory="3G", cpus=2, env=None, progress=None,
         loglevel=5):
    """Boot kernel `name` and run the shell command `command` in the guest, in this
    checkout's directory.  Returns (exit status or None when the guest never said,
    console output, {name: text} of the files the command left in /out).
    progress(line) is called for each console line. loglevel is the kernel's console log
    level: 5 shows warnings with their stack traces (a lockup's, an oops's) and not the
    informational boot messages. A lockup, an RCU stall or a hung task (STUCK) stops the
    guest STUCK_GRACE seconds later; the status is then None and the console says why."""
    kdir = ensure(name)
    out = tempfile.mkdtemp(prefix="treeprof-guest-")
    initrd = out + ".cpio"
    try:
        _initramfs(kdir, initrd)
        shares = _shares()
        with open(os.path.join(out, "mounts"), "w") as f:
            for tag, path in shares:
                f.write("%s %s\n" % (tag, path))
        envs = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "HOME": "/root", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1",
                "TREEPROF_GUEST_KERNEL": name}
        for v in ("CI", "TREEPROF_ROOTS", "PYENV_ROOT"):
            if os.environ.get(v):
                envs[v] = os.environ[v]
        envs.update(env or {})
        with open(os.path.join(out, "cmd.sh"), "w") as f:
            f.write("".join("export %s=%s\n" % (k, shlex.quote(v))
                            for k, v in sorted(envs.items())))
            f.write("cd %s\n%s\n" % (shlex.quote(REPO), command))
        kvm = os.access("/dev/kvm", os.R_OK | os.W_OK)
        argv = ["qemu-system-x86_64", "-nodefaults", "-no-reboot", "-display", "none",
                "-m", memory, "-smp", str(cpus),
                "-kernel", os.path.join(kdir, "vmlinuz"),
                "-initrd", initrd,
                "-append", "console=ttyS0 rdinit=/init panic=-1 oops=panic mitigations=off "
                "loglevel=%d tsc=reliable" % loglevel,
                "-serial", "stdio", "-monitor", "none"]
        argv += ["-accel", "kvm", "-cpu", "host"] if kvm else [
            "-accel", "tcg,thread=multi", "-cpu", "max"]
        for tag, path in shares:
            argv += ["-virtfs", "local,path=%s,mount_tag=%s,security_model=none,readonly=on,"
                     "multidevs=remap" % (path, tag)]
        argv += ["-virtfs", "local,path=%s,mount_tag=out,security_model=none,"
                 "multidevs=remap" % out]
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        lines = []
        end = time.monotonic() + timeout
        stuck = None
        fd = p.stdout.fileno()
        os.set_blocking(fd, False)
        buf = b""
        while True:
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                chunk = None
            if chunk:
                buf += chunk
                *done, buf = buf.split(b"\n")
                for l in done:
                    l = l.decode("utf-8", "replace").rstrip("\r")
                    lines.append(l)
                    if progress:
                        progress(l)
                    if not stuck and STUCK.search(l):
                        stuck = l
                        end = min(end, time.monotonic() + STUCK_GRACE)
                continue
            if chunk == b"" or p.poll() is not None:
                break
            if time.monotonic() > end:
                p.kill()
                lines.append("[kernels] guest killed %s" % (
                    "after it reported: " + stuck if stuck else "after %d s" % timeout))
                break
            time.sleep(0.05)
        p.wait()
        if buf:
            lines.append(buf.decode("utf-8", "replace"))
        files = {}
        for fn in os.listdir(out):
            path = os.path.join(out, fn)
            if os.path.isfile(path) and os.path.getsize(path) < (1 << 20):
                with open(path, errors="replace") as f:
                    files[fn] = f.read()
        try:
            rc = int(files.get("rc", "").strip())
        except ValueError:
            rc = None
        return rc, "\n".join(lines), files
    finally:
        shutil.rmtree(out, ignore_errors=True)
        if os.path.exists(initrd):
            os.unlink(initrd)


def _run(name, argv):
    rc, _, _ = boot(name, " ".join(shlex.quote(a) for a in argv), progress=print)
    print("[kernels] %s: exit status %s" % (name, rc))
    return 1 if rc is None else rc


def main(argv):
    return roots.cli(argv, "fetch", ensure, stamp, _run, __doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Installing treeprof like a system tool: make install and uninstall (PREFIX, DESTDIR), the
man pages, the bash completion, --version, and make deb installed with apt into a Debian
bookworm root (tests/roots.py), where the installed treeprof records a Python tree."""
import glob
import gzip
import json
import os
import re
import shlex
import shutil
import subprocess

import pytest

from conftest import ROOT, TREEPROF, run, roots

PAGES = sorted(glob.glob(os.path.join(ROOT, "user", "man", "*.1")))
COMPLETION = os.path.join(ROOT, "user", "completion", "treeprof")
COMMANDS = ["record", "live", "top", "report"]
FORMATS = ["text", "folded", "json", "pprof", "speedscope", "chrome", "html"]
METRICS = ["cpu", "alloc_bytes", "alloc_count", "live_bytes", "peak_bytes"]
INSTALLED = ["bin/treeprof", "lib/treeprof/libtreeprof-mem.so",
             "share/bash-completion/completions/treeprof"] + \
    ["share/man/man1/%s.gz" % os.path.basename(p) for p in PAGES]
# A Python tree with allocations the preloaded sampler sees: a forked child and its parent.
MEM_PROGRAM = ("import os\n"
               "x = [bytearray(100000) for i in range(300)]\n"
               "pid = os.fork()\n"
               "y = [bytearray(200000) for i in range(100)]\n"
               "os._exit(0) if pid == 0 else os.waitpid(pid, 0)\n")


def make(*args, timeout=300):
    return run(["make", "--no-print-directory", "-C", ROOT] + list(args), timeout=timeout)


def help_options(cmd):
    """Every option (-x and --long) that `treeprof CMD --help` lists."""
    out = run([TREEPROF, cmd, "--help"]).stdout
    opts = set()
    for line in out.splitlines():
        m = re.match(r"^\s+(-\S.*?)(\s{2,}|$)", line)
        if m:
            opts.update(re.findall(r"(?<![\w-])(--?[\w?][\w-]*)", m.group(1)))
    assert "--help" in opts and len(opts) > 5, "could not parse %s --help:\n%s" % (cmd, out)
    return opts


def render(page, encoding="ascii"):
    """man -l of page: (rendered text, stderr) with --warnings."""
    r = subprocess.run(["man", "--warnings", "-E", encoding, "-l", page], capture_output=True,
                       text=True, env=dict(os.environ, MANWIDTH="80"), timeout=60)
    assert r.returncode == 0, "man -l %s exited %d: %s" % (page, r.returncode, r.stderr)
    return r.stdout, r.stderr


def complete(*words):
    """COMPREPLY of the completion function for the command line `words` (the last word is
    the one being completed)."""
    script = "source %s; COMP_WORDS=(%s); COMP_CWORD=%d; _treeprof; printf '%%s\\n' " \
        '"${COMPREPLY[@]}"' % (shlex.quote(COMPLETION), " ".join(shlex.quote(w) for w in words),
                               len(words) - 1)
    r = run(["bash", "--norc", "--noprofile", "-c", script])
    return [w for w in r.stdout.split("\n") if w]


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    """make install into a staging directory (DESTDIR) with the default PREFIX."""
    dest = str(tmp_path_factory.mktemp("destdir"))
    make("install", "DESTDIR=" + dest)
    return dest


# ---------------------------------------------------------------- make install / uninstall

def test_install_puts_each_file_under_prefix(staged):
    prefix = os.path.join(staged, "usr/local")
    got = sorted(os.path.relpath(os.path.join(d, f), prefix)
                 for d, _, fs in os.walk(staged) for f in fs)
    assert got == sorted(INSTALLED), "installed under DESTDIR/usr/local: %s" % got
    assert os.access(os.path.join(prefix, "bin/treeprof"), os.X_OK)


def test_installed_binary_traces_memory_from_another_directory(staged, tmp_path):
    """The installed treeprof finds its sampler in ../lib/treeprof/, whatever the working
    directory (not the build tree, no TREEPROF_MEM_SHIM)."""
    exe = os.path.join(staged, "usr/local/bin/treeprof")
    env = {k: v for k, v in os.environ.items() if k not in ("TREEPROF_MEM_SHIM", "LD_PRELOAD")}
    r = run([exe, "record", "--mem", "-q", "-o", "X", "--", "/usr/bin/python3", "-c",
             MEM_PROGRAM], cwd=str(tmp_path), env=env, timeout=60)
    assert "sampler" not in r.stderr, "the installed sampler was not used:\n" + r.stderr
    rep = json.loads(run([exe, "report", str(tmp_path / "X"), "--format", "json"]).stdout)
    procs = rep.get("memory", {}).get("processes", [])
    assert len(procs) == 2, "expected memory figures for parent and child, got %s" % procs
    # in_use is counted by the preloaded sampler only (uprobes cannot know usable sizes).
    assert all(p["exact"] and p["exact"].get("in_use") is not None for p in procs), procs


def test_version_names_the_commit(staged):
    out = run([os.path.join(staged, "usr/local/bin/treeprof"), "--version"]).stdout.strip()
    r = subprocess.run(["git", "-C", ROOT, "describe", "--always"], capture_output=True,
                       text=True)
    want = r.stdout.strip() if r.returncode == 0 else "unknown"
    assert re.fullmatch(r"treeprof \d+\.\d+\S* \(git \S+\)", out), out
    assert want in out, "--version says %r, expected the commit %s" % (out, want)
    assert run([TREEPROF, "report", "--version"]).stdout.strip() == out


def test_uninstall_leaves_no_file_behind(tmp_path):
    dest = str(tmp_path / "dest")
    make("install", "DESTDIR=" + dest, "PREFIX=/opt/tp")
    assert os.path.exists(os.path.join(dest, "opt/tp/lib/treeprof/libtreeprof-mem.so"))
    make("uninstall", "DESTDIR=" + dest, "PREFIX=/opt/tp")
    left = [os.path.join(d, f) for d, _, fs in os.walk(dest) for f in fs]
    assert left == [], "make uninstall left %s" % left
    assert not os.path.exists(os.path.join(dest, "opt/tp/lib/treeprof"))


# ---------------------------------------------------------------- man pages

def test_a_man_page_per_command():
    names = sorted(os.path.basename(p) for p in PAGES)
    assert names == sorted(["treeprof.1"] + ["treeprof-%s.1" % c for c in COMMANDS]), names


@pytest.mark.parametrize("page", PAGES, ids=os.path.basename)
def test_man_page_renders_without_warnings(page):
    for enc in ("UTF-8", "ascii"):
        text, err = render(page, enc)
        assert err == "", "man --warnings -l %s (%s) warned:\n%s" % (page, enc, err)
        for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "EXIT STATUS", "EXAMPLES",
                        "PRIVILEGES", "SEE ALSO"):
            assert re.search(r"^%s$" % section, text, re.M), "%s has no %s" % (page, section)


@pytest.mark.parametrize("cmd", COMMANDS)
def test_man_page_documents_every_option_of_help(cmd):
    text, _ = render(os.path.join(ROOT, "user", "man", "treeprof-%s.1" % cmd))
    missing = [o for o in sorted(help_options(cmd))
               if not re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(o), text)]
    assert missing == [], "treeprof-%s(1) lacks %s" % (cmd, ", ".join(missing))


def test_man_page_overview_names_every_command():
    text, _ = render(os.path.join(ROOT, "user", "man", "treeprof.1"))
    out = run([TREEPROF, "--help"]).stdout
    for cmd in re.findall(r"^  (\w+)  ", out, re.M):
        assert re.search(r"^       %s\b" % cmd, text, re.M), "treeprof(1) lacks %s" % cmd
        assert "treeprof-%s(1)" % cmd in text


def test_installed_man_pages_name_the_prefix(staged):
    page = os.path.join(staged, "usr/local/share/man/man1/treeprof-record.1.gz")
    src = gzip.open(page, "rt").read()
    assert "@PREFIX@" not in src and "@VERSION@" not in src
    text, err = render(page)
    assert err == "" and "/usr/local/lib/treeprof/libtreeprof-mem.so" in text


# ---------------------------------------------------------------- bash completion

def test_completion_offers_the_commands():
    assert complete("treeprof", "") == ["record", "live", "top", "report", "--help",
                                        "--version"]
    assert complete("treeprof", "re") == ["record", "report"]


@pytest.mark.parametrize("words", [["--format", ""], ["--format="]])
def test_completion_offers_the_formats(words):
    assert complete("treeprof", "report", *words) == FORMATS


def test_completion_offers_the_metrics_and_values():
    assert complete("treeprof", "report", "--metric", "") == METRICS
    assert complete("treeprof", "report", "--metric", "=", "l") == ["live_bytes"]
    assert complete("treeprof", "report", "--group-by", "") == ["pid", "role", "none"]
    assert complete("treeprof", "record", "--mem-probe", "") == ["auto", "uprobes", "preload"]


def test_completion_offers_pids_for_p():
    for words in (["record", "-p", ""], ["top", "--pid", ""], ["report", "--pid", ""]):
        got = complete("treeprof", *words)
        assert str(os.getpid()) in got and "1" in got, "%s: %s" % (words, got[:10])
        assert all(w.isdigit() for w in got), got


@pytest.mark.parametrize("cmd", COMMANDS)
def test_completion_offers_every_option_of_help(cmd):
    got = set(complete("treeprof", cmd, "-"))
    missing = sorted(help_options(cmd) - got - {"-?"})  # -? would be a glob
    assert missing == [], "completion of 'treeprof %s -' lacks %s" % (cmd, missing)


# ---------------------------------------------------------------- make deb, in bookworm

def in_overlay(root, upper, argv, env=None):
    """Run argv chrooted into an overlay of the cached root (writes go to upper, the root
    itself is never modified), with /sys (BTF, tracefs) bound for treeprof."""
    merged, work = os.path.join(upper, "merged"), os.path.join(upper, "work")
    changes = os.path.join(upper, "upper")
    for d in (merged, work, changes):
        os.makedirs(d, exist_ok=True)
    q = shlex.quote
    setup = "set -e; mount -t overlay overlay -o %s %s; mount --rbind /sys %s/sys; exec \"$@\"" % (
        q("lowerdir=%s,upperdir=%s,workdir=%s" % (root, changes, work)), q(merged), q(merged))
    inner = roots.chroot_argv(merged, argv, env=env)
    argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", setup, "sh"] + inner
    return subprocess.run(argv, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def bookworm_deb(tmp_path_factory):
    """make deb, then apt-get install ./treeprof_*.deb in an overlay of the bookworm root."""
    out = str(tmp_path_factory.mktemp("deb"))
    make("deb", "DEB_DIR=" + out)
    debs = glob.glob(os.path.join(out, "treeprof_*.deb"))
    assert len(debs) == 1, "make deb made %s" % debs
    root, py = roots.python_in("bookworm", 11)
    upper = str(tmp_path_factory.mktemp("overlay"))
    # The package reaches the root through the overlay's upper layer.
    os.makedirs(os.path.join(upper, "upper", "mnt"), exist_ok=True)
    deb = os.path.join("/mnt", os.path.basename(debs[0]))
    shutil.copy(debs[0], os.path.join(upper, "upper") + deb)
    r = in_overlay(root, upper, ["apt-get", "install", "-y", "-q", deb],
                   env={"DEBIAN_FRONTEND": "noninteractive"})
    assert r.returncode == 0, "apt-get install %s in bookworm failed:\n%s%s" % (
        deb, r.stdout[-3000:], r.stderr[-3000:])
    return {"deb": debs[0], "root": root, "upper": upper, "python": py}


def test_deb_depends_on_the_libraries_treeprof_links(bookworm_deb):
    fields = run(["dpkg-deb", "-f", bookworm_deb["deb"], "Depends", "Package",
                  "Version"]).stdout
    for pkg in ("libbpf1", "libelf1", "zlib1g", "libc6"):
        assert re.search(r"\b%s \(>=" % pkg, fields), "Depends lacks %s:\n%s" % (pkg, fields)
    files = run(["dpkg-deb", "-c", bookworm_deb["deb"]]).stdout
    for f in INSTALLED:
        assert "./usr/" + f in files, "the package lacks /usr/%s" % f


def test_deb_installed_treeprof_records_a_tree_in_bookworm(bookworm_deb):
    """The packaged /usr/bin/treeprof, with bookworm's libbpf and libelf, run inside the
    root: record --mem from another directory, then report."""
    script = ("set -e; dpkg -L treeprof >/dev/null; treeprof --version; mkdir -p /tmp/w; "
              "cd /tmp/w; treeprof record --mem -q -o X -- %s -c %s; "
              "treeprof report X --format json > X.json" % (
                  bookworm_deb["python"], shlex.quote(MEM_PROGRAM)))
    r = in_overlay(bookworm_deb["root"], bookworm_deb["upper"], ["sh", "-c", script])
    assert r.returncode == 0, "in bookworm: %s\n%s" % (r.stdout[-3000:], r.stderr[-3000:])
    assert "sampler" not in r.stderr, r.stderr
    with open(os.path.join(bookworm_deb["upper"], "upper/tmp/w/X.json")) as f:
        rep = json.load(f)
    procs = rep.get("memory", {}).get("processes", [])
    assert len(procs) == 2 and all(p["exact"].get("in_use") is not None for p in procs), procs


def test_deb_removes_cleanly_and_leaves_the_root_alone(bookworm_deb):
    r = in_overlay(bookworm_deb["root"], bookworm_deb["upper"], [
        "sh", "-c", "apt-get purge -y -q treeprof >/dev/null && ! dpkg -s treeprof 2>/dev/null"
        " && ! ls /usr/bin/treeprof /usr/lib/treeprof /usr/share/man/man1/treeprof*"
        " /usr/share/bash-completion/completions/treeprof 2>/dev/null"])
    assert r.returncode == 0, "after apt-get purge: %s%s" % (r.stdout, r.stderr)
    assert not os.path.exists(os.path.join(bookworm_deb["root"], "usr/bin/treeprof")), \
        "the cached bookworm root was modified"

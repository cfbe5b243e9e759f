"""Start-up: the BPF object is relocated against a cut-down kernel BTF cached per boot
(user/trace/kbtf.c), not the kernel's whole 5 MiB BTF; a cache file that does not serve is
dropped and the whole BTF used, with nothing lost."""
import glob
import os
import re
import stat

from conftest import TREEPROF, WORKLOADS, host_python, report_json, run

CACHE = "/var/cache/treeprof"
RELOCATED = re.compile(r"relocated against (%s/btf-[0-9a-f-]+)" % CACHE)


def record_v(tmp, *cmd):
    out = os.path.join(tmp, "t.data")
    r = run([TREEPROF, "record", "-v", "-o", out, "--"] + list(cmd), timeout=60)
    return r, out


def test_second_start_is_relocated_against_the_cached_cut_btf(tmp):
    record_v(tmp, "/bin/true")  # makes the file when missing
    r, _ = record_v(tmp, "/bin/true")
    m = RELOCATED.search(r.stderr)
    assert m, r.stderr[-2000:]
    st = os.lstat(m.group(1))
    assert stat.S_ISREG(st.st_mode) and st.st_uid == 0 and not st.st_mode & 0o077
    # A few dozen types: under 16 KiB, where the kernel's is megabytes.
    assert 0 < st.st_size < 16384, st.st_size
    assert os.path.getsize("/sys/kernel/btf/vmlinux") > 100 * st.st_size
    # Files of other boots were pruned: every one left is of this boot.
    with open("/proc/sys/kernel/random/boot_id") as f:
        boot = f.read().strip()
    assert all(os.path.basename(p).startswith("btf-" + boot)
               for p in glob.glob(CACHE + "/btf-*"))
    # Relocated that way, a forking Python tree is still profiled whole, with exec and exit.
    # cpu_tree.py: two fork and two spawn (fork + exec) workers.
    r, data = record_v(tmp, host_python(), os.path.join(WORKLOADS, "cpu_tree.py"), "0.1")
    assert RELOCATED.search(r.stderr)
    text = run([TREEPROF, "report", "--all", data]).stdout
    for fn in ("cpu_fib_recursive", "cpu_primes_trial_division", "cpu_matmul_pure",
               "cpu_string_churn"):
        assert fn in text, fn


def test_a_damaged_cache_file_is_dropped_and_the_kernels_btf_used(tmp):
    r, _ = record_v(tmp, "/bin/true")
    path = RELOCATED.search(r.stderr).group(1)
    with open(path, "r+b") as f:  # wreck the header: libbpf refuses to parse it
        f.write(b"\0" * 64)
    r, data = record_v(tmp, host_python(), "-c", "sum(range(3000000))")
    assert "did not serve" in r.stderr, r.stderr[-2000:]
    assert not RELOCATED.search(r.stderr)
    assert report_json(data)["processes"], "the run itself must not suffer"
    # Dropped, so the next start makes a good one again.
    r, _ = record_v(tmp, "/bin/true")
    assert RELOCATED.search(r.stderr), r.stderr[-2000:]

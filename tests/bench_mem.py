#!/usr/bin/env python3
"""make bench, memory part: what allocation tracing costs, side by side in one run.

1. Probe placement, per C library we meet (bookworm on the host, trixie and sid roots):
   malloc_bench (malloc(64)+free in a loop, built here) with a counting uprobe on free's
   first instruction, on the instruction treeprof picks, and a uprobe/uretprobe on malloc
   (tests/tools/uprobe_cost). The difference from no probe is the cost of one hit.

2. The reference allocation tree (tests/workloads/alloc_tree.py, the tree memray was
   measured on in ../shared/workloads) on Debian trixie's python3.13 in its root, runs
   interleaved BENCH_RUNS times (default 5): no profiler; treeprof record --mem (default
   sampling, CPU sampling on as a user would run it); the same with --mem-sample 64K and
   --mem-sample 1;
   memray run --follow-fork (its default mode) from trixie's python3-memray.

3. A process outside the traced tree: malloc_bench bare and while `record --mem -p` runs on
   an idle process (the allocator probes are bound to the tree's processes). Reported:
   median wall clock (the tree's TOTAL_ELAPSED) against no profiler, CPU cost (all CPU time
   of the traced run, treeprof and BPF included, over the bare run's), the leak each one
   attributes to alloc_leak_known_bytes (truth: 4 x 256 x 4096 = 4,194,304 bytes) and the
   peaks.
"""
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TREEPROF = os.path.join(ROOT, "treeprof")
SHIM = os.path.join(ROOT, "libtreeprof-mem.so")
UPROBE_COST = os.path.join(ROOT, ".output", "tests", "uprobe_cost")
WL = os.path.join(ROOT, "tests", "workloads")
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
LEAK_TRUTH = 4 * 256 * 4096

sys.path.insert(0, os.path.join(ROOT, "tests"))
import bench  # noqa: E402  (elapsed)
import roots  # noqa: E402


def log(msg):
    print("bench-mem: " + msg, file=sys.stderr, flush=True)


def cpu_of(cmd):
    """Run cmd; (stdout, stderr, status, CPU seconds of cmd and everything it waited for)."""
    before = os.times()
    p = subprocess.run(cmd, capture_output=True, text=True)
    after = os.times()
    cpu = (after.children_user - before.children_user) + \
        (after.children_system - before.children_system)
    return p.stdout, p.stderr, p.returncode, cpu


def elapsed(out):
    return bench.elapsed(out, "bench-mem")


# ------------------------------------------------------------------ 1. probe placement

def libc_of(root):
    base = root or "/"
    for d in ("lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu"):
        p = os.path.join(base, d, "libc.so.6")
        if os.path.exists(p):
            return os.path.realpath(p)
    raise SystemExit("bench-mem: no libc.so.6 under " + base)


def mb_ns(argv):
    out = subprocess.run(argv, capture_output=True, text=True).stdout
    vals = [float(x) for x in re.findall(r"ns_per_pair=([0-9.]+)", out)]
    return statistics.median(vals) if vals else float("nan")


def probe_costs(tmp):
    mb = os.path.join(tmp, "malloc_bench")
    subprocess.run(["gcc", "-O2", "-fno-omit-frame-pointer", "-fno-builtin", "-o", mb,
                    os.path.join(WL, "malloc_bench.c")], check=True)
    rows = []
    for name in ("host", "trixie", "sid"):
        root = None if name == "host" else roots.ensure(name)
        libc = libc_of(root)

        def in_root(argv):
            if root is None:
                return argv
            return roots.chroot_argv(root, argv, binds={tmp: tmp})
        n = "200000"
        base = mb_ns(in_root([mb, n, "64", "5"]))
        # the probe tool runs outside; the loop runs in the root with the root's libc
        cost = {}
        for label, fn, delta, ret in (("free@entry", "free", 0, 0),
                                      ("free@picked", "free", None, 0),
                                      ("malloc entry", "malloc", 0, 0),
                                      ("malloc entry+return", "malloc", 0, 1)):
            if delta is None:
                delta = free_pick(libc)
                label = "free where treeprof puts it"
                cost["picked offset"] = delta
            v = mb_ns([UPROBE_COST, libc, fn, str(delta), str(ret), "--"] +
                      in_root([mb, n, "64", "5"]))
            cost[label] = v - base
        rows.append((name, base, cost))
    return rows


def free_pick(libc):
    """The offset treeprof's placement rule picks for free (user/trace/memtrace.c, same rule):
    past `test %rdi,%rdi; je` when a push follows, else 0."""
    out = subprocess.run(["objdump", "-d", libc, "--start-address=0x%x" % sym_addr(libc, "free"),
                          "--stop-address=0x%x" % (sym_addr(libc, "free") + 16)],
                         capture_output=True, text=True).stdout
    insns = re.findall(r"^\s*[0-9a-f]+:\t([0-9a-f ]+?)\s*\t(\S+)", out, re.M)
    if len(insns) >= 3 and insns[0][1] == "test" and insns[0][0] == "48 85 ff" and \
            insns[1][1] == "je" and insns[2][1] == "push":
        return len(insns[0][0].split()) + len(insns[1][0].split())
    return 0


def sym_addr(libc, name):
    out = subprocess.run(["nm", "-D", libc], capture_output=True, text=True).stdout
    for line in out.splitlines():
        f = line.split()
        if len(f) == 3 and f[2].split("@")[0] == name and "@@" in f[2]:
            return int(f[0], 16)
    raise SystemExit("bench-mem: no %s in %s" % (name, libc))


def outside_cost(tmp):
    """malloc_bench outside the traced tree: bare, then while record --mem -p PID runs on an
    idle process (the probes are bound to the tree: the outside process must not pay)."""
    mb = os.path.join(tmp, "malloc_bench")
    argv = [mb, "1000000", "64", "5"]
    bare = mb_ns(argv)
    target = subprocess.Popen(["sleep", "600"])
    err_path = os.path.join(tmp, "outside.err")
    with open(err_path, "w") as err:
        tp = subprocess.Popen([TREEPROF, "record", "--mem", "-o", os.path.join(tmp, "o.data"),
                               "-p", str(target.pid)], stdout=subprocess.DEVNULL, stderr=err)
    try:
        for _ in range(300):
            if "recording at" in open(err_path).read() or tp.poll() is not None:
                break
            subprocess.run(["sleep", "0.05"])
        during = mb_ns(argv)
    finally:
        target.kill()
        target.wait()
        tp.wait()
    return bare, during


# ------------------------------------------------------------------ 2. the allocation tree

def tree_argv(extra_env=None, prefix=(), shim_in_root=True):
    """The tree in trixie's root. shim_in_root: the build tree (the sampler) is bound at its
    host path inside the root, as a user's container with treeprof installed would have it;
    without, the root does not hold the library (the sampler is then passed through
    /proc/self/fd: user/shim/exec.c)."""
    path, exe = roots.python_in("trixie", 13)
    binds = {WL: "/treeprof/workloads"}
    if shim_in_root:
        binds[ROOT] = ROOT
    return roots.chroot_argv(path, list(prefix) + [exe, "/treeprof/workloads/alloc_tree.py"],
                             binds=binds, env=extra_env), path


def folded(data, metric):
    out = subprocess.run([TREEPROF, "report", data, "--format", "folded", "--metric", metric],
                         capture_output=True, text=True, check=True).stdout
    rows = []
    for line in out.splitlines():
        stack, _, n = line.rpartition(" ")
        rows.append((stack, int(n)))
    return rows


def treeprof_run(tmp, sample, shim_in_root=True):
    data = os.path.join(tmp, "mem.data")
    argv, _ = tree_argv(shim_in_root=shim_in_root)
    cmd = [TREEPROF, "record", "-q", "--mem", "-o", data]
    if sample:
        cmd += ["--mem-sample", str(sample)]
    out, err, status, cpu = cpu_of(cmd + ["--"] + argv)
    if status != 0:
        raise SystemExit("bench-mem: treeprof exited %d\n%s" % (status, err))
    live = folded(data, "live_bytes")
    peak = folded(data, "peak_bytes")
    stats = json.loads(subprocess.run([TREEPROF, "report", data, "--format", "json"],
                                      capture_output=True, text=True, check=True).stdout)["stats"]
    return {
        "wall": elapsed(out), "cpu": cpu,
        "without_sampler": stats.get("mem_processes_without_sampler", 0),
        "leak": sum(n for s, n in live if "alloc_leak_known_bytes" in s),
        "peak": sum(n for s, n in peak),
    }


MEMRAY_READ = r"""
import glob, json, sys
from memray import FileReader
leak = peak = 0
files = sorted(glob.glob(sys.argv[1] + "*"))
for f in files:
    r = FileReader(f)
    peak += r.metadata.peak_memory
    for rec in r.get_leaked_allocation_records(merge_threads=True):
        if any(fr[0] == "alloc_leak_known_bytes" for fr in rec.stack_trace()):
            leak += rec.size
print(json.dumps({"leak": leak, "peak": peak, "files": len(files)}))
"""


def memray_run(tmp):
    path, exe = roots.python_in("trixie", 13)
    inside = "/tmp/treeprof-bench-memray"
    host_dir = path + inside
    subprocess.run(["rm", "-rf", host_dir])
    os.makedirs(host_dir)
    out_file = inside + "/run.bin"
    argv = roots.chroot_argv(path, [exe, "-m", "memray", "run", "-q", "--follow-fork", "-o",
                                    out_file, "/treeprof/workloads/alloc_tree.py"],
                             binds={WL: "/treeprof/workloads"})
    out, err, status, cpu = cpu_of(argv)
    if status != 0:
        raise SystemExit("bench-mem: memray exited %d\n%s" % (status, err))
    r = roots.run_in_root(path, [exe, "-c", MEMRAY_READ, out_file])
    res = json.loads(r.stdout.strip().splitlines()[-1])
    subprocess.run(["rm", "-rf", host_dir])
    return {"wall": elapsed(out), "cpu": cpu, "leak": res["leak"], "peak": res["peak"],
            "files": res["files"]}


def med(rows, key):
    return statistics.median(r[key] for r in rows)


def main():
    if os.geteuid() != 0:
        raise SystemExit("bench-mem: run as root (sudo make bench)")
    for f in (TREEPROF, SHIM, UPROBE_COST):
        if not os.path.exists(f):
            raise SystemExit("bench-mem: %s is missing (make bench builds it)" % f)
    with tempfile.TemporaryDirectory() as tmp:
        log("probe costs per C library")
        probes = probe_costs(tmp)
        log("a process outside the traced tree")
        outside = outside_cost(tmp)
        base, dflt, noshim, fine, every, mray = [], [], [], [], [], []
        for i in range(RUNS):
            log("alloc tree, run %d/%d" % (i + 1, RUNS))
            argv, _ = tree_argv()
            out, err, status, cpu = cpu_of(argv)
            if status != 0:
                raise SystemExit("bench-mem: the tree failed\n" + err)
            base.append({"wall": elapsed(out), "cpu": cpu})
            dflt.append(treeprof_run(tmp, None))
            noshim.append(treeprof_run(tmp, None, shim_in_root=False))
            fine.append(treeprof_run(tmp, 65536))
            every.append(treeprof_run(tmp, 1))
            mray.append(memray_run(tmp))

    print("\n### Allocation probes: cost of one hit (malloc_bench, ns per malloc+free pair "
          "over no probe)\n")
    print("Command: `sudo make bench` (tests/bench_mem.py, tests/tools/uprobe_cost.c)\n")
    labels = []
    for _, _, cost in probes:
        for k in cost:
            if k not in labels:
                labels.append(k)
    print("| C library | no probe | " + " | ".join(labels) + " |")
    print("|---|---|" + "---|" * len(labels))
    for name, b, cost in probes:
        print("| %s | %.1f ns | %s |" % (name, b, " | ".join(
            ("+%d" % cost[k] if k == "picked offset" else "+%.0f ns" % cost[k])
            if k in cost else "—" for k in labels)))

    print("\n### A process outside the tree (malloc_bench, ns per malloc+free pair)\n")
    print("| bare | during `record --mem -p PID` (PID idle) |")
    print("|---|---|")
    print("| %.1f ns | %.1f ns |" % outside)

    bw, bc = med(base, "wall"), med(base, "cpu")
    print("\n### Allocation tree (alloc_tree.py, trixie python3.13, median of %d interleaved "
          "runs)\n" % RUNS)
    print("| | wall | slowdown | CPU | CPU cost | leak in alloc_leak_known_bytes "
          "(truth %d) | peak |" % LEAK_TRUTH)
    print("|---|---|---|---|---|---|---|")
    print("| no profiler | %.2f s | 1.00x | %.2f s | — | — | — |" % (bw, bc))
    for label, rows in (("treeprof --mem (default: 512 KiB sampling)", dflt),
                        ("the same, the root without libtreeprof-mem.so", noshim),
                        ("treeprof --mem --mem-sample 64K", fine),
                        ("treeprof --mem --mem-sample 1", every),
                        ("memray run --follow-fork", mray)):
        print("| %s | %.2f s | %.2fx | %.2f s | %+.0f%% | %s | %s |" % (
            label, med(rows, "wall"), med(rows, "wall") / bw, med(rows, "cpu"),
            100 * (med(rows, "cpu") / bc - 1), "{:,}".format(int(med(rows, "leak"))),
            "{:,}".format(int(med(rows, "peak")))))
    print("\nProcesses without the sampler (on uprobes), most in a run: %d with the library "
          "in the root, %d without." % (max(r["without_sampler"] for r in dflt),
                                       max(r["without_sampler"] for r in noshim)))
    print("\nmemray's peak is the sum of its per-process peaks (one file per process it "
          "followed; spawn workers are not followed); treeprof's is the whole tree's "
          "simultaneous peak (estimated from samples).")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""make bench: what treeprof costs, measured side by side in one run.

For the reference CPU tree (tests/workloads/cpu_tree.py, the tree Austin and Python 3.15's
sampler were measured on), runs are interleaved: no profiler, treeprof record -F 99,
treeprof record -F 999, repeated BENCH_RUNS times (default 5). Reported:

- cost: (treeprof's own CPU time + its BPF programs' run time) / the workload's CPU time.
  BPF run time comes from kernel.bpf_stats_enabled, switched on for the benchmark only.
- slowdown: median wall-clock (the tree's own TOTAL_ELAPSED) against no profiler.
- drops, share of samples with a complete Python stack.
- BPF time per sample with a 100-frame Python stack (tests/workloads/deep.py at 999 Hz).
- start-up: `treeprof record -- date +%s.%N` against `date` alone, BENCH_STARTS times
  (default 20): CPU, and the latency from starting the command line to the command's own
  first output of the clock; once more with the per-boot caches removed (the first start
  after a boot); and a tree that execs 40 short shell processes (a version-manager shim's
  shape): treeprof CPU per process beyond /bin/true's.

Everything is printed as a Markdown table with the command that made it.
"""
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TREEPROF = os.path.join(ROOT, "treeprof")
WL = os.path.join(ROOT, "tests", "workloads")
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
STARTS = int(os.environ.get("BENCH_STARTS", "20"))
CACHE = "/var/cache/treeprof"


sys.path.insert(0, os.path.join(ROOT, "tests"))
import roots  # noqa: E402


def workload_argv(script, extra=()):
    """argv running tests/workloads/<script>: by default with Debian trixie's python3.13
    in its debootstrap'd root (the interpreter the reference figures in
    ../shared/workloads were measured on), or with BENCH_PYTHON from the host."""
    host = os.environ.get("BENCH_PYTHON")
    if host:
        return [host, os.path.join(WL, script)] + list(extra), host
    path, exe = roots.python_in("trixie", 13)
    argv = roots.chroot_argv(path, [exe, "/treeprof/workloads/" + script] + list(extra),
                             binds={WL: "/treeprof/workloads"})
    return argv, "trixie " + exe


def run_measured(cmd):
    """Run cmd; return (stdout, cpu seconds of cmd and all it waited for, exit status)."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = status
    return out, ru.ru_utime + ru.ru_stime, status


def elapsed(out, who="bench"):
    """The seconds a reference tree (tests/workloads/*_tree.py) printed as TOTAL_ELAPSED."""
    m = re.search(r"TOTAL_ELAPSED ([0-9.]+)", out)
    if not m:
        raise SystemExit("%s: the workload printed no TOTAL_ELAPSED:\n%s" % (who, out))
    return float(m.group(1))


def report(data):
    out = subprocess.run([TREEPROF, "report", data, "--format", "json"], capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out)


def traced_run(argv, hz, tmp, options=None, who="bench"):
    """argv run under `treeprof record -q -F HZ` (options: other record options instead of
    -F HZ): one row of figures, the recording's stats under "stats"."""
    data = os.path.join(tmp, "bench.data")
    options = options or ["-F", str(hz)]
    out, cpu, status = run_measured([TREEPROF, "record", "-q"] + options + ["-o", data, "--"]
                                    + argv)
    if status != 0:
        raise SystemExit("%s: treeprof record %s exited with status %d" % (
            who, " ".join(options), status))
    st = report(data)["stats"]
    own = st["treeprof_cpu_ns"] / 1e9
    bpf = st["bpf_run_ns"] / 1e9
    return {
        "stats": st,
        "wall": elapsed(out, who) if "TOTAL_ELAPSED" in out else None,
        "workload_cpu": cpu - own,
        "own_cpu": own,
        "bpf": bpf,
        "cost": (own + bpf) / max(cpu - own, 1e-9),
        "samples": st.get("bpf_samples", 0),
        "drops": st.get("ringbuf_drops", 0),
        "py_samples": st.get("python_samples", 0),
        "py_complete": st.get("python_samples_complete", 0),
        "bpf_sample_ns": st.get("bpf_sample_run_ns", 0),
        "bpf_sample_cnt": st.get("bpf_sample_run_cnt", 0),
        "duration": st.get("duration_ns", 0) / 1e9,
    }


@contextlib.contextmanager
def bpf_stats():
    """kernel.bpf_stats_enabled on while the benchmark runs (the BPF programs' run time in
    the recordings' stats), then as it was."""
    path = "/proc/sys/kernel/bpf_stats_enabled"
    with open(path) as f:
        old = f.read().strip()
    with open(path, "w") as f:
        f.write("1")
    try:
        yield
    finally:
        with open(path, "w") as f:
            f.write(old)


def med(rows, key):
    return statistics.median(r[key] for r in rows)


def start_once(cmd):
    """(CPU seconds of cmd and its children, seconds from the spawn to the clock the
    command printed first: `date +%s.%N` prints it as it starts)."""
    t0 = time.time()
    out, cpu, status = run_measured(cmd)
    if status != 0 or not out.split():
        raise SystemExit("bench: %s failed (status %d)" % (" ".join(cmd), status))
    return {"cpu": cpu, "latency": float(out.split()[0]) - t0}


def own_cpu(tmp, argv):
    """treeprof's own CPU (its treeprof_cpu_ns) recording argv."""
    data = os.path.join(tmp, "own.data")
    run_measured([TREEPROF, "record", "-q", "-o", data, "--"] + argv)
    return report(data)["stats"]["treeprof_cpu_ns"] / 1e9


def startup(tmp):
    """The start-up rows: interleaved, medians of STARTS."""
    date = ["/bin/date", "+%s.%N"]
    rec = [TREEPROF, "record", "-q", "-o", os.path.join(tmp, "start.data"), "--"]
    rows = {"none": [], "record": []}
    start_once(rec + date)  # the caches of this boot exist from here on
    for _ in range(STARTS):
        rows["none"].append(start_once(date))
        rows["record"].append(start_once(rec + date))
    for name in os.listdir(CACHE):  # the first start after a boot: no cache yet
        if name.startswith(("btf-", "kallsyms-")):
            os.unlink(os.path.join(CACHE, name))
    cold = start_once(rec + date)
    shells = ["/bin/bash", "-c", "for i in $(seq 40); do /bin/sh -c :; done"]
    per = [(own_cpu(tmp, shells) - own_cpu(tmp, ["/bin/true"])) / 40 for _ in range(5)]
    return rows, cold, statistics.median(per)


def print_startup(rows, cold, per_process):
    n, r = rows["none"], rows["record"]
    print("| start-up (`record -- date`, median of %d) | CPU (ms) | latency to the command (ms) |"
          % len(r))
    print("|---|---|---|")
    print("| date alone | %.1f | %.1f |" % (1e3 * med(n, "cpu"), 1e3 * med(n, "latency")))
    print("| under treeprof record | %.1f | %.1f |" % (1e3 * med(r, "cpu"), 1e3 * med(r, "latency")))
    print("| treeprof's share | %.1f | %.1f |" % (1e3 * (med(r, "cpu") - med(n, "cpu")),
                                                 1e3 * (med(r, "latency") - med(n, "latency"))))
    print("| first start of a boot (caches made), once | %.1f | %.1f |" % (
        1e3 * (cold["cpu"] - med(n, "cpu")), 1e3 * (cold["latency"] - med(n, "latency"))))
    print()
    print("treeprof CPU per process of a tree that execs 40 short shells: %.2f ms (median of 5)"
          % (1e3 * per_process))
    print()


def main():
    if os.geteuid() != 0:
        raise SystemExit("bench: run as root (sudo make bench)")
    tree, py = workload_argv("cpu_tree.py")
    deep, _ = workload_argv("deep.py")
    shallow, _ = workload_argv("deep.py", ["2", "10"])
    base, f99, f999 = [], [], []
    with bpf_stats(), tempfile.TemporaryDirectory() as tmp:
        for i in range(RUNS):
            print("bench: run %d/%d" % (i + 1, RUNS), file=sys.stderr, flush=True)
            out, cpu, _ = run_measured(tree)
            base.append({"wall": elapsed(out), "workload_cpu": cpu})
            f99.append(traced_run(tree, 99, tmp))
            f999.append(traced_run(tree, 999, tmp))
        print("bench: 100- and 10-frame stacks at 999 Hz", file=sys.stderr, flush=True)
        deep_rows, shallow_rows = [], []
        for _ in range(3):
            deep_rows.append(traced_run(deep, 999, tmp))
            shallow_rows.append(traced_run(shallow, 999, tmp))
        print("bench: start-up", file=sys.stderr, flush=True)
        starts, cold, per_process = startup(tmp)

    bw = med(base, "wall")
    print("## treeprof benchmark (%s, %d runs each, interleaved, medians)\n" % (py, RUNS))
    print("Command: `sudo make bench` (tests/bench.py; BENCH_RUNS=%d)\n" % RUNS)
    print("| cpu_tree.py | wall (s) | slowdown | workload CPU (s) | treeprof CPU (s) "
          "| BPF (s) | cost | samples | drops | complete Python stacks |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    print("| no profiler | %.3f | — | %.2f | — | — | — | — | — | — |" % (
        bw, med(base, "workload_cpu")))
    for name, rows in (("treeprof -F 99", f99), ("treeprof -F 999", f999)):
        w = med(rows, "wall")
        pys = sum(r["py_samples"] for r in rows)
        comp = sum(r["py_complete"] for r in rows)
        print("| %s | %.3f | %+.1f%% | %.2f | %.3f | %.4f | %.2f%% | %d | %d | %.2f%% |" % (
            name, w, 100 * (w / bw - 1), med(rows, "workload_cpu"), med(rows, "own_cpu"),
            med(rows, "bpf"), 100 * med(rows, "cost"), med(rows, "samples"),
            sum(r["drops"] for r in rows), 100.0 * comp / max(pys, 1)))
    print()
    print_startup(starts, cold, per_process)
    start_cpu = med(starts["record"], "cpu") - med(starts["none"], "cpu")
    for name, rows in (("-F 99", f99), ("-F 999", f999)):
        per_s = [r["own_cpu"] / r["duration"] for r in rows if r["duration"]]
        steady = [(r["own_cpu"] - start_cpu + r["bpf"]) / r["workload_cpu"] for r in rows]
        print("treeprof CPU per second of run at %s: %.2f ms/s (median); steady-state cost "
              "(start-up taken out): %.2f%%" % (name, 1000 * statistics.median(per_s),
                                                 100 * statistics.median(steady)))
    for frames, rows in ((100, deep_rows), (10, shallow_rows)):
        ns = [r["bpf_sample_ns"] / max(r["samples"], 1) for r in rows]
        pys = sum(r["py_samples"] for r in rows)
        comp = sum(r["py_complete"] for r in rows)
        print("BPF run time per traced sample, %d-frame Python stack (deep.py, 999 Hz): "
              "%.2f us (median of %d runs; includes the early-return cost of untraced "
              "samples); complete stacks %.2f%% of %d"
              % (frames, statistics.median(ns) / 1000, len(ns), 100.0 * comp / max(pys, 1),
                 pys))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""make bench, real applications: what treeprof costs on the test bed's PyTorch job.

The job is a PyTorch training loop fed by a DataLoader with 4 fork workers
(tests/workloads/torch_loader.py: tests/apps/programs/torch_train.py's dataset, model and
training step, on a fixed number of batches) on Debian's /usr/bin/python3 with
python3-torch. It runs three ways, interleaved, BENCH_APPS_RUNS times (default 3):
no profiler; `treeprof record -F 99`; `treeprof record --mem` (launched, so the tree gets
the preloaded allocation sampler; the table says which mode was used).

Measured as tests/bench.py does, with its helpers: wall clock is the job's own
TOTAL_ELAPSED; workload CPU is the CPU time of every process of the tree (wait4 rusage of
the launched command, treeprof's own CPU taken out); treeprof's CPU and its BPF programs'
run time (kernel.bpf_stats_enabled, on for the benchmark only) come from the recording's
stats; cost = (treeprof CPU + BPF) / workload CPU. Medians; a Markdown table on stdout.
"""
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
import bench  # noqa: E402  (run_measured, elapsed, report, traced_run, med, bpf_stats)

PYTHON = "/usr/bin/python3"
JOB = os.path.join(ROOT, "tests", "workloads", "torch_loader.py")
WORKERS = 4
RUNS = int(os.environ.get("BENCH_APPS_RUNS", "3"))
# batches trained: ~15 s of wall clock on the 2-CPU bench VM (TORCH_LOADER_STEPS overrides)
STEPS = int(os.environ.get("TORCH_LOADER_STEPS", "800"))


def log(msg):
    print("bench-apps: " + msg, file=sys.stderr, flush=True)


def job_argv():
    return [PYTHON, JOB, str(STEPS), str(WORKERS)]


def bare_run():
    out, cpu, status = bench.run_measured(job_argv())
    if status != 0:
        raise SystemExit("bench-apps: the job exited with status %d" % status)
    return {"wall": bench.elapsed(out, "bench-apps"), "workload_cpu": cpu}


def mem_run(tmp):
    """`treeprof record --mem` (default sampling, CPU sampling at the default 99 Hz, as a user
    runs it), measured as bench.traced_run measures `record -F HZ`."""
    row = bench.traced_run(job_argv(), None, tmp, ["--mem"], "bench-apps")
    st = row["stats"]
    if not st.get("mem_preload_sampler"):
        mode = "uprobes"
    elif st.get("mem_processes_without_sampler"):
        mode = "preloaded sampler (%d processes on uprobes)" % st["mem_processes_without_sampler"]
    else:
        mode = "preloaded sampler"
    row.update(mode=mode, mem_sample=st.get("mem_sample_bytes", 0))
    return row


def versions():
    r = subprocess.run([PYTHON, "-c", "import sys, torch; print('%d.%d.%d' % "
                        "sys.version_info[:3], torch.__version__)"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("bench-apps: %s cannot import torch (Debian package python3-torch; "
                         "make deps installs it)\n%s" % (PYTHON, r.stderr[-2000:]))
    return r.stdout.split()


def main():
    if os.geteuid() != 0:
        raise SystemExit("bench-apps: run as root (sudo make bench)")
    for f in (bench.TREEPROF, os.path.join(ROOT, "libtreeprof-mem.so")):
        if not os.path.exists(f):
            raise SystemExit("bench-apps: %s is missing (make bench builds it)" % f)
    pyver, torchver = versions()
    base, f99, mem = [], [], []
    with bench.bpf_stats(), tempfile.TemporaryDirectory() as tmp:
        for i in range(RUNS):
            log("PyTorch DataLoader job, run %d/%d: no profiler" % (i + 1, RUNS))
            base.append(bare_run())
            log("PyTorch DataLoader job, run %d/%d: record -F 99" % (i + 1, RUNS))
            f99.append(bench.traced_run(job_argv(), 99, tmp))
            log("PyTorch DataLoader job, run %d/%d: record --mem" % (i + 1, RUNS))
            mem.append(mem_run(tmp))

    med = bench.med
    bw, bc = med(base, "wall"), med(base, "workload_cpu")
    modes = sorted({r["mode"] for r in mem})
    print("\n### PyTorch DataLoader job (Debian python %s, torch %s, %d fork workers, "
          "%d batches; median of %d interleaved runs)\n" % (pyver, torchver, WORKERS, STEPS,
                                                           RUNS))
    print("Command: `sudo make bench` (tests/bench_apps.py, tests/workloads/torch_loader.py; "
          "BENCH_APPS_RUNS=%d)\n" % RUNS)
    print("| torch_loader.py | wall (s) | slowdown | workload CPU (s) | treeprof CPU (s) "
          "| BPF (s) | cost | samples | drops | --mem sampler |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    print("| no profiler | %.2f | — | %.2f | — | — | — | — | — | — |" % (bw, bc))
    for name, rows, mode in (("treeprof record -F 99", f99, "—"),
                             ("treeprof record --mem", mem, ", ".join(modes))):
        w, c = med(rows, "wall"), med(rows, "workload_cpu")
        print("| %s | %.2f | %+.1f%% | %.2f (%+.1f%%) | %.3f | %.4f | %.2f%% | %d | %d | %s |"
              % (name, w, 100 * (w / bw - 1), c, 100 * (c / bc - 1), med(rows, "own_cpu"),
                 med(rows, "bpf"), 100 * med(rows, "cost"), med(rows, "samples"),
                 sum(r["drops"] for r in rows), mode))
    print("\nWorkload CPU: every process of the tree (trainer and DataLoader workers), in "
          "parentheses against no profiler. Under --mem the preloaded sampler runs inside "
          "the tree's processes (default --mem-sample %d bytes), so its work is in the "
          "workload's CPU, not in cost. Drops: summed over the runs." %
          med(mem, "mem_sample"))


if __name__ == "__main__":
    main()

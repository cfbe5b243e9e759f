#!/usr/bin/env python3
"""make bench, live and top: treeprof's own CPU in each view, next to record.

On the reference CPU tree (tests/workloads/cpu_tree.py, the interpreter of tests/bench.py) at
999 Hz, runs are interleaved, BENCH_RUNS times (default 3): record; live to /dev/null; live
into a pipe that a reader drains; live --json to /dev/null; top without a terminal (plain
snapshots to /dev/null); top on a terminal (an 80x24 tmux pane). Every run also writes the
recording (-o), whose stats give treeprof's own CPU time (getrusage at the end of the run,
the launched tree excluded), the run's duration, samples and drops.

Reported per view: treeprof's CPU per second of run in % of one core (the figure the
targets are about: top under 2 %, live no more than record plus the cost of printing), its
CPU per sample received (steadier when other work shares the machine), and the difference
with record.
"""
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TREEPROF = os.path.join(ROOT, "treeprof")
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
HZ = 999

sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.dont_write_bytecode = True  # no tests/__pycache__
import bench  # noqa: E402  (workload_argv: the same tree and interpreter as make bench)


def stats(data):
    out = subprocess.run([TREEPROF, "report", data, "--format", "json"], capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out)["stats"]


def run_plain(cmd, stdout):
    r = subprocess.run(cmd, stdout=stdout, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise SystemExit("bench_live: %s exited %d: %s" % (cmd[:3], r.returncode, r.stderr))


def run_pipe(cmd):
    """stdout into a pipe drained by a reader process, as a terminal would."""
    reader = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    try:
        run_plain(cmd, reader.stdin)
    finally:
        reader.stdin.close()
        reader.wait()


def run_tmux(cmd, tmp):
    """stdout on an 80x24 terminal: a tmux pane of a private server."""
    sock = "treeprof-bench-%d" % os.getpid()
    done, err = os.path.join(tmp, "tmux.done"), os.path.join(tmp, "tmux.err")
    if os.path.exists(done):
        os.unlink(done)
    shell = "%s 2>%s; echo $? > %s" % (" ".join(shlex.quote(a) for a in cmd), err, done)
    subprocess.run(["tmux", "-L", sock, "-f", "/dev/null", "new-session", "-d", "-x", "80",
                    "-y", "24", shell], check=True)
    try:
        end = time.monotonic() + 600
        while not os.path.exists(done) and time.monotonic() < end:
            time.sleep(0.2)
        time.sleep(0.2)
        if not os.path.exists(done) or open(done).read().strip() != "0":
            raise SystemExit("bench_live: top under tmux failed: " + open(err).read())
    finally:
        subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True)


MODES = [  # name, treeprof arguments before "--", how stdout is taken
    ("record", ["record", "-q"], "null"),
    ("live > /dev/null", ["live"], "null"),
    ("live into a pipe (cat)", ["live"], "pipe"),
    ("live --json > /dev/null", ["live", "--json"], "null"),
    ("top, no terminal", ["top"], "null"),
    ("top, 80x24 terminal (tmux)", ["top"], "tmux"),
]


def main():
    if os.geteuid() != 0:
        raise SystemExit("bench_live: run as root (sudo make bench)")
    tree, py = bench.workload_argv("cpu_tree.py")
    modes = [m for m in MODES if m[2] != "tmux" or shutil.which("tmux")]
    rows = {m[0]: [] for m in modes}
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "live.data")
        for i in range(RUNS):
            for name, args, how in modes:
                print("bench_live: run %d/%d: %s" % (i + 1, RUNS, name), file=sys.stderr,
                      flush=True)
                cmd = [TREEPROF] + args + ["-F", str(HZ), "-o", data, "--"] + tree
                with open(os.devnull, "w") as null:
                    if how == "null":
                        run_plain(cmd, null)
                    elif how == "pipe":
                        run_pipe(cmd)
                    else:
                        run_tmux(cmd, tmp)
                st = stats(data)
                rows[name].append({
                    "cpu": st["treeprof_cpu_ns"] / 1e9,
                    "dur": st["duration_ns"] / 1e9,
                    "samples": st.get("bpf_samples", 0),
                    "drops": st.get("ringbuf_drops", 0),
                })

    def pct(r):
        return 100.0 * r["cpu"] / r["dur"]

    def us(r):
        return 1e6 * r["cpu"] / max(r["samples"], 1)

    base = statistics.median(us(r) for r in rows["record"])
    print("## treeprof live and top: own CPU at %d Hz (%s, cpu_tree.py, %d runs each, "
          "interleaved, medians)\n" % (HZ, py, RUNS))
    print("Command: `sudo make bench` (tests/bench_live.py; BENCH_RUNS=%d)\n" % RUNS)
    print("| view | treeprof CPU (s) | run (s) | % of one core | samples | us per sample "
          "| vs record | drops |")
    print("|---|---|---|---|---|---|---|---|")
    for name, _, _ in modes:
        rs = rows[name]
        u = statistics.median(us(r) for r in rs)
        print("| %s | %.3f | %.2f | %.2f%% | %d | %.1f | %s | %d |" % (
            name, statistics.median(r["cpu"] for r in rs),
            statistics.median(r["dur"] for r in rs), statistics.median(pct(r) for r in rs),
            statistics.median(r["samples"] for r in rs), u,
            "—" if name == "record" else "%+.1f us" % (u - base),
            sum(r["drops"] for r in rs)))
    print("\n%% of one core: treeprof's CPU time over the run's duration (which includes "
          "loading the BPF programs, ~0.1 s). us per sample: the same CPU time over the "
          "samples received; at %d Hz on N busy CPUs a view costs about N x %d x that." % (
              HZ, HZ))

if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Stress treeprof (`make stress`, as root; not part of `make test`):

  storm     a C parent (tests/workloads/forker.c, built here with cc) forking 1000
            short-lived children a second for 10 s under `record -F 99 -- CMD`: every child
            it made is in the recording, marked exited; treeprof's peak RSS (ru_maxrss from
            wait4) is reported and bounded
  pystorm   the same with a Python parent (tests/workloads/churn.py storm), as fast as it
            forks up to 1000 a second
  crowd     200 processes alive at once for ~10 s, each burning a little every 100 ms, under
            `record -F 499`: all of them are in the recording, exited, with no ring drops
  long      STRESS_LONG_SECONDS (default 600) at 999 Hz on a CPU-bound tree, treeprof's
            VmRSS sampled every 10 s: after the first minute it must stay within 20% of its
            value at one minute

Environment: STRESS_LONG_SECONDS, STRESS_ONLY (comma-separated names), STRESS_KEEP (keep
the scratch directory). Prints a results table; exits 1 if any check failed."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TREEPROF = os.path.join(ROOT, "treeprof")
CHURN = os.path.join(ROOT, "tests", "workloads", "churn.py")
FORKER_C = os.path.join(ROOT, "tests", "workloads", "forker.c")

LONG_SECONDS = float(os.environ.get("STRESS_LONG_SECONDS", "600"))
STORM_RATE, STORM_SECONDS = 1000, 10
STORM_RSS_LIMIT_MB = 200    # peak RSS for ~10,000 processes
CROWD_PROCS, CROWD_SECONDS = 200, 10
LONG_GROWTH = 0.20          # allowed VmRSS growth after the first minute


def host_python():
    """pyenv's 3.11 when present, else Debian's python3 (as the integration tests)."""
    vdir = os.path.join(os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv"),
                        "versions")
    if os.path.isdir(vdir):
        for v in sorted(os.listdir(vdir), reverse=True):
            exe = os.path.join(vdir, v, "bin", "python3.11")
            if v.startswith("3.11.") and os.access(exe, os.X_OK):
                return exe
    return shutil.which("python3.11") or "/usr/bin/python3"


def vmrss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def record(tmp, name, treeprof_args, workload, on_tick=None, tick=10.0):
    """Run `treeprof record ... -- workload`, calling on_tick(pid, elapsed) every `tick`
    seconds. Returns (exit status, peak RSS in KiB, seconds, stderr)."""
    err_path = os.path.join(tmp, name + ".stderr")
    t0 = time.monotonic()
    with open(err_path, "w") as err, open(os.devnull, "w") as out:
        p = subprocess.Popen([TREEPROF, "record"] + treeprof_args + ["--"] + workload,
                             stdout=out, stderr=err)
    next_tick = t0 + tick
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        now = time.monotonic()
        if on_tick and now >= next_tick:
            on_tick(p.pid, now - t0)
            next_tick += tick
        time.sleep(0.05)
    p.returncode = os.waitstatus_to_exitcode(status)
    return p.returncode, ru.ru_maxrss, time.monotonic() - t0, open(err_path).read()


def report(data):
    r = subprocess.run([TREEPROF, "report", data, "--format", "json"], capture_output=True,
                       text=True, timeout=600)
    if r.returncode:
        raise RuntimeError("report %s: %s" % (data, r.stderr.strip()))
    return json.loads(r.stdout), r.stderr


def manifest(path):
    kids, count = [], None
    with open(path) as f:
        for line in f:
            w = line.split()
            if w[0] == "COUNT":
                count = int(w[1])
            elif w[0] == "child":
                kids.append(int(w[1]))
    return kids, count


def check_children(rep, kids):
    """(missing, not marked exited) of the children's pids."""
    procs = {p["pid"]: p for p in rep["processes"]}
    missing = [k for k in kids if k not in procs]
    alive = [k for k in kids if k in procs and not procs[k]["exited"]]
    return missing, alive


def stress_storm(tmp, python=False):
    name = "pystorm" if python else "storm"
    data, man = os.path.join(tmp, name + ".data"), os.path.join(tmp, name + ".manifest")
    if python:
        cmd = [host_python(), CHURN, "storm", "--out", man, "--rate", str(STORM_RATE),
               "--seconds", str(STORM_SECONDS)]
    else:
        forker = os.path.join(tmp, "forker")
        subprocess.run(["cc", "-O2", "-o", forker, FORKER_C], check=True)
        cmd = [forker, man, str(STORM_RATE), str(STORM_SECONDS)]
    rc, rss, took, err = record(tmp, name, ["-q", "-F", "99", "-o", data], cmd)
    kids, count = manifest(man)
    rep, rerr = report(data)
    missing, alive = check_children(rep, kids)
    st = rep["stats"]
    fails = []
    if rc:
        fails.append("treeprof exit %d: %s" % (rc, err.strip()[-300:]))
    if count != len(kids):
        fails.append("manifest: COUNT %s but %d child lines" % (count, len(kids)))
    if missing:
        fails.append("%d of %d children missing (e.g. %s)" % (len(missing), len(kids),
                                                              missing[:5]))
    if alive:
        fails.append("%d children not marked exited (e.g. %s)" % (len(alive), alive[:5]))
    if rss > STORM_RSS_LIMIT_MB * 1024:
        fails.append("peak RSS %.1f MB > %d MB" % (rss / 1024, STORM_RSS_LIMIT_MB))
    figures = "%d children (%.0f/s), %d in recording, forks %d, drops %d, peak RSS %.1f MB" % (
        len(kids), len(kids) / STORM_SECONDS, len(kids) - len(missing), st.get("forks", -1),
        st.get("ringbuf_drops", -1), rss / 1024)
    return fails, figures


def stress_crowd(tmp):
    data, man = os.path.join(tmp, "crowd.data"), os.path.join(tmp, "crowd.manifest")
    rc, rss, took, err = record(
        tmp, "crowd", ["-q", "-F", "499", "-o", data],
        [host_python(), CHURN, "crowd", "--out", man, "--procs", str(CROWD_PROCS),
         "--seconds", str(CROWD_SECONDS), "--child-ms", "1"])
    kids, _ = manifest(man)
    rep, rerr = report(data)
    missing, alive = check_children(rep, kids)
    procs = {p["pid"]: p for p in rep["processes"]}
    sampled = sum(1 for k in kids if k in procs and procs[k]["samples"] > 0)
    drops = rep["stats"].get("ringbuf_drops")
    fails = []
    if rc:
        fails.append("treeprof exit %d: %s" % (rc, err.strip()[-300:]))
    if len(kids) != CROWD_PROCS:
        fails.append("the workload made %d children, not %d" % (len(kids), CROWD_PROCS))
    if missing:
        fails.append("%d of %d children missing (e.g. %s)" % (len(missing), len(kids),
                                                              missing[:5]))
    if alive:
        fails.append("%d children not marked exited" % len(alive))
    if drops != 0:
        fails.append("ringbuf_drops %s" % drops)
    figures = "%d children, %d in recording, %d with samples, %d samples, drops %s, " \
        "peak RSS %.1f MB" % (len(kids), len(kids) - len(missing), sampled,
                              sum(p["samples"] for p in rep["processes"]), drops, rss / 1024)
    return fails, figures


def stress_long(tmp):
    data, man = os.path.join(tmp, "long.data"), os.path.join(tmp, "long.manifest")
    series = []

    def tick(pid, elapsed):
        kb = vmrss_kb(pid)
        if kb is not None:
            series.append((elapsed, kb))
            print("  long: %6.0f s  VmRSS %8.1f MB" % (elapsed, kb / 1024), flush=True)

    rc, rss, took, err = record(
        tmp, "long", ["-q", "-F", "999", "-o", data],
        [host_python(), CHURN, "burn", "--out", man, "--procs", "2",
         "--seconds", str(LONG_SECONDS)], on_tick=tick)
    rep, rerr = report(data)
    fails = []
    if rc:
        fails.append("treeprof exit %d: %s" % (rc, err.strip()[-300:]))
    base = [kb for t, kb in series if t >= 59]
    if len(base) < 2:
        fails.append("run too short to judge growth after the first minute (%d points)"
                     % len(base))
        growth = 0.0
    else:
        growth = (max(base) - base[0]) / base[0]
        if growth > LONG_GROWTH:
            fails.append("VmRSS grew %.0f%% after the first minute (%.1f MB at %.0f s -> "
                         "%.1f MB max)" % (100 * growth, base[0] / 1024,
                                           [t for t, _ in series if t >= 59][0],
                                           max(base) / 1024))
    nsamples = sum(p["samples"] for p in rep["processes"])
    first = series[0][1] if series else 0
    last = series[-1][1] if series else 0
    figures = "%.0f s, %d samples, drops %s, VmRSS %.1f -> %.1f MB (%.0f bytes/sample), " \
        "peak %.1f MB, growth after 1 min %.0f%%" % (
            took, nsamples, rep["stats"].get("ringbuf_drops"), first / 1024, last / 1024,
            (last - first) * 1024 / max(1, nsamples), rss / 1024, 100 * growth)
    return fails, figures, series


def main():
    if os.geteuid() != 0:
        sys.exit("stress: run as root (treeprof loads BPF programs)")
    if not os.access(TREEPROF, os.X_OK):
        sys.exit("stress: build ./treeprof first (make)")
    only = [s for s in os.environ.get("STRESS_ONLY", "").split(",") if s]
    tmp = tempfile.mkdtemp(prefix="treeprof-stress-")
    results = []
    try:
        for name, fn in (("storm", stress_storm),
                         ("pystorm", lambda tmp: stress_storm(tmp, python=True)),
                         ("crowd", stress_crowd), ("long", stress_long)):
            if only and name not in only:
                continue
            print("stress: %s ..." % name, flush=True)
            t0 = time.monotonic()
            try:
                out = fn(tmp)
                fails, figures = out[0], out[1]
            except Exception as e:  # a crash of a scenario is a failure, not the end
                fails, figures = ["%s: %s" % (type(e).__name__, e)], ""
            results.append((name, fails, figures, time.monotonic() - t0))
            print("stress: %s %s in %.0f s: %s" % (name, "FAIL" if fails else "ok",
                                                   time.monotonic() - t0, figures), flush=True)
            for f in fails:
                print("    " + f, flush=True)
    finally:
        if os.environ.get("STRESS_KEEP"):
            print("stress: kept " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("\n%-8s %-6s %6s  %s" % ("TEST", "RESULT", "TIME", "FIGURES"))
    for name, fails, figures, took in results:
        print("%-8s %-6s %5.0fs  %s" % (name, "FAIL" if fails else "pass", took, figures))
        for f in fails:
            print("%-22s %s" % ("", f))
    sys.exit(1 if any(f for _, f, _, _ in results) else 0)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""make bench (second part): what `treeprof report` costs on a big recording.

Builds a synthetic recording of 1 M samples across 50 processes with tests/tools/
gen_recording.c (the real profile and datafile code; the stacks move like a CPU-bound
program's: runs of one stack, small steps between neighbouring stacks, rare jumps) and
times `treeprof report` in every format to /dev/null (-o for binary ones): wall time and
peak RSS of the report process (wait4's ru_maxrss). Targets: under 2 s and 200 MB each.
Prints a Markdown table; exits 1 when a format misses a target or fails.

BENCH_REPORT_SAMPLES and BENCH_REPORT_PROCS change the size.
"""
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TREEPROF = os.path.join(ROOT, "treeprof")
GEN = os.path.join(ROOT, ".output", "tests", "gen_recording")
SAMPLES = int(os.environ.get("BENCH_REPORT_SAMPLES", "1000000"))
PROCS = int(os.environ.get("BENCH_REPORT_PROCS", "50"))
MAX_S, MAX_MB = 2.0, 200


def formats():
    """Every format of ./treeprof, from the error listing them."""
    r = subprocess.run([TREEPROF, "report", "/dev/null", "--format", "?"],
                       capture_output=True, text=True)
    listing = r.stderr.split("unknown format '?' (", 1)[-1].split(")", 1)[0]
    names = [n.strip() for n in listing.split(",") if n.strip()]
    return names or ["text", "folded", "json", "pprof", "speedscope", "chrome"]


def measured(cmd):
    """(wall seconds, peak RSS in MB, exit status) of cmd, stdout to /dev/null."""
    with open(os.devnull, "wb") as null:
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, stdout=null, stderr=subprocess.PIPE)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.monotonic() - t0
        err = p.stderr.read().decode(errors="replace").strip()
    return wall, ru.ru_maxrss / 1024.0, os.waitstatus_to_exitcode(status), err


def main():
    subprocess.run(["make", "-s", "-C", ROOT, "treeprof", os.path.relpath(GEN, ROOT)],
                   check=True)
    with tempfile.TemporaryDirectory(prefix="treeprof-bench-report-") as tmp:
        data = os.path.join(tmp, "big.data")
        t0 = time.monotonic()
        subprocess.run([GEN, data, str(SAMPLES), str(PROCS)], check=True)
        gen_s = time.monotonic() - t0
        print("\n## treeprof report on %d samples, %d processes (%.1f MB recording, "
              "written in %.1f s)\n" % (SAMPLES, PROCS, os.path.getsize(data) / 1e6, gen_s))
        print("| format | wall (s) | peak RSS (MB) | output (MB) | within 2 s / 200 MB |")
        print("|---|---:|---:|---:|---|")
        bad = 0
        for fmt in formats():
            out = os.path.join(tmp, "out." + fmt)
            wall, mb, rc, err = measured([TREEPROF, "report", data, "--format", fmt,
                                          "-o", out])
            size = os.path.getsize(out) / 1e6 if os.path.exists(out) else 0.0
            ok = rc == 0 and wall < MAX_S and mb < MAX_MB
            bad += not ok
            print("| %s | %.2f | %.0f | %.1f | %s |" % (
                fmt, wall, mb, size,
                "yes" if ok else ("FAILED: " + err[:80] if rc else "no")))
            if os.path.exists(out):
                os.unlink(out)
        print("\ncommand: make bench (tests/bench_report.py)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""A parent on one Python version that runs a child on another.

    mixed_parent.py --child /path/to/other/python [--seconds S] [--manifest FILE]

The parent starts `CHILD mixed_parent.py --role child` with subprocess, then both burn
S seconds of CPU at the same time: the parent in parent_version_hot, the child in
child_version_hot (the same loop under the child's own name).  Each appends
"ROLE PID PPID MAJOR.MINOR" to the manifest.
The child may be any Python 3.8+; so may the parent.  Standard library only.
"""
import argparse
import os
import subprocess
import sys
import time

from _common import renamed


def parent_version_hot(seconds):
    """Burns `seconds` of CPU in its own frame (the tests check the leaf Python frame)."""
    end = time.process_time() + seconds
    x = 0
    while time.process_time() < end:
        for i in range(2000):
            x += i * i
    return x


child_version_hot = renamed(parent_version_hot, "child_version_hot")


def note(manifest, role):
    if manifest:
        with open(manifest, "a") as f:
            f.write("%s %d %d %d.%d\n" % (role, os.getpid(), os.getppid(),
                                          sys.version_info[0], sys.version_info[1]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--child", help="the child's Python interpreter")
    ap.add_argument("--role", default="parent", choices=["parent", "child"])
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--manifest")
    a = ap.parse_args()
    note(a.manifest, a.role)
    if a.role == "child":
        child_version_hot(a.seconds)
        return
    if not a.child:
        ap.error("--child is required in the parent")
    cmd = [a.child, os.path.abspath(__file__), "--role", "child", "--seconds", str(a.seconds)]
    if a.manifest:
        cmd += ["--manifest", a.manifest]
    child = subprocess.Popen(cmd)
    parent_version_hot(a.seconds)
    if child.wait() != 0:
        sys.exit("child %s exited %d" % (a.child, child.returncode))


if __name__ == "__main__":
    main()

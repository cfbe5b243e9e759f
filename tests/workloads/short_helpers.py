"""A Python process spinning in spin_parent_hot that starts a short helper about five times a
second: `sh -c` counting to 20000 (some 30 ms of CPU, so that a profile samples
it) and then exiting 0. Over a second several such helpers have lived and gone, which top
and the text report fold into one "N short-lived: sh xN" row.

Usage: short_helpers.py SECONDS"""
import subprocess

from _common import main_for, spin

BUSY = "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done"


def spin_parent_hot():
    spin(0.15)


def start_helper():
    subprocess.run(["sh", "-c", BUSY], check=True)


if __name__ == "__main__":
    main_for(spin_parent_hot, start_helper)

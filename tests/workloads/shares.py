#!/usr/bin/env python3
"""Splits its CPU time 3:1 between three_quarters() and one_quarter().

The two alternate in small slices (3 * SLICE then SLICE seconds, by CPU time measured with
time.process_time, not by iteration count, so the split holds whatever the interpreter's
speed), for --seconds of CPU in all.  Both spin in the same _common.spin(), so only
their names differ: a sampling profiler should find three_quarters on the stack of 75 %
of the samples of this work and one_quarter on 25 %.
Standard library only; runs on Python 3.8 and later.
"""
import argparse
import time

from _common import spin

SLICE = 0.002


def three_quarters(seconds):
    return spin(seconds, time.process_time, 500)


def one_quarter(seconds):
    return spin(seconds, time.process_time, 500)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=2.0, help="CPU time in all")
    a = ap.parse_args()
    end = time.process_time() + a.seconds
    while time.process_time() < end:
        three_quarters(3 * SLICE)
        one_quarter(SLICE)


if __name__ == "__main__":
    main()

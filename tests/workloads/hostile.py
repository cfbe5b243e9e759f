#!/usr/bin/env python3
"""A target that rewrites its own interpreter structures while being profiled (CPython
3.11 only): the profiler reading them must report unknown or truncated frames, never
crash, hang or loop.

- victim(): its code object's co_filename points at unmapped memory and its co_name at
  a forged string object claiming 2**60 UCS-4 characters;
- then its interpreter frame's `previous` points at itself: a cycle in the frame chain.
The function never returns (returning would follow the broken chain): the process ends
with os._exit after --seconds of CPU.
"""
import ctypes
import os
import sys
import time

assert sys.version_info[:2] == (3, 11), "offsets below are CPython 3.11's"

CO_FILENAME, CO_NAME, CO_QUALNAME = 112, 120, 128  # PyCodeObject, 3.11
FRAME_F_FRAME = 24                                 # PyFrameObject.f_frame, 3.11
IFRAME_PREVIOUS = 48                               # _PyInterpreterFrame.previous, 3.11

# A forged compact str: refcnt, type (str), length 2**60, hash, state (kind 4, compact).
forged = (ctypes.c_uint64 * 16)()
forged[0] = 1 << 30
forged[1] = id(str)
forged[2] = 1 << 60
forged[3] = 0
forged[4] = (4 << 2) | (1 << 5)


def put(addr, value):
    ctypes.c_uint64.from_address(addr).value = value


def victim(seconds):
    code = sys._getframe().f_code
    put(id(code) + CO_FILENAME, 0x10)
    put(id(code) + CO_NAME, ctypes.addressof(forged))
    put(id(code) + CO_QUALNAME, ctypes.addressof(forged))
    iframe = ctypes.c_uint64.from_address(id(sys._getframe()) + FRAME_F_FRAME).value
    put(iframe + IFRAME_PREVIOUS, iframe)
    end = time.monotonic() + seconds
    x = 0
    while time.monotonic() < end:
        x += 1
    os._exit(0)


if __name__ == "__main__":
    victim(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0)

#!/usr/bin/env python3
"""mem_ranges: anonymous mappings whose accounting must follow what the kernel gives the
process, for the memory tests (standard library only: ctypes on libc's mmap, mprotect and
munmap, which the preloaded sampler interposes and attach mode sees as system calls).

Each function below is called once from main, in this order, and keeps what it says:

    reserve_address_space  4 GiB mapped PROT_NONE (MAP_NORESERVE): a reservation, which
                           allocates nothing
    commit_part            64 MiB of it made PROT_READ|PROT_WRITE by mprotect, touched, kept
    commit_then_decommit   16 MiB more of it made accessible, touched, then PROT_NONE again
    aligned_block          a 64 MiB mapping trimmed by two munmaps (head and tail) to the
                           32 MiB block inside it aligned to 32 MiB, touched, kept
    punch_hole             a 96 MiB mapping whose middle 32 MiB is unmapped; 64 MiB kept

main prints one JSON line with the truth and returns (a normal exit):
    {"tool": "mem_ranges", "pid": ..., "python": ..., "reserved_bytes": ...,
     "kept_bytes": ..., "peak_bytes": ...,
     "functions": {NAME: {"alloc_bytes": ..., "live_at_exit_bytes": ...}}}
kept_bytes is what the mappings hold at exit, peak_bytes the most they held at once (when
punch_hole has mapped its 96 MiB), the interpreter's own heap aside."""
import ctypes
import json
import mmap
import os
import sys

MIB = 1 << 20
GIB = 1 << 30
RESERVE = 4 * GIB
COMMIT = 64 * MIB
DECOMMIT = 16 * MIB
ALIGNED = 32 * MIB
HOLE_MAP, HOLE = 96 * MIB, 32 * MIB
PROT_NONE = 0
RW = mmap.PROT_READ | mmap.PROT_WRITE
MAP_NORESERVE = getattr(mmap, "MAP_NORESERVE", 0x4000)

libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                      ctypes.c_int, ctypes.c_long]
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]


def _check(rc, what):
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, "%s: %s" % (what, os.strerror(err)))


def _map(size, prot, flags=0):
    p = libc.mmap(None, size, prot, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | flags, -1, 0)
    if p in (None, ctypes.c_void_p(-1).value):
        err = ctypes.get_errno()
        raise OSError(err, "mmap: %s" % os.strerror(err))
    return p


def reserve_address_space():
    return _map(RESERVE, PROT_NONE, MAP_NORESERVE)


def commit_part(base):
    _check(libc.mprotect(base, COMMIT, RW), "mprotect")
    ctypes.memset(base, 1, COMMIT)


def commit_then_decommit(addr):
    _check(libc.mprotect(addr, DECOMMIT, RW), "mprotect")
    ctypes.memset(addr, 1, DECOMMIT)
    _check(libc.mprotect(addr, DECOMMIT, PROT_NONE), "mprotect PROT_NONE")


def aligned_block():
    p = _map(2 * ALIGNED, RW)
    start = (p + ALIGNED - 1) & ~(ALIGNED - 1)
    if start > p:
        _check(libc.munmap(p, start - p), "munmap head")
    if p + 2 * ALIGNED > start + ALIGNED:
        _check(libc.munmap(start + ALIGNED, p + 2 * ALIGNED - start - ALIGNED), "munmap tail")
    ctypes.memset(start, 1, ALIGNED)
    return start


def punch_hole():
    p = _map(HOLE_MAP, RW)
    _check(libc.munmap(p + HOLE, HOLE), "munmap middle")
    ctypes.memset(p, 1, HOLE)
    ctypes.memset(p + 2 * HOLE, 1, HOLE_MAP - 2 * HOLE)
    return p


def main():
    base = reserve_address_space()
    commit_part(base)
    commit_then_decommit(base + GIB)
    aligned_block()
    punch_hole()
    fns = {
        "reserve_address_space": (0, 0),
        "commit_part": (COMMIT, COMMIT),
        "commit_then_decommit": (DECOMMIT, 0),
        "aligned_block": (2 * ALIGNED, ALIGNED),
        "punch_hole": (HOLE_MAP, HOLE_MAP - HOLE),
    }
    print(json.dumps({
        "tool": "mem_ranges", "pid": os.getpid(), "python": sys.version.split()[0],
        "reserved_bytes": RESERVE, "kept_bytes": sum(live for _, live in fns.values()),
        "peak_bytes": COMMIT + ALIGNED + HOLE_MAP,
        "functions": {k: {"alloc_bytes": a, "live_at_exit_bytes": live}
                      for k, (a, live) in fns.items()}}, sort_keys=True), flush=True)


if __name__ == "__main__":
    main()

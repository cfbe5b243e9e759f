"""A process that keeps memory until its code ends, then exits normally: the interpreter's
finalization (Py_FinalizeEx) frees what the globals hold, which must not hide it.

keep_at_exit(n) makes n blocks of 1 MiB referenced from a global; main prints
{"pid": ..., "kept_bytes": ...} and returns (no os._exit)."""
import json
import os
import sys

BLOCK = 1 << 20
_kept = []


def keep_at_exit(n):
    for _ in range(n):
        _kept.append(bytearray(BLOCK))


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    keep_at_exit(n)
    print(json.dumps({"pid": os.getpid(), "kept_bytes": n * BLOCK}), flush=True)


if __name__ == "__main__":
    main()

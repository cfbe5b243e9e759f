"""Dump line tables and CPython's own line mapping for a sample of the standard library.

Run by the interpreter under test (3.8 or later). For every code object found by compiling
the sampled stdlib sources (plus a few synthetic sources that hit the rare table forms), it
prints one record that tests/tools/linetable_check.c decodes and compares:

    C <minor> <firstlineno> <code length in bytes> <raw table as hex, or ->
    N <file>:<qualified name>
    R <start byte> <end byte> <line; 0 when CPython says None>     (any number)
    E

Expected ranges come from co_lines() on 3.10+ and from dis.findlinestarts() on 3.8/3.9,
which gives only where lines start: each start runs to the next one, the last to the end of
the code.

usage: python linetable_dump.py [max_files]
"""
import dis
import os
import sys
import sysconfig

SYNTHETIC = [
    # A long jump in lines and in bytes: multi-chunk lnotab entries, 3.10 deltas over 127,
    # 3.11+ long-form and no-column entries.
    "def far():\n    a = 1\n" + "\n" * 400 + "    b = 2\n" + "    c = [\n" + "        1,\n" * 300
    + "    ]\n    return a\n",
    # Lines going backwards (loops, multi-line calls) and artificial instructions (code 15).
    "def back(xs):\n    total = 0\n    for x in xs:\n        total += (\n            x\n"
    "            * 2\n        )\n    while total > 10:\n        total -= 3\n    return total\n",
    "class K:\n    def m(self):\n        try:\n            return 1\n        finally:\n"
    "            pass\n    async def g(self):\n        async with self as s:\n"
    "            yield s\n",
    "x = [i for i in range(3)]\nlambda: (yield)\n",
    "def many():\n" + "".join("    v%d = %d\n" % (i, i) for i in range(3000)),
]


def code_objects(co):
    stack = [co]
    while stack:
        c = stack.pop()
        yield c
        for k in c.co_consts:
            if hasattr(k, "co_code"):
                stack.append(k)


def expected_ranges(co):
    codelen = len(co.co_code)
    if sys.version_info >= (3, 10):
        for start, end, line in co.co_lines():
            if end > start:
                yield start, end, line or 0
        return
    starts = list(dis.findlinestarts(co))
    for i, (start, line) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else codelen
        if end > start:
            yield start, end, line


def dump(co, out):
    minor = sys.version_info[1]
    table = co.co_linetable if minor >= 10 else co.co_lnotab
    name = getattr(co, "co_qualname", co.co_name)
    out.write("C %d %d %d %s\n" % (minor, co.co_firstlineno, len(co.co_code),
                                   table.hex() if table else "-"))
    out.write("N %s:%s\n" % (co.co_filename, name))
    for start, end, line in expected_ranges(co):
        out.write("R %d %d %d\n" % (start, end, line))
    out.write("E\n")


def stdlib_files(limit):
    root = sysconfig.get_paths()["stdlib"]
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames
                             if d not in ("site-packages", "dist-packages", "test", "tests",
                                          "__pycache__", "idle_test"))
        found.extend(os.path.join(dirpath, f) for f in sorted(filenames) if f.endswith(".py"))
    if len(found) > limit:  # an even spread over the whole tree
        step = len(found) / limit
        found = [found[int(i * step)] for i in range(limit)]
    return found


def main():
    if sys.version_info < (3, 8):
        sys.exit("linetable_dump: Python 3.8 or later is needed")
    limit = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    out = sys.stdout
    count = 0
    sources = [("<synthetic-%d>" % i, s.encode()) for i, s in enumerate(SYNTHETIC)]
    for path in stdlib_files(limit):
        try:
            with open(path, "rb") as f:
                sources.append((path, f.read()))
        except OSError:
            pass
    for path, src in sources:
        try:
            top = compile(src, path, "exec", dont_inherit=True)
        except (SyntaxError, ValueError, UnicodeDecodeError):
            continue
        for co in code_objects(top):
            dump(co, out)
            count += 1
    sys.stderr.write("linetable_dump: %d code objects\n" % count)


if __name__ == "__main__":
    main()

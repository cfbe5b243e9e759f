#!/usr/bin/env python3
"""The layer rule of user/ and the no-cycle rule of user/ and bpf/ (make layers-check).

user/ is split into layers, each a folder; a file may include headers of its own layer and of
the layers below it, never above (README "Architecture"):

    lib  <-  profile  <-  symbols  <-  trace
              profile  <-  report
    trace, report  <-  ui
    everything  <-  the commands (user/*.c)

include/treeprof.h (the kernel ABI) and generated headers (.output/: skeletons, version,
HTML templates) may be included from anywhere. The sampler in user/shim/ is loaded into
target processes and stands alone: it includes only its own headers and include/.

No include cycle anywhere: among the headers, and among modules (X.c with X.h), so that
profile.c including datafile.h while datafile.c includes profile.h counts as a cycle.

Prints one line per violation and exits 1 if there is any.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# What each layer may include besides itself.
ALLOWED = {
    "lib": set(),
    "profile": {"lib"},
    "symbols": {"lib", "profile"},
    "trace": {"lib", "profile", "symbols"},
    "report": {"lib", "profile"},
    "ui": {"lib", "profile", "symbols", "trace", "report"},
    "cmd": {"lib", "profile", "symbols", "trace", "report", "ui"},
    "shim": set(),
    "bpf": set(),
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
GENERATED = re.compile(r"(\.skel\.h|_tmpl\.h|^version\.h)$")


def layer_of(rel):
    parts = rel.split("/")
    if parts[0] == "bpf":
        return "bpf"
    if parts[0] == "user":
        return "cmd" if len(parts) == 2 else parts[1]
    return None


def sources():
    out = []
    for top in ("user", "bpf"):
        for d, _, files in os.walk(os.path.join(ROOT, top)):
            for f in files:
                if f.endswith((".c", ".h")):
                    out.append(os.path.relpath(os.path.join(d, f), ROOT))
    return sorted(out)


def resolve(src, inc):
    """The repository file an include names, or None for include/ and generated headers."""
    if inc == "treeprof.h" or GENERATED.search(inc) or inc.startswith("vmlinux"):
        return None
    here = os.path.join(os.path.dirname(src), inc)
    for cand in (here, os.path.join("user", inc), os.path.join("bpf", inc)):
        if os.path.isfile(os.path.join(ROOT, cand)):
            return os.path.normpath(cand)
    return "?" + inc


def find_cycle(graph):
    """One cycle in graph (node -> set of nodes) as a list, or None."""
    state = {}
    stack = []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                c = visit(m)
                if c:
                    return c
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            c = visit(n)
            if c:
                return c
    return None


def main():
    errors = []
    headers = {}
    modules = {}
    for src in sources():
        with open(os.path.join(ROOT, src), encoding="utf-8", errors="replace") as f:
            text = f.read()
        lay = layer_of(src)
        for inc in INCLUDE.findall(text):
            dst = resolve(src, inc)
            if dst is None:
                continue
            if dst.startswith("?"):
                errors.append(f"{src}: includes \"{inc}\", which is no file of user/ or bpf/")
                continue
            dlay = layer_of(dst)
            if dlay != lay and dlay not in ALLOWED[lay]:
                errors.append(f"{src}: includes {dst}: layer {lay} may not include "
                              f"layer {dlay}")
            if src.endswith(".h"):
                headers.setdefault(src, set()).add(dst)
            a, b = os.path.splitext(src)[0], os.path.splitext(dst)[0]
            if a != b:
                modules.setdefault(a, set()).add(b)
    for name, graph in (("header", headers), ("module", modules)):
        cyc = find_cycle(graph)
        if cyc:
            errors.append(f"{name} include cycle: " + " -> ".join(cyc))
    for e in errors:
        print("layers: " + e)
    if not errors:
        print("layers: ok (%d files)" % len(sources()))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

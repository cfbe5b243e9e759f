"""treeprof on the kernels users have: Debian's own kernel packages booted under qemu
(tests/kernels.py), with this build and the host's Debian files shared into the guest,
running a smoke subset of the integration tests inside.

`make test` boots bookworm's 6.1 and trixie's 6.12 (TREEPROF_TEST_KERNELS overrides the
list); `make test-kernels` adds the oldest kernel the mirror offers, bullseye's 5.10, on
which treeprof must either pass the same subset or refuse with one line naming what the
kernel lacks.

The subset: a launched and an attached tree with Python frames (Debian's python3.11,
trixie's python3.13 in its root, pyenv's 3.8 and 3.13), --mem with the preloaded sampler
and with uprobes, launched and attached, live --json, top, and a SIGKILL of treeprof
leaving nothing attached. Timing-sensitive checks (share of samples with Python frames)
stay on the host: the guest's CPU is emulated, so start-up weighs far more there."""
import os
import re
import shutil
import sys
import warnings

import pytest

from conftest import ROOT, need

sys.path.insert(0, os.path.join(ROOT, "tests"))
_dont_write, sys.dont_write_bytecode = sys.dont_write_bytecode, True
import kernels  # noqa: E402  (tests/kernels.py)
import roots  # noqa: E402
sys.dont_write_bytecode = _dont_write

SMOKE = [
    "test_tree.py::test_record_launch_traces_every_shape",
    "test_tree.py::test_attach_running_tree_sees_existing_and_later_children",
    "test_tree.py::test_nothing_left_attached_after_sigkill",
    "test_python_versions.py::test_nested_method_qualname_and_hot_line[debian-3.11]",
    "test_python_versions.py::test_nested_method_qualname_and_hot_line[trixie-3.13]",
    "test_python_versions.py::test_deep_recursion_complete_in_one_stack[debian-3.11]",
    "test_python_versions.py::test_deep_recursion_complete_in_one_stack[trixie-3.13]",
    "test_python_versions.py::test_nested_method_qualname_and_hot_line[pyenv-3.8]",
    "test_python_versions.py::test_nested_method_qualname_and_hot_line[pyenv-3.13]",
    "test_memory.py::test_bytes_allocated_per_function[debian-3.11-auto]",
    "test_memory.py::test_bytes_allocated_per_function[debian-3.11-uprobes]",
    "test_memory.py::test_memops_launched[auto]",
    "test_memory.py::test_memops_launched[uprobes]",
    "test_memory.py::test_memops_attached_with_p",
    "test_live_top.py::test_live_json_lines_hold_every_process_and_event",
    "test_live_top.py::test_top_prints_plain_snapshots_when_not_a_tty",
]
KERNELS = os.environ.get("TREEPROF_TEST_KERNELS", "6.1 6.12").split()
# Kernels that may refuse to run, with one line; the others must pass.
MAY_REFUSE = {"5.10"}

# MEM_TREE_START_DELAY: see tests/workloads/mem_tree.py (a child's probes take about a
# second to place on the emulated CPUs).
GUEST = """
export MEM_TREE_START_DELAY=2
./treeprof record -q -o /tmp/first.data -- /bin/true 2>/out/first.err
echo $? >/out/first.rc
[ "$(cat /out/first.rc)" = 0 ] || exit 0
cd tests/integration
/usr/bin/python3 -m pytest -v -p no:cacheprovider --color=no --durations=0 {tests}
"""


def guest_needs():
    """What the guest must find on the host's shares: the trixie root, built here."""
    path = roots.ensure("trixie")
    for d in ("treeprof/workloads", "treeprof/out", "proc", "dev", "tmp"):
        os.makedirs(os.path.join(path, d), exist_ok=True)


def excerpt(console):
    """What a failure shows of the console: the kernel's first report of a lockup, stall or
    oops with its stack traces, when there is one, then the last lines."""
    lines = console.splitlines()
    first = next((i for i, l in enumerate(lines)
                  if kernels.STUCK.search(l) or re.search(r"\] (Oops|BUG:|WARNING:)", l)), None)
    if first is None or first >= len(lines) - 80:
        return "\n".join(lines[-80:])
    return "\n".join(lines[max(first - 5, 0):first + 120] + ["[...]"] + lines[-30:])


@pytest.mark.parametrize("kernel", KERNELS)
def test_smoke_subset_in_a_guest_kernel(kernel, tmp):
    need(shutil.which("qemu-system-x86_64"), "qemu-system-x86 (make deps installs it)")
    need(shutil.which("busybox"), "busybox-static (make deps installs it)")
    guest_needs()
    log = os.path.join(tmp, "console-%s.log" % kernel)
    with open(log, "w") as f:
        def progress(line):
            f.write(line + "\n")
            f.flush()
        for attempt in (1, 2):
            rc, console, files = kernels.boot(
                kernel, GUEST.format(tests=" ".join(SMOKE)), timeout=1200,
                env={"CI": "true"}, progress=progress)
            # Emulated SMP (qemu's multi-threaded TCG) now and then lets a vCPU run a
            # stale copy of kernel text that another one just patched: an int3 oops, seen
            # at boot once in about ten boots here. And the 6.1 guest twice locked up
            # (soft lockups on both vCPUs in treeprof tasks, an RCU stall) in its first
            # round of tests, in about 30 rounds: whether emulation or 6.1 causes it is
            # not known yet (README "Kernels"). Either way: boot once more, say so in
            # the test's warnings, keep the first console; a second failure fails.
            bad = re.search(r"^\[ *[\d.]+\] (Oops|Kernel panic|BUG:).*", console, re.M)
            if not bad and rc is None:
                bad = kernels.STUCK.search(console)
            if not bad or attempt == 2:
                break
            what = "the %s guest kernel failed (%s): booted again; its console is in %s" % (
                kernel, bad.group(0).strip(), log)
            f.write("[test_kernels] %s\n" % what)
            warnings.warn(what + ":\n" + excerpt(console))
    tail = excerpt(console) + "\n(the whole console: %s)" % log
    assert rc is not None, "the %s guest never finished:\n%s" % (kernel, tail)
    first_rc = int(files.get("first.rc", "-1").strip() or -1)
    first_err = files.get("first.err", "")
    if first_rc != 0:
        lines = first_err.strip().splitlines()
        assert kernel in MAY_REFUSE, "treeprof failed on %s:\n%s" % (kernel, first_err)
        assert len(lines) == 1 and re.search(r"needs Linux \d+\.\d+", lines[0]), (
            "on %s treeprof must refuse with one line naming what the kernel lacks, "
            "said:\n%s" % (kernel, first_err))
        return
    assert first_err == "", "treeprof said on %s:\n%s" % (kernel, first_err)
    m = re.search(r"=+ (\d+) passed", console)
    assert rc == 0 and m and int(m.group(1)) == len(SMOKE), (
        "smoke subset on %s: exit %s, expected %d passed:\n%s"
        % (kernel, rc, len(SMOKE), tail))

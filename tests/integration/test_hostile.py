"""A hostile target: one that rewrites its own interpreter structures while it is being
profiled. treeprof must report unknown or truncated frames, and never crash, hang, loop
or misname anything."""
import os

from conftest import (TREEPROF, WORKLOADS, interpreter, py_frames, report_json, run,
                      stacks_of)


def test_target_rewriting_its_interpreter_structures(tmp):
    py = interpreter("pyenv-3.11")
    data = os.path.join(tmp, "h.data")
    # The frame chain loops and the code object's strings point at garbage: the run must
    # still end by itself (timeout) and exit 0.
    run([TREEPROF, "record", "-q", "-F", "499", "-o", data, "--", py.exe,
         os.path.join(WORKLOADS, "hostile.py"), "1.0"], timeout=60)
    rep = report_json(data)
    st = rep["stats"]
    assert st["python_truncated_stacks"] >= 100, (
        "the self-referencing frame must give truncated stacks, stats: %s" % st)
    leafs = {}
    for count, stack in stacks_of(rep):
        frames = py_frames(stack)
        if frames:
            leafs[frames[-1]["name"]] = leafs.get(frames[-1]["name"], 0) + count
    assert leafs.get("[unknown]", 0) >= 100, (
        "the victim's corrupted code object must show as [unknown], leaves: %s" % leafs)
    assert leafs.get("victim", 0) <= 2, "a corrupted name must not be read as if valid: %s" % leafs
    # Failed reads are remembered, not retried for each of 128 frames of every sample.
    assert st["treeprof_cpu_ns"] < 1.5e9, "treeprof spent %.2f s of CPU" % (
        st["treeprof_cpu_ns"] / 1e9)

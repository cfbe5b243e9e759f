"""Targets in other namespaces: a process in its own pid namespace (as in a container,
where its pids and thread ids differ from the host's) still gets Python frames, and its
host pids are what the recording shows."""
import os

from conftest import TREEPROF, host_python, py_frames, report_json, run, stacks_of

HOT = """
import os, time
def ns_hot():
    t = time.monotonic()
    while time.monotonic() - t < 1.0:
        pass
print("NSPID", os.getpid(), flush=True)
ns_hot()
"""


def test_python_frames_in_another_pid_namespace(tmp):
    data = os.path.join(tmp, "ns.data")
    r = run([TREEPROF, "record", "-q", "-F", "499", "-o", data, "--",
             "unshare", "--pid", "--fork", "--mount-proc", host_python(), "-c", HOT],
            timeout=60)
    assert "NSPID 1" in r.stdout, "the target should be pid 1 in its namespace: " + r.stdout
    rep = report_json(data)
    hot = 0
    for count, stack in stacks_of(rep):
        names = [f["name"] for f in py_frames(stack)]
        if names and names[-1] == "ns_hot":
            hot += count
    # ~1 s of CPU at 499 Hz: most of ~500 samples must be in ns_hot, walked in BPF.
    assert hot >= 300, "expected ~500 samples in ns_hot inside the pid namespace, got %d" % hot
    pids = {p["pid"] for p in rep["processes"]}
    assert 1 not in pids, "host pids are recorded, not the namespace's"

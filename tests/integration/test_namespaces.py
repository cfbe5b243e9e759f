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
    hot = total = 0
    for count, stack in stacks_of(rep):
        names = [f["name"] for f in py_frames(stack)]
        total += count
        if names and names[-1] == "ns_hot":
            hot += count
    # 1 s spinning at 499 Hz (fewer samples on a busy machine): nearly all of the run's
    # samples are in ns_hot, walked in BPF inside the namespace.
    assert hot >= 100 and hot >= 0.8 * total, (
        "expected most samples in ns_hot inside the pid namespace, got %d of %d" % (hot, total))
    pids = {p["pid"] for p in rep["processes"]}
    assert 1 not in pids, "host pids are recorded, not the namespace's"

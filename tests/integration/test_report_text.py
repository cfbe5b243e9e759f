"""The text report on a process whose time goes to a helper called from two callers
(tests/workloads/hot_paths.py): the hot call paths name the callers with their shares, and
the "by total" list leaves out the frames on nearly every sample (<module>, main)."""
import os
import re

import pytest

from conftest import TREEPROF, WORKLOADS, host_python, run

PATH_ROW = re.compile(r"^\s*\d+\s+([\d.]+)%\s+(.+)$")


@pytest.fixture(scope="module")
def text(tmp_path_factory):
    data = str(tmp_path_factory.mktemp("hot") / "hot.data")
    run([TREEPROF, "record", "-q", "-F", "499", "-o", data, "--", host_python(),
         os.path.join(WORKLOADS, "hot_paths.py"), "3"], timeout=60)
    return run([TREEPROF, "report", data]).stdout


def section(text, title):
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith(title))
    out = []
    for ln in lines[start + 1:]:
        if not ln.strip() and out and not out[-1].strip():
            break
        out.append(ln)
    return out


def test_hot_call_paths_name_the_callers_with_their_shares(text):
    rows = section(text, "Top functions per process")
    start = next(i for i, ln in enumerate(rows) if "hot call paths" in ln)
    paths = {}
    for ln in rows[start + 1:]:
        m = PATH_ROW.match(ln)
        if not m:
            break
        paths[m.group(2).strip()] = float(m.group(1))
    major = paths.get("spin < parent_share_major")
    minor = paths.get("spin < parent_share_minor")
    assert major is not None and minor is not None, "hot call paths:\n" + "\n".join(rows)
    # 3:1 by design; start-up (imports) takes a share that grows when the host is busy
    assert 2.0 <= major / minor <= 4.5 and major + minor >= 60, paths


def test_by_total_list_keeps_the_callers_and_leaves_out_frames_on_every_sample(text):
    rows = section(text, "Top functions by total")
    # the workload's own functions (the interpreter's start-up has a main and <module> too)
    funcs = [ln.split(None, 4)[4].split(" (")[0] for ln in rows[1:]
             if len(ln.split()) > 4 and "hot_paths.py" in ln]
    assert "parent_share_major" in funcs and "parent_share_minor" in funcs, "\n".join(rows)
    assert "main" not in funcs and "<module>" not in funcs, "\n".join(rows)

"""Our line-table decoders agree with CPython on its own standard library.

For every installed interpreter (pyenv 3.8-3.13 and Debian's /usr/bin/python3.11), run
linetable_dump.py under it and feed the dump to .output/tests/linetable_check (built by
`make integration`), which compares our decoded line of every code unit with CPython's
co_lines() (3.10+) or dis.findlinestarts() (3.8/3.9). Zero mismatches are required.
"""
import glob
import os
import re
import subprocess

import pytest

from conftest import need

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHECKER = os.path.join(ROOT, ".output", "tests", "linetable_check")
DUMPER = os.path.join(ROOT, "tests", "integration", "linetable_dump.py")
PYENV_ROOT = os.environ.get("PYENV_ROOT", "/root/.pyenv")
MIN_CODE_OBJECTS = 1000  # a real sample, not an empty dump


def interpreters():
    found = []
    for minor in range(8, 14):
        paths = sorted(glob.glob("%s/versions/3.%d.*/bin/python3.%d" % (PYENV_ROOT, minor, minor)))
        found.append(paths[-1] if paths else "%s/versions/3.%d.*/bin/python3.%d"
                     % (PYENV_ROOT, minor, minor))
    found.append("/usr/bin/python3.11")
    return found


@pytest.mark.parametrize("python", interpreters())
def test_decoders_match_cpython_on_its_stdlib(python, tmp_path):
    # Outside CI a missing interpreter is skipped; under CI=true it fails (conftest.need).
    need(python if os.access(python, os.X_OK) else None, python)
    assert os.access(CHECKER, os.X_OK), "build it first: make .output/tests/linetable_check"
    dump = tmp_path / "dump.txt"
    with open(dump, "w") as out:
        subprocess.run([python, DUMPER, "400"], stdout=out, check=True, timeout=600)
    res = subprocess.run([CHECKER, str(dump)], capture_output=True, text=True, timeout=600)
    summary = res.stdout.strip().splitlines()[-1] if res.stdout.strip() else ""
    m = re.fullmatch(r"(\d+) passed, (\d+) failed", summary)
    assert m, "checker printed no summary: %r %r" % (res.stdout[-2000:], res.stderr[-2000:])
    passed, failed = int(m.group(1)), int(m.group(2))
    mismatches = "\n".join(res.stdout.splitlines()[:20])
    assert failed == 0, "%d code objects decoded differently from CPython:\n%s" % (
        failed, mismatches)
    assert passed >= MIN_CODE_OBJECTS, "only %d code objects checked" % passed
    assert res.returncode == 0

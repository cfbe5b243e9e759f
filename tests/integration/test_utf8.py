"""Invalid UTF-8 from traced processes (issue 14): a process whose argv and executable name
hold bytes that are not UTF-8 must still give valid JSON, decoded strictly as UTF-8, in
every JSON writer -- report json, chrome, speedscope, the data embedded in the HTML page,
the --diff json and html writers, and `live --json` -- with U+FFFD where the bad bytes
were. All of them use one escaper (user/lib/json.c)."""
import json
import os
import subprocess

import pytest

from conftest import TREEPROF, host_python, run
from test_report_html import split_page

BAD_ARG = b"\xff\xfe bad"
BAD_EXE = b"py\xff\xfe-bad"  # comm is the executable's name: bad bytes there too
WANT_ARG = "\ufffd\ufffd bad"
WANT_COMM = "py\ufffd\ufffd-bad"
LOOP = "import time\nt = time.monotonic() + 0.4\nwhile time.monotonic() < t: pass\n"


def argv(tmp):
    """python3 (through a link named BAD_EXE) -c LOOP BAD_ARG, as bytes."""
    exe = os.path.join(os.fsencode(tmp), BAD_EXE)
    if not os.path.exists(exe):
        os.symlink(os.fsencode(host_python()), exe)
    return [exe, b"-c", LOOP.encode(), BAD_ARG]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("utf8"))
    path = os.path.join(d, "bad.data")
    run([TREEPROF, "record", "-q", "-F", "499", "-o", path, "--"]
        + [os.fsdecode(a) for a in argv(d)])
    return path


def strings(doc):
    """Every string in a parsed JSON document, keys included."""
    if isinstance(doc, str):
        yield doc
    elif isinstance(doc, dict):
        for k, v in doc.items():
            yield k
            yield from strings(v)
    elif isinstance(doc, list):
        for v in doc:
            yield from strings(v)


def strict(raw):
    """raw bytes as text; fails on any byte that is not UTF-8."""
    return raw.decode("utf-8", errors="strict")


def assert_replaced(doc, where, want=(WANT_ARG,)):
    found = list(strings(doc))
    for w in want:
        assert any(w in s for s in found), "%s: no string holds %r; strings with U+FFFD: %r" % (
            where, w, [s for s in found if "\ufffd" in s][:10])


def report(data, fmt, tmp, *extra):
    out = os.path.join(tmp, "out." + fmt)
    run([TREEPROF, "report", data, "--format", fmt, "-o", out] + list(extra))
    with open(out, "rb") as f:
        return strict(f.read())


@pytest.mark.parametrize("fmt,extra", [("json", []), ("chrome", []),
                                       ("speedscope", ["--group-by", "role"])])
def test_json_formats_replace_invalid_utf8(data, tmp, fmt, extra):
    doc = json.loads(report(data, fmt, tmp, *extra))
    assert_replaced(doc, fmt)


def test_json_report_names_the_process_with_replacement_chars(data, tmp):
    doc = json.loads(report(data, "json", tmp))
    assert any(p["comm"] == WANT_COMM and p["cmdline"].endswith(" " + WANT_ARG)
               for p in doc["processes"]), [(p["comm"], p["cmdline"]) for p in doc["processes"]]


def test_html_page_embeds_valid_json(data, tmp):
    _, doc = split_page(report(data, "html", tmp))
    assert_replaced(doc, "html", (WANT_ARG, WANT_COMM))


@pytest.mark.parametrize("fmt", ["json", "html"])
def test_diff_writers_replace_invalid_utf8(data, tmp, fmt):
    out = os.path.join(tmp, "diff." + fmt)
    run([TREEPROF, "report", data, "--diff", data, "--format", fmt, "-o", out])
    with open(out, "rb") as f:
        text = strict(f.read())
    doc = split_page(text)[1] if fmt == "html" else json.loads(text)
    assert_replaced(doc, "diff " + fmt)


def test_live_json_lines_replace_invalid_utf8(tmp):
    r = subprocess.run([TREEPROF.encode(), b"live", b"--json", b"-F", b"499", b"--"]
                       + argv(tmp), capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    objs = [json.loads(line) for line in strict(r.stdout).splitlines()]
    assert objs, "live --json printed nothing"
    starts = [o for o in objs if o["type"] in ("start", "exec")]
    assert any(WANT_ARG in o["cmdline"] for o in starts), starts
    assert any(o["comm"] == WANT_COMM for o in objs if o["type"] == "sample"), \
        {o["comm"] for o in objs}


def test_live_text_lines_are_valid_utf8(tmp):
    """The terminal view too: live's text lines decode strictly, U+FFFD where the bad bytes
    of the command line and of the process's name were, the name still in its column."""
    r = subprocess.run([TREEPROF.encode(), b"live", b"-F", b"499", b"--"] + argv(tmp),
                       capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = strict(r.stdout).splitlines()
    assert any(WANT_ARG in ln for ln in lines if " -- " in ln), lines[:5]
    samples = [ln for ln in lines if (" %s " % WANT_COMM.ljust(15)) in ln]
    assert samples, "no sample line names %r in a 15-column field:\n%s" % (
        WANT_COMM, "\n".join(lines[:10]))
    # the frames start at one character column in every sample line
    cols = {ln.index(WANT_COMM) + 16 for ln in samples}
    assert len(cols) == 1, cols

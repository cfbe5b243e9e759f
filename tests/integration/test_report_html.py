"""HTML report: one self-contained page with a flame graph, a process selector and a
timeline, checked in Debian's headless Chromium with every host name unresolvable (so a
page that fetched anything would fail), on a real recording of the tree workload."""
import html
import json
import os
import re
import shutil
import struct
import tempfile
import zlib

import pytest

from conftest import TREEPROF, WORKLOADS, host_python, need, read_manifest, run

TREE = os.path.join(WORKLOADS, "tree.py")
HOT = ["parent_hot", "fork_worker_hot", "grandchild_hot", "spawn_worker_hot",
       "forkserver_worker_hot", "exec_helper_hot"]
DATA_OPEN = '<script type="application/json" id="profile-data">'
HOSTILE = ('</script><script>alert(1);document.documentElement.setAttribute("data-pwned",'
           '"yes")</script>')


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """A recording of the tree workload: (directory, data file, manifest rows)."""
    d = str(tmp_path_factory.mktemp("html"))
    data, manifest = os.path.join(d, "t.data"), os.path.join(d, "manifest")
    run([TREEPROF, "record", "-q", "-F", "499", "-o", data, "--", host_python(), TREE,
         "--manifest", manifest, "--seconds", "0.6"])
    return d, data, read_manifest(manifest)


def write_html(data, out, *extra):
    run([TREEPROF, "report", data, "--format", "html", "-o", out] + list(extra))
    with open(out, encoding="utf-8") as f:
        return f.read()


def split_page(page):
    """(the page without its data, the embedded data as parsed JSON)."""
    start = page.index(DATA_OPEN) + len(DATA_OPEN)
    end = page.index("</script>", start)
    return page[:start] + page[end:], json.loads(page[start:end])


def chromium(path, *extra, fragment=""):
    """Run headless Chromium on the page with no name resolution; its stdout."""
    exe = need(shutil.which("chromium"), "chromium (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as profile:
        return run([exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--host-resolver-rules=MAP * ~NOTFOUND", "--user-data-dir=" + profile,
                    "--virtual-time-budget=5000"] + list(extra) +
                   ["file://" + path + fragment], timeout=60).stdout


def dom_of(path, fragment=""):
    """The DOM after the page's scripts ran; asserts the page reported status ok."""
    dom = chromium(path, "--dump-dom", fragment=fragment)
    m = re.search(r'<div id="status"[^>]*>(.*?)</div>', dom, re.S)
    assert m, "no status element in the rendered page:\n" + dom[:2000]
    assert m.group(1) == "ok", "the page reported %r, expected 'ok'" % m.group(1)
    return dom


def flame_names(dom):
    """Names of the frames drawn in the flame graph."""
    svg = re.search(r'<svg id="flame".*?</svg>', dom, re.S)
    assert svg, "no flame graph <svg> in the page"
    return {html.unescape(n) for n in re.findall(r'data-name="([^"]*)"', svg.group(0))}


def test_html_report_renders_flame_graph_of_the_whole_tree(tree):
    d, data, _ = tree
    out = os.path.join(d, "r.html")
    write_html(data, out)
    names = flame_names(dom_of(out))
    missing = [h for h in HOT if h not in names]
    assert not missing, "hot functions %s not in the flame graph (drew %d frames: %s)" % (
        missing, len(names), sorted(names)[:40])


def test_html_report_is_self_contained(tree):
    d, data, _ = tree
    page = write_html(data, os.path.join(d, "r.html"))
    template, _ = split_page(page)
    for bad in ("http://", "https://", "//cdn", "<link", "@import", "url(", " src="):
        assert bad not in template, "the page refers to %r: it must not fetch anything" % bad
    assert "default-src 'none'" in template, "the page should forbid fetches by CSP"
    assert template.count("<script") == 2, "one data block and one inline script expected"


def test_html_report_embeds_interned_stacks_and_timeline(tree):
    d, data, rows = tree
    page = write_html(data, os.path.join(d, "r.html"))
    _, doc = split_page(page)
    rep = json.loads(run([TREEPROF, "report", data, "--format", "json"]).stdout)
    assert len(doc["procs"]) == len(rep["processes"])
    nstacks, nframes = len(doc["stacks"]["parent"]), len(doc["frames"]["name"])
    total = 0
    for p in doc["procs"]:
        st, tl = p["cpu"]["stacks"], p["cpu"]["timeline"]
        assert all(0 <= s < nstacks for s in st[0::2]), "stack id out of range"
        assert all(0 <= b < doc["timeline"]["buckets"] for b in tl[0::2])
        assert sum(tl[1::2]) == p["samples"], "timeline of %d sums to %d, not %d" % (
            p["pid"], sum(tl[1::2]), p["samples"])
        total += sum(st[1::2])
    assert all(-1 <= s < i for i, s in enumerate(doc["stacks"]["parent"])), \
        "a stack's parent must come before it"
    assert all(0 <= f < nframes for f in doc["stacks"]["frame"])
    assert total == sum(s["count"] for s in rep["stacks"] if s["frames"])


def test_html_report_pid_embeds_only_that_process(tree):
    d, data, rows = tree
    pid = [p for role, p, _ in rows if role == "spawn"][0]
    out = os.path.join(d, "spawn.html")
    page = write_html(data, out, "--pid", str(pid))
    _, doc = split_page(page)
    assert {p["pid"] for p in doc["procs"]} == {pid}, "--pid %d embedded other processes" % pid
    assert "fork_worker_hot" not in page, "frames of other processes were embedded"
    names = flame_names(dom_of(out))
    assert "spawn_worker_hot" in names, sorted(names)


def test_html_report_zoom_search_and_selection_from_url(tree):
    d, data, rows = tree
    out = os.path.join(d, "r.html")
    write_html(data, out)
    dom = dom_of(out, fragment="#q=spin_until&zoom=fork_worker_hot")
    names = flame_names(dom)
    assert "fork_worker_hot" in names and "spawn_worker_hot" not in names, \
        "zoomed on fork_worker_hot, drew %s" % sorted(names)
    m = re.search(r'<span id="match">Matched: ([\d.]+)%', dom)
    assert m and float(m.group(1)) > 30, "search for spin_until: %s" % (m and m.group(0))
    pid = [p for role, p, _ in rows if role == "exec"][0]
    dom = dom_of(out, fragment="#pid=%d" % pid)
    names = flame_names(dom)
    assert "exec_helper_hot" in names and "fork_worker_hot" not in names, sorted(names)
    assert re.search(r'<div id="selinfo">Flame graph of process %d' % pid, dom)


def png_pixels(path):
    """(width, height, rows of RGB(A) bytes) of an 8-bit RGB or RGBA PNG, with zlib only."""
    with open(path, "rb") as f:
        blob = f.read()
    assert blob[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    while pos < len(blob):
        n, kind = struct.unpack(">I4s", blob[pos:pos + 8])
        body = blob[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    assert depth == 8 and ctype in (2, 6) and not interlace, "unexpected PNG layout"
    bpp = 3 if ctype == 2 else 4
    raw, stride, rows, prev = zlib.decompress(idat), w * bpp, [], bytearray(w * bpp)
    for y in range(h):
        ft, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if ft == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif ft == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev))
        elif ft == 3:
            for i in range(stride):
                line[i] = (line[i] + ((line[i - bpp] if i >= bpp else 0) + prev[i]) // 2) & 255
        elif ft == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = prev[i], prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


def test_html_report_screenshot_is_not_blank(tree):
    d, data, _ = tree
    out, png = os.path.join(d, "r.html"), os.path.join(d, "r.png")
    write_html(data, out)
    chromium(out, "--window-size=1280,900", "--screenshot=" + png)
    w, h, bpp, rows = png_pixels(png)
    counts = {}
    for row in rows[::3]:
        for i in range(0, len(row), 3 * bpp):
            px = row[i:i + 3]
            counts[px] = counts.get(px, 0) + 1
    n = sum(counts.values())
    background = max(counts.values())
    assert len(counts) >= 40, "only %d distinct colours in the screenshot" % len(counts)
    assert n - background > n // 5, "%.0f%% of the screenshot is one colour" % (
        100.0 * background / n)


def test_html_report_hostile_command_line_stays_text(tmp):
    data, out = os.path.join(tmp, "h.data"), os.path.join(tmp, "h.html")
    code = "import time\nt = time.monotonic() + 0.4\nwhile time.monotonic() < t: pass\n"
    args = [HOSTILE, "quote\" and 'single' \\ <!-- &amp;", os.fsdecode(b"bad\xffutf8")]
    run([TREEPROF, "record", "-q", "-F", "499", "-o", data, "--", host_python(), "-c", code]
        + args)
    page = write_html(data, out)
    assert "</script><script>alert(1)" not in page, "the command line broke out of the JSON"
    _, doc = split_page(page)
    assert any(HOSTILE in p["cmdline"] for p in doc["procs"]), \
        "the command line should survive intact in the data: %s" % [
            p["cmdline"] for p in doc["procs"]]
    dom = dom_of(out)
    assert 'data-pwned="yes"' not in dom, "the command line ran as script"
    assert html.escape(HOSTILE, quote=False) in dom, "the command line is not shown as text"
    assert "bad\ufffdutf8" in dom, "invalid UTF-8 should show as U+FFFD"

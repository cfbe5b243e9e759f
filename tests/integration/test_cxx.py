"""C++ native frames: a program built with g++ at test time (tests/workloads/cxx_app.cc),
recorded, and its symbols shown demangled in every report format and in live and top,
with JSON keeping the mangled symbol beside the name."""
import gzip
import json
import os
import shutil

import pytest

from conftest import TREEPROF, WORKLOADS, live_samples, need, run

# mangled symbol -> what every format must show instead
NAMES = {
    "_ZN3app6Engine4spinEi": "app::Engine::spin(int)",
    "_ZN3appplERKNS_3VecES2_": "app::operator+(app::Vec const&, app::Vec const&)",
    "_ZN3app5totalIlEET_PKS1_i": "long app::total<long>(long const*, int)",
}
SPIN = "app::Engine::spin(int)"


@pytest.fixture(scope="module")
def prog(tmp_path_factory):
    gxx = need(shutil.which("g++"), "g++")
    exe = os.path.join(str(tmp_path_factory.mktemp("cxx")), "cxx_app")
    run([gxx, "-O1", "-fno-omit-frame-pointer", "-o", exe,
         os.path.join(WORKLOADS, "cxx_app.cc")])
    syms = run(["nm", exe]).stdout
    assert all(m in syms for m in NAMES), "g++ mangled differently:\n" + syms
    return exe


@pytest.fixture(scope="module")
def data(prog):
    path = prog + ".data"
    run([TREEPROF, "record", "-q", "-F", "499", "-o", path, "--", prog, "1.5"], timeout=120)
    return path


def report(data, fmt):
    return run([TREEPROF, "report", data, "--format", fmt]).stdout


def test_json_names_are_demangled_and_keep_the_mangled_symbol(data):
    frames = json.loads(report(data, "json"))["frames"]
    native = {f["name"]: f for f in frames if f["kind"] == "native"}
    for mangled, name in NAMES.items():
        assert name in native, "%s not among the native frames: %s" % (name, sorted(native))
        assert native[name]["mangled"] == mangled
    assert "main" in native and "mangled" not in native["main"], native.get("main")
    assert not [f for f in frames if f["name"].startswith("_ZN3app")], frames


@pytest.mark.parametrize("fmt", ["text", "folded", "speedscope", "chrome", "html", "pprof"])
def test_every_format_shows_demangled_names(data, fmt, tmp):
    if fmt == "pprof":  # binary: its string table, gunzipped
        out = os.path.join(tmp, "cpu.pprof")
        run([TREEPROF, "report", data, "--format", fmt, "-o", out])
        with open(out, "rb") as f:
            text = gzip.decompress(f.read()).decode("utf-8", "replace")
    else:
        text = report(data, fmt)
    # html escapes '&' and '<' in its JSON; the spin frame has neither
    names = [SPIN] if fmt == "html" else NAMES.values()
    for name in names:
        assert name in text, "%s: no %s" % (fmt, name)
    assert "_ZN3app" not in text, fmt


def test_folded_stacks_hold_the_demangled_leaves(data):
    lines = report(data, "folded").splitlines()
    for name in NAMES.values():
        assert any(l.rpartition(" ")[0].endswith(";main;" + name) for l in lines), (name, lines)


def test_live_and_top_show_demangled_names(prog, tmp):
    r = run([TREEPROF, "live", "-F", "499", "--", prog, "1.0"], timeout=120)
    leaves = {names[0] for _, _, names in live_samples(r.stdout) if names}
    assert SPIN in leaves, sorted(leaves)
    assert "_ZN3app" not in r.stdout

    r = run([TREEPROF, "live", "--json", "-F", "499", "--", prog, "1.0"], timeout=120)
    frames = [f for l in r.stdout.splitlines() for f in json.loads(l).get("frames", [])]
    spin = [f for f in frames if f["name"] == SPIN]
    assert spin and all(f["mangled"] == "_ZN3app6Engine4spinEi" for f in spin), frames[:5]

    r = run([TREEPROF, "top", "--interval", "0.5", "-F", "499", "--", prog, "1.5"],
            timeout=120)
    assert SPIN in r.stdout and "_ZN3app" not in r.stdout, r.stdout[-2000:]

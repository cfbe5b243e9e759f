"""Comparing two runs (report --diff) on real recordings of tests/workloads/diff_pool.py:
a parent with three fork workers, then the same program with tuned_work() doing twice the
work and a fourth worker. The diff must show tuned_work's share up by what the first run
predicts, the workers' role with one more process, and nothing else moving by more than
noise; a leak made four times larger must show in --metric live_bytes; bad input gets one
line and a non-zero exit."""
import json
import os
import shutil

import pytest

from conftest import TREEPROF, WORKLOADS, host_python, run

POOL = os.path.join(WORKLOADS, "diff_pool.py")
WORK = ("parent_work", "steady_work", "tuned_work")
NOISE = 3.0  # percentage points


def record(data, *, workers=3, tuned=1, leak_kib=0, scale=1.5, mem=False, script=POOL):
    env = dict(os.environ, DIFF_POOL_WORKERS=str(workers), DIFF_POOL_TUNED=str(tuned),
               DIFF_POOL_LEAK_KIB=str(leak_kib), DIFF_POOL_SCALE=str(scale))
    cmd = [TREEPROF, "record", "-q", "-F", "999", "-o", data]
    if mem:
        cmd += ["--mem", "--mem-sample", "64K"]
    run(cmd + ["--", host_python(), script], env=env, timeout=120)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """(old, new): 3 workers, then 4 workers with tuned_work doing twice the work."""
    d = str(tmp_path_factory.mktemp("diff"))
    old, new = os.path.join(d, "old.data"), os.path.join(d, "new.data")
    record(old)
    record(new, workers=4, tuned=2)
    return old, new


def diff(old, new, fmt="text", *extra, check=True):
    return run([TREEPROF, "report", new, "--diff", old, "--format", fmt] + list(extra),
               check=check)


def funcs(doc):
    """function name -> its entry (the name is the label up to " (")."""
    return {f["label"].split(" (")[0]: f for f in doc["functions"]}


def predicted_shares(doc):
    """The new run's self shares of the work functions, and the factor everything else's
    share is diluted by, predicted from the old run: the parent's work is the same, each
    worker's steady work the same, tuned_work twice as much, and one worker more."""
    f, n1 = funcs(doc), doc["runs"][0]["total"]
    p, s, t = (f[name]["self"][0] for name in WORK)
    p2, s2, t2 = p, s * 4 / 3, t * 4 / 3 * 2
    n2 = n1 - p - s - t + p2 + s2 + t2
    return {"parent_work": 100 * p2 / n2, "steady_work": 100 * s2 / n2,
            "tuned_work": 100 * t2 / n2}, n1 / n2


def test_json_diff_shows_the_tuned_function_up_by_the_predicted_share(runs):
    old, new = runs
    doc = json.loads(diff(old, new, "json").stdout)
    assert doc["format"] == "treeprof-diff" and doc["group_by"] == "role"
    want, dilution = predicted_shares(doc)
    f = funcs(doc)
    for name in WORK:
        seen = f[name]["self_share"][1]
        assert abs(seen - want[name]) < NOISE, "%s: new share %.1f%%, predicted %.1f%%" % (
            name, seen, want[name])
    assert f["tuned_work"]["self_share"][1] - f["tuned_work"]["self_share"][0] > 10
    moved = {name: (e["self_share"][0], e["self_share"][1]) for name, e in f.items()
             if name not in WORK and
             abs(e["self_share"][1] - e["self_share"][0] * dilution) > NOISE}
    assert not moved, "functions moved by more than noise: %s" % moved


def test_json_diff_matches_roles_and_counts_the_added_worker(runs):
    old, new = runs
    doc = json.loads(diff(old, new, "json").stdout)
    workers = [g for g in doc["groups"] if g["procs"] == [3, 4]]
    assert len(workers) == 1, "one role with 3 then 4 processes: %s" % [
        (g["label"], g["procs"]) for g in doc["groups"]]
    frames = doc["frames"]
    names = {frames[i]["name"] for s in doc["stacks"] if s["group"] == workers[0]["id"]
             for i in s["frames"]}
    assert "tuned_work" in names and "parent_work" not in names
    parent = doc["groups"][workers[0]["parent"]]
    assert parent["procs"] == [1, 1] and parent["status"] == "both"
    assert sum(s["weight"][1] for s in doc["stacks"]) == doc["runs"][1]["total"]


def test_text_diff_lists_the_tuned_function_first_and_the_role_table(runs):
    old, new = runs
    doc = json.loads(diff(old, new, "json").stdout)
    f = funcs(doc)["tuned_work"]
    text = diff(old, new).stdout
    grew = text.split("Functions that grew (self)\n", 1)[1].splitlines()
    first = grew[1].split()
    assert first[3] == "tuned_work", "first function that grew:\n" + "\n".join(grew[:4])
    delta = f["self_share"][1] - f["self_share"][0]
    assert abs(float(first[2]) - delta) < 0.2, "%s, json says %+.1f" % (grew[1], delta)
    roles = text.split("\nRoles\n", 1)[1].split("\n\n", 1)[0]
    assert any(line.split()[:2] == ["3", "4"] for line in roles.splitlines()[1:]), roles
    assert "(added)" not in roles.split("diff_pool.py")[0], roles


def test_folded_diff_has_old_and_new_counts_per_stack(runs):
    old, new = runs
    doc = json.loads(diff(old, new, "json").stdout)
    tot = [doc["runs"][0]["total"], doc["runs"][1]["total"]]
    for absolute in (False, True):
        extra = ["--absolute"] if absolute else []
        sums, tuned = [0, 0], [0, 0]
        lines = diff(old, new, "folded", *extra).stdout.splitlines()
        for line in lines:
            stack, a, b = line.rsplit(" ", 2)
            assert absolute == ("." not in a) and "." not in b, line
            for k, v in enumerate((float(a), int(b))):
                sums[k] += v
                if stack.rsplit(";", 1)[-1].startswith("tuned_work ("):
                    tuned[k] += v
        assert sums[1] == tot[1]
        # by default the old counts are scaled to the new run's total (difffolded.pl -n)
        assert abs(sums[0] - (tot[0] if absolute else tot[1])) <= len(lines) * 0.005 + 1e-6
        f = funcs(doc)["tuned_work"]["self_share"]
        for k in (0, 1):
            assert abs(100 * tuned[k] / sums[k] - f[k]) < 0.01, (k, tuned, sums, f)


def test_strip_prefix_matches_frames_from_another_checkout(runs, tmp):
    a, b = os.path.join(tmp, "a", "src"), os.path.join(tmp, "b", "src")
    for d in (a, b):
        os.makedirs(d)
        shutil.copy(POOL, d)
    old, new = os.path.join(tmp, "a.data"), os.path.join(tmp, "b.data")
    record(old, scale=0.5, script=os.path.join(a, "diff_pool.py"))
    record(new, scale=0.5, script=os.path.join(b, "diff_pool.py"))
    plain = json.loads(diff(old, new, "json").stdout)
    assert not [g for g in plain["groups"] if g["procs"] == [3, 3]]
    doc = json.loads(diff(old, new, "json", "--strip-prefix", os.path.join(tmp, "a") + "/",
                          "--strip-prefix", os.path.join(tmp, "b") + "/").stdout)
    assert [g for g in doc["groups"] if g["procs"] == [3, 3]], [
        (g["label"], g["procs"]) for g in doc["groups"]]
    f = funcs(doc)["tuned_work"]
    assert f["label"] == "tuned_work (src/diff_pool.py)", f["label"]
    assert min(f["self"]) > 0 and abs(f["self_share"][1] - f["self_share"][0]) < NOISE


def test_group_by_none_compares_whole_trees(runs):
    old, new = runs
    doc = json.loads(diff(old, new, "json", "--group-by", "none").stdout)
    assert len(doc["groups"]) == 1 and doc["group_by"] == "none"
    g = doc["groups"][0]
    assert g["procs"][1] == g["procs"][0] + 1, g
    assert not any(";" in line.split(" ")[0].split(";")[0] and "[" in line.split(";")[0]
                   for line in diff(old, new, "folded", "--group-by", "none").stdout.splitlines())


def test_live_bytes_diff_shows_a_larger_leak(tmp):
    old, new = os.path.join(tmp, "m1.data"), os.path.join(tmp, "m2.data")
    record(old, scale=0.2, leak_kib=1024, mem=True)
    record(new, scale=0.2, leak_kib=4096, mem=True)
    doc = json.loads(diff(old, new, "json", "--metric", "live_bytes").stdout)
    assert doc["metric"] == "live_bytes" and doc["unit"] == "bytes"
    leak = funcs(doc)["leak"]
    mib = 1 << 20
    assert 2 * mib < leak["self"][0] < 4.5 * mib, leak  # 3 workers x 1 MiB
    assert 9 * mib < leak["self"][1] < 16 * mib, leak  # 3 workers x 4 MiB
    assert leak["self_share"][1] > leak["self_share"][0] + 5, leak
    text = diff(old, new, "text", "--metric", "live_bytes", "--absolute").stdout
    grew = text.split("Functions that grew (self)\n", 1)[1].splitlines()[1]
    assert grew.split()[3] == "leak", text


def one_line_error(r, *want):
    assert r.returncode != 0, "exited 0: %s" % r.stdout[:500]
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, "expected one line, saw:\n" + r.stderr
    for w in want:
        assert w in lines[0], "%r not in %r" % (w, lines[0])


def test_bad_diff_input_gets_one_line(runs, tmp):
    old, new = runs
    one_line_error(diff(os.path.join(tmp, "missing.data"), new, check=False), "missing.data",
                   "No such file")
    one_line_error(diff(POOL, new, check=False), "not a treeprof recording")
    bad = os.path.join(tmp, "bad.data")
    with open(old, "rb") as f:
        blob = bytearray(f.read())
    mid = len(blob) // 2
    blob[mid:mid + 16] = bytes(x ^ 0xFF for x in blob[mid:mid + 16])
    with open(bad, "wb") as f:
        f.write(bytes(blob))
    one_line_error(diff(bad, new, check=False), "bad.data", "corrupt")
    one_line_error(diff(old, new, "text", "--group-by", "pid", check=False), "--group-by pid")
    for fmt in ("pprof", "speedscope", "chrome"):
        out = os.path.join(tmp, "o." + fmt)
        one_line_error(diff(old, new, fmt, "-o", out, check=False), "--diff", fmt)
        assert not os.path.exists(out)
    one_line_error(diff(old, new, "text", "--metric", "live_bytes", check=False), "--mem")

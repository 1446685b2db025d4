# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""End-to-end: the leak classes of `qhtrace attach --heap` (and `leaks -p`). Each process of
the traced tree is held at its exit by ptrace, its blocks (from the `allocs` map) classified
by a pointer scan, then let go: definitely / indirectly / possibly lost, still reachable, or
unclassified with a reason; the runtime's own blocks counted apart; LeakSanitizer-format
suppressions; the gate counts definitely and indirectly lost by default.

The reach fixtures (tests/fixtures/reach_*.c) make one block of each class at a known line;
the assertions are exact, per class, over the blocks the fixture itself allocated.

Run: /usr/bin/python3 -m pytest tests/e2e/test_leak_classes.py
"""

import json
import os
import signal
import subprocess

import pytest

KINDS = ("definitely_lost", "indirectly_lost", "possibly_lost", "still_reachable",
         "unclassified")


def own(report, fixture, pid=None, inherited=None):
    """(count, bytes) per class of the findings whose allocating frame is in the fixture."""
    out = {k: [0, 0] for k in KINDS}
    for l in report["leaks"]["heap"]:
        mod = l["stack"][0]["module"] or ""
        if not os.path.basename(mod).startswith(fixture):
            continue
        if pid is not None and l["pid"] != pid:
            continue
        if inherited is not None and l["inherited"] != inherited:
            continue
        out[l["kind"]][0] += l["count"]
        out[l["kind"]][1] += l["bytes"]
    return {k: tuple(v) for k, v in out.items() if v != [0, 0]}


def attach(qh, tmp_path, args, opts=("-q", "--heap")):
    rc, out, err = qh.run(qh.attach_argv(args, tmp_path / "r.json", opts))
    return rc, out, err, qh.load_report(tmp_path / "r.json")


# reach_classes: 64+72+80+88 still reachable (global, inner, TLS, main's stack), 96 possibly
# (a global points inside it), 32+24+40 definitely (the head, the cycle's leader, the
# overwritten one), 48+24 indirectly (the head's tail, the cycle's other block)
CLASSES = {"definitely_lost": (3, 96), "indirectly_lost": (2, 72), "possibly_lost": (1, 96),
           "still_reachable": (4, 304)}


@pytest.mark.parametrize("fixture", ["reach_classes", "reach_classes_fp"])
def test_each_class_exact(qh, tmp_path, fixture):
    rc, out, err, r = attach(qh, tmp_path, [qh.fx(fixture)], opts=("--heap",))
    assert rc == 0 and out == "atexit ran\n", err
    assert own(r, fixture) == CLASSES, r["leaks"]["heap"]
    (p,) = r["processes"]
    assert p["heap_scan"]["classified"] is True and p["heap_scan"]["threads_held"] == 1, p
    assert p["heap_scan"]["arenas_as_roots"] is False, p
    assert r["run"]["probes"]["hold"].startswith("ptrace"), r["run"]
    # only definitely and indirectly lost count (--leak-kinds default)
    assert {l["kind"] for l in r["leaks"]["heap"] if l["counted"]} == \
        {"definitely_lost", "indirectly_lost"}, r["leaks"]["heap"]
    s = r["leak_summary"]
    assert s["leak_kinds"] == ["definitely_lost", "indirectly_lost"], s
    for k, (n, b) in CLASSES.items():
        if k != "still_reachable":
            assert (s[k]["blocks"], s[k]["bytes"]) == (n, b), s
    assert "definitely lost: 96 bytes in 3 blocks" in err, err
    assert "indirectly lost: 72 bytes in 2 blocks" in err, err
    assert "possibly lost: 96 bytes in 1 blocks" in err, err
    # stdout's buffer (made by fputs inside the C library, 4096 bytes, still reachable from
    # stdout): the runtime's own where the kernel's stack walk stays in the C library; with
    # frame pointers it reaches the program's frames (the atexit handler): a finding then
    # (the walk past the C library's frames, which keep no frame pointer, reads whatever
    # %rbp holds: in the _fp build it may or may not lead into the program)
    rt = s["runtime_internal"]["still_reachable"]
    assert (s["still_reachable"]["blocks"] + rt["blocks"],
            s["still_reachable"]["bytes"] + rt["bytes"]) == (4 + 1, 304 + 4096), s
    # the definitely lost findings name their lines
    lines = sorted(l["stack"][0]["line"] for l in r["leaks"]["heap"]
                   if l["kind"] == "definitely_lost")
    assert len(lines) >= 2, r["leaks"]["heap"]


def test_return_from_main(qh, tmp_path):
    """main returns: its frame is gone, the block its local held is not reachable any more."""
    rc, out, err, r = attach(qh, tmp_path, [qh.fx("reach_classes"), "return"],
                             opts=("--heap",))
    assert rc == 0 and out == "atexit ran\n", err
    got = own(r, "reach_classes")
    assert got["indirectly_lost"] == (2, 72) and got["possibly_lost"] == (1, 96), got
    # the stack block (88) is lost or still reachable depending on what the exit path's
    # frames wrote over main's: the three others are reachable, the three lost are lost
    d, db = got["definitely_lost"]
    s, sb = got.get("still_reachable", (0, 0))
    assert (d + s, db + sb) == (3 + 4, 96 + 304), got
    assert d in (3, 4) and db in (96, 96 + 88), got


@pytest.mark.parametrize("fixture", ["reach_threads", "reach_threads_fp"])
def test_threads_running_at_exit(qh, tmp_path, fixture):
    rc, out, err, r = attach(qh, tmp_path, [qh.fx(fixture)])
    assert rc == 3, err
    assert own(r, fixture) == {"definitely_lost": (1, 200), "still_reachable": (3, 510)}, \
        r["leaks"]["heap"]
    (p,) = r["processes"]
    assert p["heap_scan"]["threads_held"] == 3, p  # main and both workers, at their exit stops


def test_forked_child(qh, tmp_path):
    rc, out, err, r = attach(qh, tmp_path, [qh.fx("reach_fork")])
    assert rc == 0, err
    parent, child = sorted(r["processes"], key=lambda p: p["start_time"])
    assert child["exit_code"] == 5 and child["heap_scan"]["classified"], child
    assert own(r, "reach_fork", pid=parent["pid"]) == {
        "still_reachable": (1, 310), "definitely_lost": (1, 300)}
    assert own(r, "reach_fork", pid=child["pid"], inherited=False) == {
        "still_reachable": (1, 310), "definitely_lost": (1, 300)}
    # the child's copies of its parent's two blocks: the global that held one now holds the
    # child's own block, so both copies are lost in the child
    assert own(r, "reach_fork", pid=child["pid"], inherited=True) == {
        "definitely_lost": (2, 610)}


@pytest.mark.parametrize("arg", [[], ["stop"]])
def test_wuntraced_parent_and_atexit_unchanged(qh, tmp_path, arg):
    """A parent waiting with WUNTRACED (as a shell) and an atexit handler that prints: the
    output is the same with and without qhtrace's hold at exit."""
    fixture = qh.fx("reach_waiter")
    plain = subprocess.run([fixture, *arg], capture_output=True, text=True, timeout=60)
    rc, out, err, r = attach(qh, tmp_path, [fixture, *arg])
    assert rc == plain.returncode == 0, err
    assert out == plain.stdout, (out, plain.stdout)
    assert "child atexit ran" in out and "parent saw: exited with 7" in out, out
    child = [p for p in r["processes"] if p["exit_code"] == 7]
    assert len(child) == 1 and child[0]["heap_scan"]["classified"], r["processes"]
    assert own(r, "reach_waiter", pid=child[0]["pid"], inherited=False) == {
        "still_reachable": (1, 60), "definitely_lost": (1, 50)}


def test_sigkilled_is_unclassified(qh, tmp_path):
    """A program killed by SIGKILL: its blocks are unclassified, the reason says why, and the
    run is still reported."""
    p = qh.popen(qh.attach_argv([qh.fx("heapdrip"), "30"], tmp_path / "r.json",
                                ("-q", "--heap", "--min-age", "0")))
    assert p.stdout.readline().strip() == "heapdrip: ready"
    drip = qh.wait_for(lambda: qh.find_descendant(p.pid, "heapdrip"), timeout=10)
    assert drip
    os.kill(drip, signal.SIGKILL)
    rc, _, err = qh.wait(p)
    assert rc == 128 + signal.SIGKILL, err
    r = qh.load_report(tmp_path / "r.json")
    (pr,) = r["processes"]
    assert pr["signal"] == signal.SIGKILL, pr
    # early()'s 50 blocks exist before "ready" (the drip's may not yet)
    found = [l for l in r["leaks"]["heap"] if l["stack"][0]["symbol"] in ("early", "drip")]
    assert found and all(l["kind"] == "unclassified" for l in found), found
    assert all(l["reason"] == "killed by signal SIGKILL" for l in found), found
    assert r["leak_summary"]["unclassified"]["blocks"] >= 1, r["leak_summary"]


SUPP = """# qhtrace suppressions, LeakSanitizer's format
leak:make_lost

leak:no_such_function_anywhere
"""


def test_suppressions_used_and_unused(qh, tmp_path):
    supp = tmp_path / "lsan.supp"
    supp.write_text(SUPP)
    rc, out, err, r = attach(qh, tmp_path, [qh.fx("reach_classes")],
                             opts=("--heap", "--suppressions", str(supp), "--fail-on", "leaks"))
    # every definitely and indirectly lost block comes from make_lost: suppressed, gate passes
    assert rc == 0, err
    assert r["verdict"]["pass"] is True, r["verdict"]
    assert not [l for l in r["leaks"]["heap"] if l["counted"]], r["leaks"]["heap"]
    used, unused = r["suppressions"]
    assert (used["pattern"], used["line"], used["count"], used["bytes"]) == \
        ("make_lost", 2, 5, 96 + 72), used
    assert (unused["pattern"], unused["line"], unused["count"]) == \
        ("no_such_function_anywhere", 4, 0), unused
    assert r["leak_summary"]["suppressed"] == {"bytes": 168, "blocks": 5}, r["leak_summary"]
    assert "Suppressions used:" in err and "leak:make_lost" in err, err
    assert "no_such_function_anywhere" not in err, err


def test_suppressions_from_the_settings_file(qh, tmp_path):
    supp = tmp_path / "lsan.supp"
    supp.write_text("leak:reach_classes.c\n")  # a source file name matches too
    cfg = tmp_path / "qh.json"
    cfg.write_text(json.dumps({"profiler": {"suppressions": [str(supp)]}}))
    rc, out, err, r = attach(qh, tmp_path, [qh.fx("reach_classes")],
                             opts=("-q", "--config", str(cfg), "--fail-on", "leaks"))
    assert rc == 0, err
    assert r["suppressions"][0]["count"] == 5, r["suppressions"]


def test_malformed_suppressions_refused(qh, tmp_path):
    supp = tmp_path / "bad.supp"
    supp.write_text("leak:ok\n# fine\nrace:foo\n")
    rc, _, err = qh.run(qh.attach_argv(["/bin/true"], None, ("--heap", "--suppressions",
                                                             str(supp))))
    assert rc == 2, err
    assert f"{supp}:3:" in err and "not a leak suppression" in err, err
    supp.write_text("leak:\n")
    rc, _, err = qh.run(qh.attach_argv(["/bin/true"], None, ("--heap", "--suppressions",
                                                             str(supp))))
    assert rc == 2 and f"{supp}:1:" in err, err


def test_fail_on_leaks_turns_on_heap(qh, tmp_path):
    """--fail-on leaks without --heap: the heap is followed, and the lost blocks fail it."""
    rc, out, err, r = attach(qh, tmp_path, [qh.fx("reach_classes")],
                             opts=("-q", "--fail-on", "leaks"))
    assert rc == 3, err
    assert r["run"]["probes"]["heap"] is not None, r["run"]
    assert r["verdict"]["pass"] is False, r["verdict"]
    assert r["verdict"]["reasons"] == ["leaks: 3 findings at or above low"], r["verdict"]


def test_unfollowed_heap_named_in_verdict(qh, tmp_path):
    """A static binary's heap cannot be followed: the leak gate passes, and says so."""
    rc, out, err, r = attach(qh, tmp_path, [qh.fx("static_true")],
                             opts=("-q", "--fail-on", "leaks"))
    assert rc == 0, err
    assert r["verdict"]["pass"] is True, r["verdict"]
    (line,) = r["verdict"]["heap_not_judged"]
    assert "static_true" in line and "heap not followed" in line, line
    assert "not judged" in err, err


def test_leak_kinds_all_and_no_hold(qh, tmp_path):
    rc, out, err, r = attach(qh, tmp_path, [qh.fx("reach_classes")],
                             opts=("-q", "--heap", "--leak-kinds", "all"))
    assert rc == 0, err
    kinds = {l["kind"] for l in r["leaks"]["heap"] if l["counted"]}
    assert {"still_reachable", "possibly_lost"} <= kinds, kinds
    rc, out, err, r = attach(qh, tmp_path, [qh.fx("reach_classes")],
                             opts=("-q", "--heap", "--no-hold", "--fail-on", "leaks"))
    assert rc == 0 and out == "atexit ran\n", err
    assert r["run"]["probes"]["hold"] == "not held (--no-hold)", r["run"]
    assert {l["kind"] for l in r["leaks"]["heap"]} == {"unclassified"}, r["leaks"]["heap"]
    assert {l["reason"] for l in r["leaks"]["heap"]} == {"not held (--no-hold)"}
    # the gate cannot judge them, and says so
    assert any("unclassified" in x for x in r["verdict"]["heap_not_judged"]), r["verdict"]
    rc, _, err = qh.run(qh.attach_argv(["/bin/true"], None, ("--leak-kinds", "sometimes")))
    assert rc == 2 and "'sometimes' is not one of" in err, err


@pytest.mark.parametrize("cmd", [["ls", "-la", "/usr"], ["git", "--version"],
                                 ["/usr/bin/python3", "-c", "pass"], ["sh", "-c", "true"]])
def test_real_commands_leak_nothing(qh, tmp_path, cmd):
    """What valgrind --leak-check=full finds no definitely or indirectly lost block in: neither
    does qhtrace, and the leak gate passes."""
    rc, out, err, r = attach(qh, tmp_path, cmd, opts=("-q", "--fail-on", "leaks"))
    assert rc == 0, err
    assert r["verdict"]["pass"] is True, r["verdict"]
    s = r["leak_summary"]
    assert s["definitely_lost"]["blocks"] == 0 and s["indirectly_lost"]["blocks"] == 0, \
        [l for l in r["leaks"]["heap"] if l["counted"]]
    assert all(p["heap_scan"] is None or p["heap_scan"]["classified"]
               for p in r["processes"]), r["processes"]


def test_leaks_pid_scans_at_the_end(qh, tmp_path):
    """leaks -p: at the end of --duration every thread is stopped, the blocks classified
    (the arenas as roots: the blocks made before are not known), the process released."""
    drip = qh.popen([qh.fx("heapdrip"), "30"])
    assert drip.stdout.readline().strip() == "heapdrip: ready"
    out = tmp_path / "leaks.json"
    rc, _, err = qh.run([qh.qhtrace, "leaks", "-p", str(drip.pid), "--duration", "2",
                         "--min-age", "0", "-q", "--fail-on", "leaks", "-o", str(out)])
    assert rc == 0, err
    r = qh.load_report(out)
    (p,) = r["processes"]
    assert p["heap_scan"]["classified"] and p["heap_scan"]["arenas_as_roots"], p
    assert {l["kind"] for l in r["leaks"]["heap"]} == {"still_reachable"}, r["leaks"]["heap"]
    assert drip.poll() is None, "the scan must let the process go on"
    # not left stopped or traced
    with open(f"/proc/{drip.pid}/status") as f:
        status = dict(line.split(":", 1) for line in f if ":" in line)
    assert status["State"].split()[0] in "RS" and status["TracerPid"].strip() == "0", status

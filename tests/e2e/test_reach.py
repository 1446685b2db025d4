# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The hold at exit and the pointer scan, through the prototype tests/hold/holdscan (not yet
wired into qhtrace): each reach fixture reports its blocks with the class each must get
(tests/fixtures/reach.h), holdscan holds every process of the tree at its exit with ptrace,
classifies, and lets it go. What the programs observe must not change: exit status, output,
atexit handlers, and a WUNTRACED parent's wait results.

ptrace of one's own children needs no root: these tests are unprivileged.
"""

import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import REPO, TIMEOUT, fixtures_dir

pytestmark = pytest.mark.unprivileged

CLASSES = ("definitely_lost", "indirectly_lost", "possibly_lost", "still_reachable")


def holdscan_path():
    out = os.environ.get("OUTPUT", ".output")
    path = REPO / out / "tests" / "holdscan"
    if not path.is_file():
        pytest.fail(f"{path} not built: make {out}/tests/holdscan", pytrace=False)
    return str(path)


def hold(tmp_path, *cmd):
    """Run CMD under holdscan: (completed process, block records, summaries by pid)."""
    out = tmp_path / "scan.json"
    p = subprocess.run([holdscan_path(), "-o", str(out), "--", *cmd], capture_output=True,
                       text=True, timeout=TIMEOUT)
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    blocks = [r for r in recs if "label" in r]
    summaries = {r["pid"]: r for r in recs if "summary" in r}
    return p, blocks, summaries


def assert_classes(blocks, expect_labels):
    labels = sorted(b["label"] for b in blocks)
    assert labels == sorted(expect_labels)
    for b in blocks:
        cls = b["label"].split(".")[0]
        if cls in CLASSES:
            assert b["kind"] == cls, b
    cycle = sorted((b for b in blocks if b["label"].startswith("cycle.")), key=lambda b: b["addr"])
    if cycle:
        # valgrind's clique leader: the lowest address of the cycle
        assert [b["kind"] for b in cycle] == ["definitely_lost", "indirectly_lost"]


CLASSES_LABELS = ["still_reachable.global", "still_reachable.inner", "still_reachable.tls",
                  "possibly_lost.interior", "definitely_lost.head", "indirectly_lost.tail",
                  "cycle.a", "cycle.b", "definitely_lost.overwritten", "still_reachable.stack"]


@pytest.mark.parametrize("fixture", ["reach_classes", "reach_classes_fp"])
def test_each_class_exact(tmp_path, fixture):
    p, blocks, summaries = hold(tmp_path, str(fixtures_dir() / fixture))
    assert p.returncode == 0
    assert p.stdout == "atexit ran\n"
    assert_classes(blocks, CLASSES_LABELS)
    (s,) = summaries.values()
    assert s["error"] == 0 and s["exit_status"] == 0
    bytes_of = {b["label"]: b["size"] for b in blocks}
    assert s["summary"]["definitely_lost"] == [3, 32 + 24 + 40]
    assert s["summary"]["indirectly_lost"] == [2, 48 + 24]
    assert s["summary"]["possibly_lost"] == [1, 96]
    assert s["summary"]["still_reachable"] == [4, sum(bytes_of[k] for k in bytes_of
                                                      if k.startswith("still_reachable"))]


def test_return_from_main_is_held(tmp_path):
    """main returns: exit() runs from __libc_start_call_main; main's frame is gone."""
    p, blocks, _ = hold(tmp_path, str(fixtures_dir() / "reach_classes"), "return")
    assert p.returncode == 0 and p.stdout == "atexit ran\n"
    assert_classes([b for b in blocks if b["label"] != "still_reachable.stack"],
                   [x for x in CLASSES_LABELS if x != "still_reachable.stack"])


def test_threads_running_at_exit(tmp_path):
    p, blocks, summaries = hold(tmp_path, str(fixtures_dir() / "reach_threads"))
    assert p.returncode == 3
    assert_classes(blocks, ["still_reachable.thread_stack", "still_reachable.thread_tls",
                            "still_reachable.main_global", "definitely_lost.thread"])
    (s,) = summaries.values()
    assert s["threads_held"] == 3  # main and both workers, each at its own exit stop


def test_forked_child(tmp_path):
    p, blocks, summaries = hold(tmp_path, str(fixtures_dir() / "reach_fork"))
    assert p.returncode == 0
    assert len(summaries) == 2
    assert_classes(blocks, ["still_reachable.parent", "definitely_lost.parent",
                            "still_reachable.child", "definitely_lost.child"])
    pids = {b["label"].split(".")[1]: b["pid"] for b in blocks}
    assert pids["parent"] != pids["child"]


@pytest.mark.parametrize("arg", [[], ["stop"]])
def test_wuntraced_parent_sees_the_same(tmp_path, arg):
    fixture = str(fixtures_dir() / "reach_waiter")
    plain = subprocess.run([fixture, *arg], capture_output=True, text=True, timeout=TIMEOUT)
    p, blocks, _ = hold(tmp_path, fixture, *arg)
    assert p.returncode == plain.returncode == 0
    assert p.stdout == plain.stdout
    assert "parent saw: exited with 7" in p.stdout and "child atexit ran" in p.stdout
    assert_classes(blocks, ["still_reachable.waiter_child", "definitely_lost.waiter_child"])

# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""End-to-end: the output side. The event log (--events), the gate (--fail-on), JUnit and
Markdown, alerts and their hook, the settings file, `qhtrace report` and `qhtrace diff`.

Run: /usr/bin/python3 -m pytest tests/e2e/test_output.py
"""

import gzip
import json
import os
import signal
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

GATE_EXIT = 3  # QH_EXIT_GATE in user/cli.h


def read_log(path):
    """Every record of an event log; gzip's reader fails on a truncated or corrupt member."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as f:
        return [json.loads(line) for line in f]


def test_gate_fails_a_leaking_run(qh, tmp_path):
    """A leaking fixture that exits 0: --fail-on leaks makes qhtrace exit with the gate code.

    heapleak keeps its blocks in a global array: at exit they are still reachable, no leak by
    default (--leak-kinds definite,indirect); --leak-kinds all makes every class count, so the
    five call sites are gated as they were before the leak classes."""
    log, junit, md = tmp_path / "x.ndjson.gz", tmp_path / "j.xml", tmp_path / "s.md"
    rc, report, err = qh.run_attach(
        [qh.fx("heapleak")], tmp_path / "r.json",
        opts=("-q", "--heap", "--leak-kinds", "all", "--events", str(log), "--fail-on",
              "leaks", "--junit", str(junit), "--summary-md", str(md)))
    assert rc == GATE_EXIT, err
    assert "gate: leaks: 5 findings at or above low (--fail-on)" in err, err
    assert report["run"]["exit_code"] == 0, report["run"]
    assert report["verdict"] == {"pass": False, "reasons": ["leaks: 5 findings at or above low"],
                                 "fail_on": ["leaks"], "severity_floor": "low"}
    # the log: every process event and each finding, in one gzip stream of whole members
    recs = read_log(log)
    kinds = [r["kind"] for r in recs]
    assert kinds[0] == "log" and recs[0]["schema"] == "qhtrace/events/v1", recs[0]
    assert kinds.count("exec") == 1 and kinds.count("fork") == 1, kinds
    assert kinds.count("exit") == 2 and kinds.count("reap") == 2, kinds
    assert kinds.count("heap_leak") == 5, kinds
    assert kinds[-1] == "verdict" and recs[-1]["pass"] is False, recs[-1]
    sites = sorted((r["site"], r["count"]) for r in recs if r["kind"] == "heap_leak")
    assert [s for s, _ in sites][0].startswith("site_a (heapleak.c:"), sites
    el = report["event_log"]
    assert el["records"] == len(recs) and el["compression"] == "gzip", el
    assert el["bytes_out"] == log.stat().st_size, el
    assert el["bytes_in"] == sum(len(json.dumps(r, separators=(",", ":")).encode()) + 1
                                 for r in recs), el
    assert el["complete"] is True and el["ratio"] > 1, el
    # JUnit parses, one test case per class, the leaks one failing with the findings
    root = ET.parse(junit).getroot()
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert sorted(cases) == sorted(["leaks", "fds", "zombies", "leftovers", "lost-events",
                                    "alerts"]), cases
    failure = cases["leaks"].find("failure")
    assert failure is not None and failure.get("type") == "leaks"
    assert "site_b (heapleak.c:" in failure.text, failure.text
    assert cases["zombies"].find("failure") is None
    # the fds were measured (the fixture leaves none open): a passing case
    assert cases["fds"].find("skipped") is None and cases["fds"].find("failure") is None
    assert root.get("failures") == "1", ET.tostring(root)
    text = md.read_text()
    assert text.startswith("## qhtrace: FAIL\n"), text
    assert "| leaks | yes | 5 | **fail** |" in text, text


@pytest.mark.parametrize("fixture,args,code", [("heapfree", [], 0), ("exitcode", ["7"], 7)])
def test_gate_passes_a_clean_run(qh, tmp_path, fixture, args, code):
    """No leak: qhtrace exits with CMD's own code, and the verdict says pass."""
    log = tmp_path / "x.ndjson.gz"
    rc, report, err = qh.run_attach([qh.fx(fixture), *args], tmp_path / "r.json",
                                    opts=("-q", "--heap", "--events", str(log),
                                          "--fail-on", "leaks,zombies,lost-events"))
    assert rc == code, err
    assert report["verdict"]["pass"] is True, report["verdict"]
    assert report["leaks"]["heap"] == [], report["leaks"]
    assert [r["kind"] for r in read_log(log)].count("exit") == 1


def test_gate_severity_floor(qh, tmp_path):
    """heapleak's findings are all low: a medium floor lets the run pass."""
    rc, report, err = qh.run_attach([qh.fx("heapleak")], tmp_path / "r.json",
                                    opts=("-q", "--heap", "--fail-on", "leaks",
                                          "--fail-severity", "medium"))
    assert rc == 0, err
    assert report["verdict"]["pass"] is True and report["verdict"]["severity_floor"] == "medium"


def test_sigterm_leaves_a_readable_log(qh, tmp_path):
    """SIGTERM to qhtrace mid-run: CMD gets it, the last chunk is flushed, the gzip is whole."""
    log = tmp_path / "x.ndjson.gz"
    proc = qh.popen(qh.attach_argv([qh.fx("idle"), "30"], tmp_path / "r.json",
                                   opts=("-q", "--events", str(log))))
    pid = qh.wait_for(lambda: qh.find_descendant(proc.pid, "idle"), timeout=10)
    assert pid, f"idle did not start under qhtrace; qhtrace state: {proc.poll()}"
    qh.adopt(pid)
    proc.send_signal(signal.SIGTERM)
    rc, _, err = qh.wait(proc, timeout=20)
    assert rc == 128 + signal.SIGTERM, err
    recs = read_log(log)  # raises on a truncated or corrupt member
    assert recs[0]["kind"] == "log" and recs[-1]["kind"] == "verdict", recs
    exits = [r for r in recs if r["kind"] == "exit"]
    assert len(exits) == 1 and exits[0]["signal"] == signal.SIGTERM, exits
    # and qhtrace's own reader agrees, to the last line
    out = subprocess.run([qh.qhtrace, "report", "--json", "--page-size", "1000", str(log)],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    page = json.loads(out.stdout)
    assert len(page["items"]) == len(recs) and page["has_next"] is False


def test_report_command(qh, tmp_path):
    """`qhtrace report` pages an event log and a summary report; filters; errors."""
    log, rep = tmp_path / "x.ndjson.gz", tmp_path / "r.json"
    rc, _, err = qh.run_attach([qh.fx("heapleak")], rep,
                               opts=("-q", "--heap", "--events", str(log)))
    assert rc == 0, err
    n = len(read_log(log))

    def report(*args):
        out = subprocess.run([qh.qhtrace, "report", *map(str, args)], capture_output=True,
                             text=True, timeout=30)
        return out.returncode, out.stdout, out.stderr

    rc, out, err = report("--json", "--page", "2", "--page-size", "3", log)
    assert rc == 0, err
    page = json.loads(out)
    assert (page["type"], page["page"], page["page_size"]) == ("events", 2, 3), page
    assert len(page["items"]) == 3 and page["has_next"] is (n > 6), page
    rc, out, _ = report("--json", "--filter", "kind=heap_leak", "--filter", "severity=low", log)
    assert len(json.loads(out)["items"]) == 5
    rc, out, _ = report("--json", "--filter", "kind=heap_leak", rep)
    page = json.loads(out)
    assert page["type"] == "report" and len(page["items"]) == 5, page
    rc, out, _ = report("--filter", "kind=process", rep)
    assert rc == 0 and out.splitlines()[0].split()[:3] == ["TIME", "KIND", "PID"], out
    assert out.rstrip().endswith("last page"), out
    # a truncated log: the rows before the damage, then one clear line and exit 1
    data = log.read_bytes()
    cut = tmp_path / "cut.ndjson.gz"
    cut.write_bytes(data[:len(data) - 10])
    rc, out, err = report("--page-size", "1000", cut)
    assert rc == 1, (out, err)
    assert err.strip().splitlines() == [
        f"qhtrace: {cut}: truncated: the file ends inside a gzip member after line "
        f"{len(out.splitlines()) - 2}"], err
    rc, _, err = report("--filter", "colour=red", log)
    assert rc == 2 and "--filter:" in err, err
    # the page it says to read next is a page --page takes
    rc, out, err = report("--page-size", "2", log)
    assert rc == 0 and out.rstrip().endswith("more: --page 2"), out
    rc, out, err = report("--page-size", "2", "--page", "2", log)
    assert rc == 0 and "page 2 (2 per page, 2 shown)" in out, (out, err)
    # an unknown kind is an error, not 0 rows; globs select by comm and kind
    rc, out, err = report("--filter", "kind=bogus", log)
    assert rc == 2 and "kind: 'bogus' is no kind of row" in err, (out, err)
    rc, out, _ = report("--json", "--filter", "comm=heapl*,kind=heap_*", rep)
    page = json.loads(out)
    assert rc == 0 and len(page["items"]) == 5, page
    rc, _, err = report(tmp_path / "missing")
    assert rc == 1 and "No such file or directory" in err, err


def test_alert_hook_and_gate(qh, tmp_path):
    """A heap leak over alert_thresholds.memory_leak_mb fires an alert to stderr, the report,
    the log and the hook; --fail-on alerts gates on it."""
    cfg, got = tmp_path / "qh.json", tmp_path / "hook.out"
    cfg.write_text(json.dumps({"alert_thresholds": {"memory_leak_mb": 16},
                               "profiler": {"enable_leak_detection": True},
                               "data": {"compression_type": "none", "chunk_size": 2}}))
    log = tmp_path / "x.ndjson"
    rc, report, err = qh.run_attach(
        [qh.fx("demo")], tmp_path / "r.json",
        opts=("-q", "--config", str(cfg), "--events", str(log), "--fail-on", "alerts",
              "--alert-exec", f"cat > {got}"))
    assert rc == GATE_EXIT, err
    (alert,) = report["alerts"]
    assert alert["kind"] == "memory_leak" and alert["severity"] == "critical", alert
    assert alert["threshold"] == 16 and alert["value"] >= 32, alert
    assert "qhtrace: warning: alert: memory_leak (critical): pid " in err, err
    hooked = json.loads(got.read_text())
    assert hooked["message"] == alert["message"], hooked
    recs = read_log(log)  # plain: compression_type none
    assert [r["alert"] for r in recs if r["kind"] == "alert"] == ["memory_leak"]
    assert report["event_log"]["compression"] == "none"
    assert report["event_log"]["chunks"] >= len(recs) // 2
    assert report["verdict"]["reasons"] == ["alerts: 1 finding at or above low"]
    assert report["alert_stats"] == {"fired": 1, "dropped": 0, "hooks_failed": 0}


def test_failing_and_slow_hooks(qh, tmp_path):
    """A hook that fails is counted; one that hangs is killed at --alert-timeout."""
    cfg = tmp_path / "qh.json"
    cfg.write_text(json.dumps({"alert_thresholds": {"memory_leak_mb": 16}}))
    for hook, expect in (("exit 4", "alert hook failed (exit 4)"),
                         ("sleep 60", "alert hook still running after 1 s: killed")):
        rc, report, err = qh.run_attach(
            [qh.fx("demo")], tmp_path / "r.json",
            opts=("-q", "--heap", "--config", str(cfg), "--alert-exec", hook,
                  "--alert-timeout", "1"), timeout=30)
        assert rc == 0, err
        assert report["alert_stats"]["hooks_failed"] == 1, (hook, report["alert_stats"])
        assert expect in err, err


def test_config_refused_before_anything_starts(qh, tmp_path):
    """A bad settings file: one line naming the key, exit 2, CMD never runs."""
    cfg, marker = tmp_path / "qh.json", tmp_path / "ran"
    cfg.write_text('{"data": {"compression_level": "fast"}}')
    rc, _, err = qh.run([qh.qhtrace, "attach", "--config", str(cfg), "--",
                         "/bin/sh", "-c", f"touch {marker}"])
    assert rc == 2, err
    assert err == (f"qhtrace: config {cfg}: data.compression_level must be an integer in 1..9, "
                   "not a string\n"), err
    assert not marker.exists()
    rc, out, err = qh.run([qh.qhtrace, "config", "--check", str(cfg)])
    assert rc == 2 and out == "", (out, err)
    rc, out, _ = qh.run([qh.qhtrace, "config", "--print-defaults"])
    assert rc == 0
    cfg.write_text(out)
    rc, out, err = qh.run([qh.qhtrace, "config", "--check", str(cfg)])
    assert (rc, out) == (0, f"{cfg}: ok\n"), err
    # an unwritable event log path is refused before anything starts too
    os.symlink(tmp_path / "elsewhere", tmp_path / "link.ndjson.gz")
    rc, _, err = qh.run([qh.qhtrace, "attach", "--events", str(tmp_path / "link.ndjson.gz"),
                         "--", "/bin/sh", "-c", f"touch {marker}"])
    assert rc == 2 and "is a symbolic link" in err, err
    assert not marker.exists() and not (tmp_path / "elsewhere").exists()


def test_diff_command(qh, tmp_path):
    """`qhtrace diff`: a run against itself passes; new leaks against a clean base fail."""
    clean, leaky = tmp_path / "clean.json", tmp_path / "leaky.json"
    # heapleak's blocks are still reachable at exit (a global array): only --leak-kinds all
    # makes them leaks for the diff, which compares the counted findings
    for fx, path in (("heapfree", clean), ("heapleak", leaky)):
        rc, _, err = qh.run_attach([qh.fx(fx)], path, opts=("-q", "--heap", "--leak-kinds", "all"))
        assert rc == 0, err
    rc, out, err = qh.run([qh.qhtrace, "diff", "--max-growth-pct", "10", str(leaky), str(leaky)])
    assert rc == 0 and out.rstrip().endswith("diff: pass"), (out, err)
    rc, out, err = qh.run([qh.qhtrace, "diff", "--json", "--max-growth-pct", "10", str(clean),
                           str(leaky)])
    assert rc == GATE_EXIT, err
    d = json.loads(out)
    new = sorted(e["key"] for e in d["heap_leaks"] if e["new"])
    assert len(new) == 3 and all(k.startswith("heapleak <- site_") for k in new), new
    assert d["pass"] is False and len(d["regressions"]) == 3, d["regressions"]
    rc, _, err = qh.run([qh.qhtrace, "diff", str(clean)])
    assert rc == 2, err

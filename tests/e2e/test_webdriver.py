# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""A real Selenium session under `qhtrace attach`: Debian's chromium, chromium-driver and
python3-selenium (tools/install-deps.sh --test installs them), headless.

webdriver_run.py (beside this file) drives the browser; it quits properly, does not quit,
or loses chromedriver to SIGKILL. Under CI=true a missing browser is a failure, not a skip.

Run as root: /usr/bin/python3 -m pytest tests/e2e/test_webdriver.py
"""

import os
import subprocess
from pathlib import Path

import pytest

from conftest import in_ci
from test_attach import check_report

RUN = str(Path(__file__).with_name("webdriver_run.py"))
PYTHON = "/usr/bin/python3"
FAST = ("--force-cleanup-timeout", "1")


@pytest.fixture
def selenium(root):
    missing = [p for p in ("/usr/bin/chromium", "/usr/bin/chromedriver")
               if not os.access(p, os.X_OK)]
    if subprocess.run([PYTHON, "-c", "import selenium"], capture_output=True).returncode:
        missing.append("python3-selenium")
    if missing:
        msg = f"WebDriver test needs {missing}: run tools/install-deps.sh --test"
        if in_ci():
            pytest.fail(msg + " (CI=true: a skip is a failure)", pytrace=False)
        pytest.skip(msg)


def run(qh, tmp_path, mode, opts=()):
    argv = qh.attach_argv([PYTHON, RUN, mode], tmp_path / "report.json", ("-q", *FAST, *opts))
    rc, out, err = qh.run(argv, timeout=90)
    report = qh.load_report(tmp_path / "report.json")
    # whatever is still running is killed at teardown
    for p in (report or {}).get("processes", []):
        if p["state"] == "running" and qh.proc_comm(p["pid"]) == p["comm"]:
            qh.adopt(p["pid"])
    assert rc == 0, f"qhtrace exited {rc}; stdout:\n{out}\nstderr:\n{err}"
    check_report(report)
    driver_pid = int(next(l for l in out.splitlines() if l.startswith("driver ")).split()[1])
    assert len(report["drivers"]) == 1, report["drivers"]
    d = report["drivers"][0]
    assert (d["kind"], d["pid"]) == ("chromedriver", driver_pid), d
    procs = {p["pid"]: p for p in report["processes"]}
    assert procs[driver_pid]["comm"] == "chromedriver", procs[driver_pid]
    # the browser: chromedriver's child, /usr/bin/chromium (a script) exec'ing the real one
    browsers = [p for p in report["processes"]
                if p["ppid"] == driver_pid and p["comm"] == "chromium"]
    assert len(browsers) == 1, [p for p in report["processes"] if p["ppid"] == driver_pid]
    members = {p["pid"] for p in report["processes"] if p["driver"] == 1}
    assert members == set(d["pids"]), (members, d["pids"])
    # chromedriver, the browser, its zygotes, renderer, GPU/utility processes, crashpad
    assert d["process_count"] >= 6 and d["peak_alive_count"] >= 5, d
    # browser processes by name: the browser and its children, not the driver
    assert browsers[0]["pid"] in d["browser_pids"] and driver_pid not in d["browser_pids"], d
    # a headless chromium with one page: well over 100 MiB of summed RSS here
    assert d["peak_memory_kb"] >= 100 * 1024, d
    # the python process and nothing else is outside the instance
    assert [p["comm"] for p in report["processes"] if p["driver"] is None] == ["python3"]
    return report, d, driver_pid, err


def gone(report, pids):
    procs = {p["pid"]: p for p in report["processes"]}
    return all(procs[p]["state"] != "running" for p in pids)


def still_alive(p):
    try:
        with open(f"/proc/{p['pid']}/comm") as f:
            return f.read().strip() == p["comm"]
    except FileNotFoundError:
        return False


def test_selenium_quit(qh, tmp_path, selenium):
    report, d, driver_pid, err = run(qh, tmp_path, "quit")
    assert d["ended_cleanly"] is True and d["survivors"] == [], d
    assert d["end_time"] is not None and d["alive_count"] == 0 and d["memory_kb"] == 0, d
    assert report["leftovers"] == [], report["leftovers"]
    assert all(p["state"] != "running" for p in report["processes"]), report["processes"]
    assert report["driver_totals"]["active"] == 0, report["driver_totals"]


def test_selenium_no_quit_cleanup(qh, tmp_path, selenium):
    report, d, driver_pid, err = run(qh, tmp_path, "noquit", ("--cleanup",))
    # nobody quit: chromedriver and the browser tree were running when python exited
    assert d["ended_cleanly"] is False, d
    left = report["leftovers"]
    assert all(l["reason"] == "outlived_command" and l["driver"] == 1 for l in left), left
    left_pids = {l["pid"] for l in left}
    assert driver_pid in left_pids and len(left) >= 4 and left_pids <= set(d["pids"]), (left, d)
    c = report["cleanup"]
    assert (c["attempted"], c["succeeded"], c["failed"]) == (len(left), len(left), 0), c
    assert {a["pid"] for a in c["actions"]} == left_pids, c
    # the cleanup names each process as the leftovers do (the zygote, exec'd as
    # /proc/self/exe, is "exe" until it renames itself)
    names = {l["pid"]: l["comm"] for l in left}
    assert all(a["comm"] == names[a["pid"]] for a in c["actions"]), (c, left)
    assert "exe" not in names.values(), left
    for a in c["actions"]:
        assert a["verified"] is True and a["error"] is None, a
        # a process may exit on its own as its parent goes (crashpad does): no signal then
        assert (a["signal"], a["attempts"]) == (None, 0) or \
            (a["signal"] in ("SIGTERM", "SIGKILL") and a["attempts"] >= 1), a
    assert sum(a["attempts"] > 0 for a in c["actions"]) >= 2, c
    assert gone(report, left_pids)
    # the driver ended by qhtrace's signal, after the command
    act = next(a for a in c["actions"] if a["pid"] == driver_pid)
    assert d["signal"] == {"SIGTERM": 15, "SIGKILL": 9}[act["signal"]], (d, act)
    procs = {p["pid"]: p for p in report["processes"]}
    assert not any(still_alive(procs[p]) for p in left_pids)


def test_selenium_driver_killed(qh, tmp_path, selenium):
    report, d, driver_pid, err = run(qh, tmp_path, "killdriver", ("--cleanup",))
    assert (d["signal"], d["exit_code"]) == (9, None), d
    assert d["ended_cleanly"] is False, d
    procs = {p["pid"]: p for p in report["processes"]}
    browser = next(p for p in report["processes"]
                   if p["ppid"] == driver_pid and p["comm"] == "chromium")
    # the browser process and its children outlived the driver
    assert browser["pid"] in d["survivors"] and len(d["survivors"]) >= 4, d
    left = {l["pid"]: l for l in report["leftovers"]}
    assert set(left) == set(d["survivors"]), (left, d)
    assert all(l["reason"] == "outlived_driver" and l["driver"] == 1 for l in left.values())
    assert "processes of its tree still run" in err, err
    # cleaned up during the run, 1 s after the driver died, and verified
    c = report["cleanup"]
    assert (c["attempted"], c["succeeded"], c["failed"]) == (len(left), len(left), 0), c
    assert {a["pid"] for a in c["actions"]} == set(left), c
    assert all(a["verified"] for a in c["actions"]), c
    assert not any(still_alive(procs[p]) for p in left)


def rollup_pss_kb(pid):
    """PSS of pid from its smaps_rollup (kB), or None once it is gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return None


def test_selenium_summary_and_pss(qh, tmp_path, selenium):
    """Without -q: the summary fits a screen; the tree's PSS, sampled at the end while the
    browser still runs (nobody quit, no --cleanup), is within 10% of smaps_rollup read here."""
    argv = qh.attach_argv([PYTHON, RUN, "noquit"], tmp_path / "report.json",
                          (*FAST, "--junit", str(tmp_path / "j.xml"),
                           "--summary-md", str(tmp_path / "s.md")))
    rc, out, err = qh.run(argv, timeout=90)
    report = qh.load_report(tmp_path / "report.json")
    running = [p for p in (report or {}).get("processes", [])
               if p["state"] == "running" and qh.proc_comm(p["pid"]) == p["comm"]]
    try:
        assert rc == 0, f"qhtrace exited {rc}; stderr:\n{err}"
        lines = err.splitlines()
        assert len(lines) <= 40, f"{len(lines)} lines:\n{err}"
        d = report["drivers"][0]
        assert d["memory_basis"] == "pss", d
        # the browser: many processes sharing most of their pages
        assert d["pss_kb"] < d["memory_kb"], d
        assert d["peak_pss_kb"] <= d["peak_memory_kb"] and d["peak_uss_kb"] <= d["peak_pss_kb"]
        mine = {p["pid"]: rollup_pss_kb(p["pid"]) for p in running if p["driver"] == 1}
        mine = {pid: kb for pid, kb in mine.items() if kb is not None}
        assert mine, running
        theirs = {p["pid"]: p["pss_kb"] for p in running if p["pid"] in mine}
        assert abs(sum(theirs.values()) - sum(mine.values())) <= 0.1 * sum(mine.values()), \
            (theirs, mine)
        assert abs(d["pss_kb"] - sum(mine.values())) <= 0.1 * sum(mine.values()), (d, mine)
        # one line for the tree, its verdict and its leftovers grouped, not one per process
        tree = [l for l in lines if l.startswith("  #1 chromedriver")]
        assert len(tree) == 1 and "peak PSS" in tree[0] and "left" in tree[0], err
        assert sum(1 for l in lines if l.startswith("leftover:")) == 0, err
        assert any(l.startswith("  chromedriver #1: ") and "outlived_command" in l
                   for l in lines), err
        # the CI outputs tell the same story
        junit = (tmp_path / "j.xml").read_text()
        assert 'name="driver #1 chromedriver' in junit, junit
        md = (tmp_path / "s.md").read_text()
        assert "chromedriver #1" in md and "outlived_command" in md, md
    finally:
        for p in running:
            qh.adopt(p["pid"])

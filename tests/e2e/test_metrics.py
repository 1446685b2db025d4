# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The metrics of `qhtrace monitor` as Prometheus's own tools read them: promtool accepts the
alert rules (tools/qhtrace-alerts.yml) and their unit tests (tests/metrics/alerts_test.yml) pass,
promtool's linter accepts the exposition monmetrics writes, and a real Prometheus (prom.py)
scrapes it from httpd, gets back every number exactly, and evaluates the alert rules on it.

The exposition is a busy CI node's (node_data in tests/unit/test_monmetrics.c), written and
served by that unit test binary's --print and --serve modes. No root needed.

Run: /usr/bin/python3 -m pytest tests/e2e/test_metrics.py
"""

import os
import subprocess
from pathlib import Path

import pytest

from conftest import TIME_SCALE, qhtrace_path
from prom import PROMTOOL, prometheus, require

pytestmark = pytest.mark.unprivileged

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "tools" / "qhtrace-alerts.yml"
MiB = 1024 * 1024


def monmetrics_bin():
    """The unit test binary that prints and serves the node's exposition (beside qhtrace)."""
    path = qhtrace_path().parent / "tests" / "test_monmetrics"
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} not built: make {path.parent}/test_monmetrics", pytrace=False)
    return str(path)


def test_promtool_check_rules():
    out = subprocess.run([require(PROMTOOL), "check", "rules", str(RULES)], capture_output=True,
                         text=True, timeout=60 * TIME_SCALE)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS: 10 rules found" in out.stdout, out.stdout


def test_alert_rules_fire():
    """Each alert fires on the series that should raise it (promtool's rule unit tests)."""
    out = subprocess.run([require(PROMTOOL), "test", "rules",
                          str(REPO / "tests" / "metrics" / "alerts_test.yml")],
                         capture_output=True, text=True, timeout=60 * TIME_SCALE)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout, out.stdout


def test_promtool_check_metrics():
    page = subprocess.run([monmetrics_bin(), "--print"], capture_output=True, text=True,
                          timeout=60 * TIME_SCALE, check=True).stdout
    assert 'qhtrace_zombies{group="git"} 37\n' in page
    assert "process_resident_memory_bytes " in page
    out = subprocess.run([require(PROMTOOL), "check", "metrics"], input=page,
                         capture_output=True, text=True, timeout=60 * TIME_SCALE)
    # the linter's findings are printed, one a line; none is accepted
    assert out.returncode == 0 and not out.stdout.strip() and not out.stderr.strip(), out


def test_promtool_check_metrics_is_not_vacuous():
    """The same linter refuses a page with a counter named as a gauge and no HELP."""
    bad = "# TYPE jobs_finished counter\njobs_finished 3\n"
    out = subprocess.run([require(PROMTOOL), "check", "metrics"], input=bad,
                         capture_output=True, text=True, timeout=60 * TIME_SCALE)
    assert out.returncode != 0 and "jobs_finished" in out.stdout + out.stderr, out


@pytest.fixture
def served():
    """The node's exposition served on a free loopback port: "HOST:PORT"."""
    p = subprocess.Popen([monmetrics_bin(), "--serve", "127.0.0.1:0"], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    try:
        line = p.stdout.readline()
        assert line.startswith("listening on 127.0.0.1:"), (line, p.stderr.read())
        yield line.split()[-1]
        p.terminate()
        assert p.wait(timeout=30 * TIME_SCALE) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=30)
        p.stdout.close()
        p.stderr.close()


def test_scraped_by_prometheus(served):
    with prometheus(served, rule_files=[RULES]) as prom:
        prom.wait_for_value('up{job="qhtrace"}', 1)
        assert prom.query('qhtrace_zombies{group="git"}') == [37]
        assert prom.query('qhtrace_processes{group="git",state="zombie"}') == [37]
        assert prom.query('sum(qhtrace_processes{state="alive"})') == [26]
        assert prom.query('qhtrace_leftover_processes{job_kind="github"}') == [9, 1]
        assert prom.query('qhtrace_leftovers_found_total') == [12, 0]
        assert prom.query('qhtrace_jobs_running{job_kind="github"}') == [2]
        assert prom.query('qhtrace_memory_rss_bytes{group="chrome",kind="anon"}') == [812 * MiB]
        assert prom.query('qhtrace_webdriver_tree_rss_bytes') == [1100 * MiB]
        assert prom.query('qhtrace_webdriver_leftover_browsers{kind="chrome"}') == [9]
        assert prom.query('qhtrace_cleanup_total') == [0, 3, 1, 12]  # by result, sorted
        assert prom.query('qhtrace_processes_started_total') == [123456]
        assert prom.query('qhtrace_build_info') == [1]
        # a label value that needed escaping reads back as the process named itself
        groups = {s[0]["group"] for s in prom.query_series("qhtrace_zombies")}
        assert groups == {"chrome", "chromedriver", "git", "python3", "Runner.Worker",
                          'evil"\\\ncomm'}
        # qhtrace's own figures: a live process's
        rss = prom.query("process_resident_memory_bytes")
        assert len(rss) == 1 and 100 * 1024 < rss[0] < 1024 * MiB
        assert prom.query("process_open_fds")[0] >= 3
        # the alert rules run on it: the zombies and leftovers are pending (their `for:`)
        prom.wait_for_value('count(ALERTS{alertname="QhtraceJobLeftovers",'
                            'alertstate="pending"})', 2)
        prom.wait_for_value('count(ALERTS{alertname="QhtraceBrowsersOutliveDrivers"})', 1)
        rules = [r for g in prom.api("rules")["groups"] for r in g["rules"]]
        assert len(rules) == 10
        bad = [(r["name"], r.get("lastError")) for r in rules if r["health"] == "err"]
        assert not bad, bad


def test_prometheus_ends_when_the_test_fails(served):
    """prom.py stops the server and removes its files when the block raises."""
    seen = {}
    with pytest.raises(AssertionError, match=r"expected \[38\]"):
        with prometheus(served) as prom:
            seen["pid"], seen["dir"] = prom.pid, prom.dir
            assert prom.dir.is_dir()
            prom.wait_for_value('qhtrace_zombies{group="git"}', 38, timeout=3)
    with pytest.raises(ProcessLookupError):
        os.kill(seen["pid"], 0)
    assert not seen["dir"].exists()

# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The HTML report (--html, `qhtrace report --html`) opened in a real browser: Debian's
chromium through selenium and chromedriver, from file://, as a CI artifact would be.

Each page: no console errors, the verdict text, one timeline bar per process (or per folded
group), the flame graph's top frame named as the report's biggest outermost frame, a click on it
zooms it to the whole width; a screenshot of each goes to $QH_ARTIFACTS (default
.output/artifacts). QH_UPDATE_SCREENSHOT=1 also writes the demo's to
tests/e2e/screenshots/demo-report.png (the README's picture).
"""

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from conftest import REPO, fixtures_dir, in_ci

PYTHON = "/usr/bin/python3"
RUN = str(Path(__file__).with_name("webdriver_run.py"))
ARTIFACTS = Path(os.environ.get("QH_ARTIFACTS") or REPO / ".output" / "artifacts")


@pytest.fixture
def browser(root):
    missing = [p for p in ("/usr/bin/chromium", "/usr/bin/chromedriver")
               if not os.access(p, os.X_OK)]
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing.append("python3-selenium")
    if missing:
        msg = f"the browser tests need {missing}: run tools/install-deps.sh --test"
        if in_ci():
            pytest.fail(msg + " (CI=true: a skip is a failure)", pytrace=False)
        pytest.skip(msg)
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--no-first-run", "--window-size=1280,1000"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"),
                           options=opts)
    try:
        yield drv
    finally:
        drv.quit()


def open_page(drv, path, shot):
    """Load the page, wait until its script has drawn, check the console; screenshot it."""
    drv.get(Path(path).resolve().as_uri())
    deadline = time.monotonic() + 60
    while drv.find_element("tag name", "body").get_attribute("data-ready") != "1":
        assert time.monotonic() < deadline, "the page's script never finished"
        time.sleep(0.05)
    errors = [e for e in drv.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert not errors, errors
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    drv.save_screenshot(str(ARTIFACTS / shot))
    return drv


def css(drv, sel):
    return drv.find_elements("css selector", sel)


def verdict(drv):
    return css(drv, "#verdict")[0].text


def bars(drv):
    n = len(css(drv, "#timeline-chart rect.bar"))
    assert str(n) == css(drv, "#timeline-chart")[0].get_attribute("data-bars")
    return n


def frame_label(f):
    """html.c's frame_label: symbol (file:line), else symbol+offset [module], ..."""
    sym, file, line = f.get("symbol"), f.get("file"), f.get("line") or 0
    mod = os.path.basename(f["module"]) if f.get("module") else "?"
    if sym and file and line > 0:
        return f"{sym} ({os.path.basename(file)}:{line})"
    if sym and f.get("offset") is not None:
        return f"{sym}+{f['offset']:#x} [{mod}]"
    if sym:
        return sym
    return f"{f.get('address') or '?'} [{mod}]"


def top_frame(report):
    """The widest frame under the flame graph's root: outermost frames summed by bytes."""
    width = {}
    for leak in report["leaks"]["heap"]:
        stack = leak.get("stack") or []
        label = frame_label(stack[min(len(stack), 64) - 1]) if stack else leak["caller"]
        width[label] = width.get(label, 0) + leak["bytes"]
    return max(width.items(), key=lambda kv: kv[1])[0]


def check_flame_zoom(drv, report):
    """The top frame is the report's, and a click on it widens it to the whole chart."""
    want = top_frame(report)
    frames = [r for r in css(drv, "#flame-chart rect.frame") if r.get_attribute("data-depth") == "1"]
    top = max(frames, key=lambda r: float(r.get_attribute("width")))
    assert top.get_attribute("data-name") == want
    full = float(css(drv, "#flame-chart svg")[0].get_attribute("width"))
    before = float(top.get_attribute("width"))
    # the frame nearest the root that is not the widest: zooming it must widen it
    small = min(frames, key=lambda r: float(r.get_attribute("width")))
    target = small if float(small.get_attribute("width")) < full - 1 else top
    drv.execute_script(
        "arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true}))", target)
    assert css(drv, "#flame-chart")[0].get_attribute("data-zoomed") == \
        target.get_attribute("data-name")
    assert abs(float(target.get_attribute("width")) - full) < 1, (before, full)
    return want


def test_demo_html(qh, tmp_path, browser):
    html = tmp_path / "demo.html"
    rc, rep, err = qh.run_attach([str(fixtures_dir() / "demo")], tmp_path / "demo.json",
                                 ("-q", "--heap", "--html", str(html)))
    assert rc == 0, err
    assert html.stat().st_size < 5 << 20
    drv = open_page(browser, html, "demo-report.png")
    assert verdict(drv) == "PASS"
    assert bars(drv) == len(rep["processes"]) == 3
    # the demo's 32 MiB leak is heap_worker's, in its own source file: a frame of the graph
    # (the outermost frame is whatever the unwinder reached: _start, or heap_worker itself
    # when the walk stops there)
    check_flame_zoom(drv, rep)
    names = [r.get_attribute("data-name") for r in css(drv, "#flame-chart rect.frame")]
    assert any(n.startswith("heap_worker") for n in names), names
    # the timeline zooms too (the button, as a wheel would)
    css(drv, "#timeline-chart .tools button")[0].click()
    assert float(css(drv, "#timeline-chart")[0].get_attribute("data-zoom")) == 2
    # without JavaScript the verdict and the tables are there as HTML
    page = html.read_text()
    assert '<span id="verdict">PASS</span>' in page
    assert page.count("<tr>", page.index('id="t-heap"')) >= len(rep["leaks"]["heap"])
    if os.environ.get("QH_UPDATE_SCREENSHOT") == "1":
        drv.set_window_size(1000, 1350)
        drv.refresh()
        open_page(drv, html, "demo-report-small.png")
        (REPO / "tests" / "e2e" / "screenshots").mkdir(exist_ok=True)
        shutil.copy(ARTIFACTS / "demo-report-small.png",
                    REPO / "tests" / "e2e" / "screenshots" / "demo-report.png")


def test_selenium_html(qh, tmp_path, browser):
    """A Selenium run that leaves its browser behind, cleaned up: drivers, leftovers, proof."""
    html = tmp_path / "sel.html"
    argv = qh.attach_argv([PYTHON, RUN, "noquit"], tmp_path / "sel.json",
                          ("-q", "--force-cleanup-timeout", "1", "--cleanup",
                           "--fail-on", "leftovers", "--html", str(html)))
    rc, out, err = qh.run(argv, timeout=90)
    rep = qh.load_report(tmp_path / "sel.json")
    assert rc == 3, err
    drv = open_page(browser, html, "selenium-report.png")
    assert verdict(drv) == "FAIL"
    reasons = css(drv, "#reasons li")
    assert [r.text for r in reasons] == rep["verdict"]["reasons"]
    assert bars(drv) == len(rep["processes"])
    # the WebDriver tree's bars are marked, the driver itself too
    assert len(css(drv, "#timeline-chart rect.bar.driver")) == 1
    rows = css(drv, "#t-leftovers tbody tr")
    assert len(rows) == len(rep["leftovers"]) > 0
    proofs = [a["verified"] for a in rep["cleanup"]["actions"]]
    assert sum("verified gone" in r.text and "NOT" not in r.text for r in rows) == sum(proofs)
    assert len(css(drv, "#t-drivers tbody tr")) == 1


def test_forkmany_html(qh, tmp_path, browser):
    """10,000 processes: folded to two bars, small, and `report --html` from the JSON + log."""
    rc, rep, err = qh.run_attach(
        [str(fixtures_dir() / "forkmany"), "10000"], tmp_path / "fm.json",
        ("-q", "--ringbuf-size", "16384", "--events", str(tmp_path / "fm.ndjson.gz"),
         "--html", str(tmp_path / "fm.html")), timeout=180)
    assert rc == 0, err
    assert len(rep["processes"]) == 10001 and rep["events"]["lost"] == 0
    rc, _, err = qh.run([qh.qhtrace, "report", "--html", str(tmp_path / "fm2.html"),
                         "--events", str(tmp_path / "fm.ndjson.gz"), str(tmp_path / "fm.json")])
    assert rc == 0, err
    for name in ("fm.html", "fm2.html"):
        size = (tmp_path / name).stat().st_size
        assert size < 5 << 20, size
        drv = open_page(browser, tmp_path / name, "forkmany-" + name + ".png")
        assert verdict(drv) == "PASS"
        # the parent, and its 10,000 children of one name as one folded bar
        assert bars(drv) == 2
        labels = [t.text for t in css(drv, "#timeline-chart svg text")]
        assert labels[-1] == "forkmany \u00d710000", labels
        assert "10001 processes in 2 bars" in css(drv, "#timeline-note")[0].text


def test_no_findings_html(qh, tmp_path, browser):
    html = tmp_path / "none.html"
    rc, rep, err = qh.run_attach(["/bin/true"], tmp_path / "none.json",
                                 ("-q", "--heap", "--fail-on", "leaks,fds,zombies,leftovers",
                                  "--html", str(html)))
    assert rc == 0, err
    drv = open_page(browser, html, "no-findings.png")
    assert verdict(drv) == "PASS"
    assert bars(drv) == 1
    assert "No findings in the gated classes" in css(drv, "#reasons")[0].text
    for sel, text in (("#fd-leaks", "No fd findings."), ("#zombies", "No zombies."),
                      ("#leftovers", "No leftovers.")):
        assert text in css(drv, sel)[0].text


def every_finding(path):
    """A report with every kind of finding, and fields this version does not know yet."""
    t = "2026-01-01T00:00:%02d.000Z"
    procs = [dict(pid=100 + i, ppid=99 + i if i else 1, comm=c, start_time=t % i,
                  end_time=t % (i + 10), state=s, exit_code=0 if s != "running" else None,
                  signal=None, peak_rss_kb=1000 * (i + 1), driver=1 if i in (1, 2) else None)
             for i, (c, s) in enumerate([("pytest", "reaped"), ("chromedriver", "reaped"),
                                         ("chrome <b>", "running"), ("zomb", "zombie")])]
    stack = [dict(symbol="leaky", file="/src/leak.c", line=12, module="/bin/t", offset=4),
             dict(symbol="main", file="/src/main.c", line=3, module="/bin/t", offset=9)]
    rep = {
        "schema": "qhtrace/report/v1",
        "run": {"mode": "attach", "command": ["pytest", "-k", "it's <fun>"],
                "start_time": t % 0, "duration_s": 20, "exit_code": 0},
        "events": {"received": 10, "lost": 0, "incomplete": False},
        "processes": procs,
        "leaks": {
            "heap": [dict(pid=100, comm="pytest", bytes=4096, count=2, severity="high",
                          kind="unreachable", test="test_a", stack=stack, caller="0x1"),
                     dict(pid=100, comm="pytest", bytes=100, count=1, severity="low",
                          caller="0x2", stack=[])],
            "fds": [dict(pid=100, comm="pytest", kind="file", target="/tmp/x", count=7,
                         reason="open_at_end", severity="low", site="openat")],
            "sockets": [dict(pid=100, comm="pytest", kind="socket", target="tcp -> 1.2.3.4:80",
                             state="CLOSE_WAIT", count=2, reason="open_at_end",
                             severity="medium", site="connect")]},
        "drivers": [dict(id=1, kind="chromedriver", pid=101, start_time=t % 1,
                         lifetime_s=5, process_count=2, peak_memory_kb=9000,
                         ended_cleanly=False, survivors=[102],
                         memory_timeline=[dict(t_s=0, memory_kb=100),
                                          dict(t_s=1, memory_kb=9000)])],
        "zombies": [dict(pid=103, comm="zomb", parent_pid=100, parent_comm="pytest",
                         zombie_for_s=3, reaped=False, driver=None)],
        "orphans": [dict(pid=102, comm="chrome <b>", old_ppid=101, new_ppid=1,
                         new_parent_comm="init", driver=1)],
        "leftovers": [dict(pid=102, comm="chrome <b>", start_time=t % 2,
                           reason="outlived_driver", driver=1, age_s=4)],
        "cleanup": {"attempted": 1, "succeeded": 1, "failed": 0,
                    "actions": [dict(pid=102, comm="chrome <b>", start_time=t % 2,
                                     signal="SIGKILL", attempts=2, verified=True, reaped=True,
                                     error=None)]},
        "alerts": [dict(kind="memory_leak", severity="critical", message="pid 100 <leaked>",
                        value=4, threshold=1, time=t % 5)],
        "tests": [dict(name="test_a", outcome="failed", duration_s=1.5, findings=2),
                  dict(name="test_b", outcome="passed", duration_s=0.5, findings=0)],
        "verdict": {"pass": False, "reasons": ["leaks: 2 findings at or above low"],
                    "fail_on": ["leaks"], "severity_floor": "low"},
    }
    path.write_text(json.dumps(rep))
    return rep


@pytest.mark.unprivileged
def test_every_finding_html(qhtrace, tmp_path, browser):
    rep = every_finding(tmp_path / "all.json")
    html = tmp_path / "all.html"
    r = subprocess.run([qhtrace, "report", "--html", str(html), str(tmp_path / "all.json")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    drv = open_page(browser, html, "every-finding.png")
    assert verdict(drv) == "FAIL"
    assert [e.text for e in css(drv, "#reasons li")] == rep["verdict"]["reasons"]
    assert bars(drv) == 4
    assert css(drv, "#command")[0].text == "pytest -k 'it'\\''s <fun>'"
    assert check_flame_zoom(drv, rep) == "main (main.c:3)"
    for table, n in (("t-heap", 2), ("t-fd-leaks", 1), ("t-sockets", 1), ("t-drivers", 1),
                     ("t-zombies", 1), ("t-orphans", 1), ("t-leftovers", 1), ("t-alerts", 1),
                     ("t-tests", 2)):
        assert len(css(drv, f"#{table} tbody tr")) == n, table
    heads = [h.text for h in css(drv, "#t-heap th")]
    assert "kind" in heads and "test" in heads
    assert "SIGKILL, 2 signals, verified gone, reaped" in css(drv, "#t-leftovers")[0].text
    # the memory chart falls back on the driver's own timeline
    assert css(drv, "#memory-series option")[0].text.startswith("chromedriver #1 tree")
    # a sortable table sorts: bytes, ascending
    css(drv, "#t-heap th")[1].click()
    assert css(drv, "#t-heap tbody tr td")[1].text == "100 B"
    # text from the traced processes stays text
    assert "<b>" not in html.read_text().split('id="qh-data"')[0].replace("&lt;b&gt;", "")
    assert "chrome <b>" in css(drv, "#t-leftovers")[0].text


@pytest.mark.unprivileged
def test_report_html_errors(qhtrace, tmp_path):
    log = tmp_path / "x.ndjson"
    log.write_text('{"time":"2026-01-01T00:00:00.000Z","kind":"log"}\n')
    r = subprocess.run([qhtrace, "report", "--html", str(tmp_path / "o.html"), str(log)],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "not a qhtrace summary report" in r.stderr, r.stderr
    r = subprocess.run([qhtrace, "report", "--events", str(log), str(log)],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "--events goes with --html" in r.stderr, r.stderr
    every_finding(tmp_path / "all.json")
    r = subprocess.run([qhtrace, "report", "--html", str(tmp_path / "nodir" / "o.html"),
                        str(tmp_path / "all.json")], capture_output=True, text=True)
    assert r.returncode == 2, r.stderr

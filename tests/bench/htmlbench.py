#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The HTML report of a one-hour run with 10,000 processes: its size, and how long headless
chromium takes to open it (a benchmark: it prints figures, it asserts nothing about speed).

    /usr/bin/python3 tests/bench/htmlbench.py [--qhtrace .output/qhtrace] [--rounds 5]

Makes the run's summary report and event log itself (a test runner forking 10,000 workers over
an hour, most living seconds, 40 for the whole hour; a chromedriver tree of 30 processes; 500
heap leaks of 12-frame stacks; fd findings; a memory sample of every live process every 5 s),
then `qhtrace report --html --events`, then opens the page ROUNDS times: the time until its
script has drawn everything (the page's own performance.now() at the end of html.js) and
until WebDriver's get() returns (the load event), median and max.
"""

import argparse
import gzip
import json
import os
import random
import statistics
import subprocess
import tempfile
import time
from datetime import datetime, timedelta, timezone

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def iso(s):
    return (T0 + timedelta(seconds=s)).strftime("%Y-%m-%dT%H:%M:%S.") + \
        "%03dZ" % int((s % 1) * 1000)


def make_run(d, n=10000, hour=3600.0):
    rnd = random.Random(19)
    procs, life = [], []
    procs.append(dict(pid=1000, ppid=1, comm="pytest", start_time=iso(0), end_time=iso(hour),
                      state="reaped", exit_code=0, signal=None, peak_rss_kb=80000, driver=None))
    life.append((1000, 0, hour))
    for i in range(n - 1):
        pid = 2000 + i
        if i < 40:
            s, e = rnd.uniform(0, 60), hour - rnd.uniform(0, 60)
        else:
            s = rnd.uniform(0, hour - 30)
            e = s + rnd.expovariate(1 / 8.0)
        drv = 1 if 40 <= i < 70 else None
        comm = ("chromedriver" if i == 40 else "chrome" if drv else
                rnd.choice(["python3", "sh", "git", "cc1", "ld", "node"]))
        procs.append(dict(pid=pid, ppid=1000 if drv is None or i == 40 else 2040,
                          comm=comm, start_time=iso(s), end_time=iso(min(e, hour)),
                          state="reaped", exit_code=rnd.choice([0] * 20 + [1]), signal=None,
                          peak_rss_kb=rnd.randint(2000, 400000), driver=drv))
        life.append((pid, s, min(e, hour)))
    stack = lambda k: [dict(symbol=f"fn_{k}_{j}", file=f"/src/mod{k % 7}.c", line=10 + j,
                            module="/usr/bin/python3", offset=j) for j in range(12)]
    heap = [dict(pid=1000, comm="pytest", bytes=rnd.randint(64, 1 << 22), count=rnd.randint(1, 99),
                 severity=rnd.choice(["low", "medium", "high"]), stack=stack(k), caller="0x1")
            for k in range(500)]
    fds = [dict(pid=2000 + k, comm="python3", kind="file", target=f"/tmp/f{k}", count=3,
                reason="open_at_end", severity="low", site="openat") for k in range(50)]
    rep = {"schema": "qhtrace/report/v1",
           "run": {"mode": "attach", "command": ["pytest", "-n", "2", "tests/"],
                   "start_time": iso(0), "duration_s": hour, "exit_code": 0},
           "events": {"received": 4 * n, "lost": 0, "incomplete": False},
           "processes": procs, "leaks": {"heap": heap, "fds": fds, "sockets": []},
           "drivers": [dict(id=1, kind="chromedriver", pid=2040, start_time=iso(10),
                            lifetime_s=3000, process_count=30, peak_memory_kb=900000,
                            ended_cleanly=True, survivors=[],
                            memory_timeline=[dict(t_s=t * 50, memory_kb=500000 + t * 1000)
                                             for t in range(64)])],
           "zombies": [], "leftovers": [], "alerts": [],
           "verdict": {"pass": False, "reasons": ["leaks: 500 findings at or above low"],
                       "fail_on": ["leaks"], "severity_floor": "low"}}
    with open(os.path.join(d, "run.json"), "w") as f:
        json.dump(rep, f, indent=1)  # as qhtrace writes it: evread reads lines of <= 1 MiB
    samples = 0
    with gzip.open(os.path.join(d, "run.ndjson.gz"), "wt", compresslevel=1) as f:
        f.write(json.dumps({"time": iso(0), "kind": "log", "schema": "qhtrace/events/v1"}) + "\n")
        for t in range(0, int(hour), 5):
            for pid, s, e in life:
                if s <= t <= e:
                    rss = 1000 + (pid * 37 + t) % 300000
                    f.write(json.dumps({"time": iso(t), "kind": "memory", "pid": pid,
                                        "comm": "w", "rss_kb": rss, "rss_file_kb": rss // 4,
                                        "rss_anon_kb": rss - rss // 4, "rss_shmem_kb": 0,
                                        "swap_kb": 0}) + "\n")
                    samples += 1
    return samples


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--qhtrace", default=".output/qhtrace")
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    with tempfile.TemporaryDirectory() as d:
        samples = make_run(d)
        t = time.monotonic()
        subprocess.run([a.qhtrace, "report", "--html", os.path.join(d, "run.html"), "--events",
                        os.path.join(d, "run.ndjson.gz"), os.path.join(d, "run.json")],
                       check=True)
        made = time.monotonic() - t
        size = os.path.getsize(os.path.join(d, "run.html"))
        opts = webdriver.ChromeOptions()
        opts.binary_location = "/usr/bin/chromium"
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                    "--disable-gpu", "--window-size=1280,1000"):
            opts.add_argument(arg)
        drv = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"),
                               options=opts)
        drawn, loaded = [], []
        try:
            for _ in range(a.rounds):
                drv.get("about:blank")
                t = time.monotonic()
                drv.get("file://" + os.path.join(d, "run.html"))
                loaded.append(time.monotonic() - t)
                body = drv.find_element("tag name", "body")
                assert body.get_attribute("data-ready") == "1"
                drawn.append(int(body.get_attribute("data-ready-ms")) / 1000)
                bars = len(drv.find_elements("css selector", "#timeline-chart rect.bar"))
        finally:
            drv.quit()
    print(f"htmlbench: 10,000 processes over 1 h, {samples} memory samples: "
          f"page {size / 1e6:.2f} MB ({bars} timeline bars), made in {made:.2f} s")
    print(f"htmlbench: drawn after median {statistics.median(drawn):.3f} s "
          f"(max {max(drawn):.3f}), load event median {statistics.median(loaded):.3f} s "
          f"(max {max(loaded):.3f}) over {a.rounds} opens in headless chromium (goal: < 5 MB, "
          f"< 2 s)")


if __name__ == "__main__":
    main()

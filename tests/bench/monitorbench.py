#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""`qhtrace monitor` benchmark: figures to read, not a test (it asserts nothing).

Usage (as root, after `make bench`'s build):
    /usr/bin/python3 tests/bench/monitorbench.py [--exec N] [--soak N] [--qhtrace PATH]

1. A fork+exec loop (`procchurn N exec`: fork, exec /bin/true, reap; N = 5,000) untraced, then
   under the monitor: the ratio of the two times (goal: at most 1.10x), and the monitor's own
   CPU time (utime + stime from /proc) over the loop per process (goal: under 50 us).
2. A soak: N short processes (`procchurn N`: fork, _exit, reap; N = 200,000) under the
   monitor: its VmRSS after the first 10,000 and at the end (goal: within 10%), and the events
   it lost (from its last line).
3. With --metrics: the time of one scrape of /metrics (after the soak).
Both loops share the machine with whatever else runs (a CI run, other engineers): the ratio
is of runs minutes apart, so run it on a quiet machine for figures to compare.
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        data = f.read()
    fields = data[data.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def churn(path, n, exec_=False, on_line=None):
    argv = [path, str(n)] + (["exec"] if exec_ else [])
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in p.stderr:
        if on_line:
            on_line(line.strip())
    out = p.stdout.read()
    p.wait()
    return float(out.strip())


def start_monitor(qhtrace, spool, metrics):
    mon = subprocess.Popen([qhtrace, "monitor", "--spool", spool, "--metrics-addr", metrics,
                            "--socket", ""],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        line = mon.stderr.readline()
        if not line:
            break
        if "processes running" in line:
            return mon
    mon.kill()
    sys.exit(f"the monitor did not start: {line}")


def stop_monitor(mon):
    mon.send_signal(signal.SIGTERM)
    err = mon.stderr.read()
    mon.wait(timeout=120)
    return err


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--exec", type=int, default=5000, dest="n_exec")
    ap.add_argument("--soak", type=int, default=200000)
    ap.add_argument("--metrics", default="", help="ADDR to serve and scrape /metrics on")
    ap.add_argument("--qhtrace", default=os.environ.get("QHTRACE") or REPO / ".output/qhtrace")
    ap.add_argument("--churn", default=REPO / ".output/bench/procchurn")
    a = ap.parse_args()
    churn_path = str(a.churn)

    with tempfile.TemporaryDirectory() as spool:
        base = churn(churn_path, a.n_exec, exec_=True)
        mon = start_monitor(str(a.qhtrace), spool, a.metrics)
        try:
            c0 = cpu_s(mon.pid)
            traced = churn(churn_path, a.n_exec, exec_=True)
            c1 = cpu_s(mon.pid)
            print(f"fork+exec x{a.n_exec}: untraced {base:.2f} s, under the monitor "
                  f"{traced:.2f} s: {traced / base:.2f}x (goal <= 1.10x); monitor CPU "
                  f"{(c1 - c0) * 1e6 / a.n_exec:.1f} us per process (goal < 50 us)")

            marks = {}

            def on_line(line):
                if line == "at 10000":
                    time.sleep(3)  # let its fold run over the first ones
                    marks["rss_10k"] = rss_kb(mon.pid)

            c0 = cpu_s(mon.pid)
            soak = churn(churn_path, a.soak, on_line=on_line)
            time.sleep(7)
            rss_end = rss_kb(mon.pid)
            c1 = cpu_s(mon.pid)
            r10 = marks.get("rss_10k", 0)
            print(f"soak: {a.soak} processes in {soak:.1f} s; monitor VmRSS {r10} kB after "
                  f"10,000, {rss_end} kB at the end: {rss_end / max(r10, 1):.3f}x (goal within "
                  f"10%); CPU {(c1 - c0) * 1e6 / a.soak:.1f} us per process")
            if a.metrics:
                host, port = a.metrics.rsplit(":", 1)
                t0 = time.monotonic()
                with urllib.request.urlopen(f"http://{host or '127.0.0.1'}:{port}/metrics") as r:
                    body = r.read()
                print(f"scrape: {len(body)} bytes in {(time.monotonic() - t0) * 1e3:.1f} ms "
                      "(goal < 20 ms)")
        finally:
            err = stop_monitor(mon)
        last = [line for line in err.splitlines() if "processes seen" in line]
        print("monitor:", last[-1] if last else err[-500:])


if __name__ == "__main__":
    main()

#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""What `qhtrace attach --heap` costs processes it does not trace: a figure, not a test.

Usage (as root, after `make bench` or `make .output/bench/churn`):
    /usr/bin/python3 tests/bench/heapbystander.py [-r ROUNDS] [-n PAIRS] [--qhtrace PATH]

Workload: churn N (tests/bench/churn.c), malloc(64)+free pairs pinned to the last CPU, the
fastest of 5 slices in ns per pair. It runs untraced, alone and beside
`qhtrace attach --heap --heap-probes MODE -- sleep` for each mode the kernel has:
  tree   uprobe events inherited by the traced tree only (attach's default)
  multi  uprobe_multi links in every process that maps the C library (Linux 6.6+)
  each   a perf uprobe per function, in every process that maps the C library
and beside `qhtrace monitor --heap-match comm:PAT` (the heap of matching processes only) with a
pattern churn does not match: a bystander of the monitor. (A matched process pays what a
traced one does under `multi`: the same programs, on links of its own; its probes land after
its exec record is read, so a "fastest slice" of a matched churn may be an untraced one, and
it is not measured here.)
Rounds interleave the configurations, so a noisy neighbour hits all alike; the fastest round
of each is kept (noise on a VM only ever adds time). Prints ns per pair and the ratio to
untraced (goal for tree: 1.05x).
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GOAL = 1.05


def churn(path, n):
    p = subprocess.run([str(path), str(n)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, timeout=600)
    m = re.search(r"churn: ([0-9.]+) ns/pair", p.stderr)
    if not m:
        sys.exit(f"heapbystander: churn printed no figure:\n{p.stderr}")
    return float(m.group(1))


def beside(qhtrace, mode, churn_path, n):
    """churn while qhtrace traces `sleep` with the heap probes of MODE; None if refused."""
    q = subprocess.Popen([str(qhtrace), "attach", "-v", "--heap", "--heap-probes", mode,
                          "--", "sleep", "3600"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    try:
        # attached once it says so (-v), or refused
        for line in q.stderr:
            if "probes attached" in line:
                break
        else:
            return None
        return churn(churn_path, n)
    finally:
        q.terminate()
        try:
            q.wait(timeout=60)
        except subprocess.TimeoutExpired:
            q.kill()
            q.wait()


def beside_monitor(qhtrace, pattern, churn_path, n):
    """churn while `qhtrace monitor --heap-match PATTERN` runs (a private spool, no socket)."""
    with tempfile.TemporaryDirectory(prefix="qh-heapbystander-") as d:
        q = subprocess.Popen([str(qhtrace), "monitor", "--heap-match", pattern, "--spool",
                              os.path.join(d, "spool"), "--socket", "", "--metrics-addr", ""],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
        try:
            for line in q.stderr:
                if "processes running" in line:
                    break
            else:
                return None
            return churn(churn_path, n)
        finally:
            q.terminate()
            try:
                q.wait(timeout=120)
            except subprocess.TimeoutExpired:
                q.kill()
                q.wait()


MONITOR = {"monitor --heap-match, bystander": "comm:qh-matches-none"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-r", "--rounds", type=int, default=3)
    ap.add_argument("-n", "--pairs", type=int, default=2000000)
    ap.add_argument("--qhtrace", default=os.environ.get("QHTRACE", REPO / ".output/qhtrace"))
    ap.add_argument("--churn", default=REPO / ".output/bench/churn")
    ap.add_argument("--modes", default="tree,multi,each",
                    help="the --heap-probes modes measured (comma-separated, may be empty)")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("heapbystander: run as root")
    modes = [m for m in a.modes.split(",") if m]
    best = {}
    for r in range(a.rounds):
        t = churn(a.churn, a.pairs)
        best["untraced"] = min(best.get("untraced", t), t)
        for m in modes:
            t = beside(a.qhtrace, m, a.churn, a.pairs)
            if t is not None:
                best[m] = min(best.get(m, t), t)
        for k, pat in MONITOR.items():
            t = beside_monitor(a.qhtrace, pat, a.churn, a.pairs)
            if t is not None:
                best[k] = min(best.get(k, t), t)
        print(f"round {r + 1}: " + ", ".join(f"{k} {v:.1f}" for k, v in best.items()),
              file=sys.stderr)
    base = best["untraced"]
    print(f"kernel {os.uname().release}, churn {a.pairs} pairs, fastest of {a.rounds} rounds")
    print(f"{'configuration':<34} {'ns/pair':>9} {'ratio':>8}")
    print(f"{'untraced':<34} {base:>9.1f} {1:>7.2f}x")
    for m in modes:
        if m not in best:
            print(f"{'bystander, --heap-probes ' + m:<34} {'refused by this kernel':>18}")
            continue
        goal = f"  (goal {GOAL}x)" if m == "tree" else ""
        print(f"{'bystander, --heap-probes ' + m:<34} {best[m]:>9.1f} {best[m] / base:>7.2f}x"
              f"{goal}")
    for k in MONITOR:
        if k not in best:
            print(f"{k:<34} {'refused by this kernel':>18}")
            continue
        goal = f"  (goal {GOAL}x)"
        print(f"{k:<34} {best[k]:>9.1f} {best[k] / base:>7.2f}x{goal}")


if __name__ == "__main__":
    main()

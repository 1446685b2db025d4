#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""What a traced process's exit costs in the kernel: a figure to read, not a test.

Usage (as root, after `make` and `make bench`):
    /usr/bin/python3 tests/bench/exitbench.py [-n PROCESSES] [-k FDS] [-r ROUNDS]
                                              [--qhtrace PATH]

Workload: procchurn N fds K [closed] (tests/bench/procchurn.c): N children one after the
other, each opening /dev/null K times and exiting holding them (the fds qhtrace reports as
open_at_exit, one run of alike fds: one record), or closing them first (their records are
still walked), and N children that open nothing. Each runs under `qhtrace attach -q`; while
qhtrace still holds its programs, the sched_process_exit program's run time is read from the
kernel's BPF statistics (kernel.bpf_stats_enabled, switched on for the run and restored):
its run time over the N traced exits, in ns per exit. The program also runs (a lookup, and
out) at every exit of a thread of the machine, which this includes: a bound, not less. The
fastest of ROUNDS rounds (noise only ever adds time). To compare two builds, run it with each
--qhtrace.
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STATS = "/proc/sys/kernel/bpf_stats_enabled"


def prog_ids(pid):
    """The BPF programs process pid holds fds of (fdinfo's prog_id)."""
    ids = set()
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            for line in Path(f"/proc/{pid}/fdinfo/{fd}").read_text().splitlines():
                if line.startswith("prog_id:"):
                    ids.add(int(line.split()[1]))
        except OSError:
            pass
    return ids


def exit_prog_ns(qh_pid):
    """(run_time_ns, run_cnt) of the exit program of the qhtrace whose pid is qh_pid (other
    qhtraces may run beside it: Debian's bpftool names no owner, its fds do)."""
    ids = prog_ids(qh_pid)
    out = subprocess.run(["bpftool", "prog", "show", "-j"], capture_output=True, text=True,
                         check=True).stdout
    for p in json.loads(out):
        if p.get("id") in ids and p.get("name", "").startswith("sched_process_exit"):
            return p.get("run_time_ns", 0), p.get("run_cnt", 0)
    sys.exit("exitbench: the exit program of qhtrace was not found (bpftool prog show)")


def one(qhtrace, churn, n, args):
    """ns per exit of `procchurn N ARGS` traced."""
    cmd = f"{churn} {n} {' '.join(args)} >/dev/null && echo done && read x"
    p = subprocess.Popen([qhtrace, "attach", "-q", "--", "sh", "-c", cmd],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        # the loop is done and qhtrace still holds its programs while sh reads stdin
        if p.stdout.readline().strip() != "done":
            sys.exit(f"exitbench: {cmd} failed: {p.stderr.read()}")
        t, c = exit_prog_ns(p.pid)
    finally:
        p.stdin.write("\n")
        p.stdin.close()
        p.wait(timeout=120)
    return t / n, c


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", "--processes", type=int, default=2000)
    ap.add_argument("-k", "--fds", type=int, default=64)
    ap.add_argument("-r", "--rounds", type=int, default=3)
    ap.add_argument("--qhtrace", default=os.environ.get("QHTRACE", REPO / ".output/qhtrace"))
    ap.add_argument("--procchurn", default=REPO / ".output/bench/procchurn")
    a = ap.parse_args()
    if os.geteuid():
        sys.exit("exitbench: run as root")
    before = Path(STATS).read_text().strip()
    Path(STATS).write_text("1\n")
    try:
        rows = [("no fds", []), (f"{a.fds} fds closed", ["fds", str(a.fds), "closed"]),
                (f"{a.fds} fds held", ["fds", str(a.fds)])]
        best = {}
        for _ in range(a.rounds):
            for name, args in rows:
                ns, _ = one(str(a.qhtrace), str(a.procchurn), a.processes, args)
                best[name] = min(best.get(name, ns), ns)
        print(f"exitbench: {a.processes} exits, fastest of {a.rounds} rounds, exit program "
              "ns per traced exit")
        for name, _ in rows:
            print(f"  {name:<16} {best[name]:8.0f} ns")
    finally:
        Path(STATS).write_text(before + "\n")


if __name__ == "__main__":
    main()

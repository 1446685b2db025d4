#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""What following fds and memory syscalls costs: a figure to read, not a test.

Usage (as root, after `make`):
    /usr/bin/python3 tests/bench/fdbench.py [-r ROUNDS] [-n ITERATIONS] [--qhtrace PATH]
                                            [--probes P,...] [--bystander-only]

Workload: fdloop OP (tests/bench/fdloop.c), a tight loop of one syscall pattern that prints
the best ns per iteration of 5 rounds: open+close of /dev/null, dup+close, socket+close,
mmap+munmap of one page, getppid (a syscall qhtrace does not probe).

Configurations, interleaved round by round so that a noisy neighbour hits all alike:
  untraced     fdloop alone
  bystander    fdloop untraced while `qhtrace attach` traces another process: what every
               other process of the machine pays
  traced       `qhtrace attach -q -- fdloop OP`
each of the last two with the fd syscalls probed each way --probes names (--fd-probes;
default: fentry where this kernel allows it, syscalls and dispatch): fexit programs on the
syscall functions, a tracepoint per syscall, the sys_exit dispatch; `--no-fds` traced
(memory only); and the floor: fdloop beside fdfloor, which attaches no-op programs to the
syscall tracepoints the syscalls variant uses (openat, close, dup, socket, mmap, munmap):
what probing those syscalls costs before any work. --bystander-only: untraced and bystander
alone (the figure the kernel matrix's emulated guests can afford).
Prints the fastest round of each (noise on a VM only ever adds time: the fastest round is the
least disturbed), the overhead per pair (traced - untraced) and the ratios.
Every loop runs pinned to the last CPU (taskset): no migration between rounds.
"""

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OPS = ["open", "dup", "socket", "mmap", "getppid"]
GOALS_NS = {"open": 300, "mmap": 250}  # overhead per pair, traced
GOAL_BYSTANDER = 1.05


def run_loop(argv):
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, timeout=300)
    m = re.search(r"fdloop \w+: ([0-9.]+) ns", p.stderr)
    if not m:
        sys.exit(f"fdbench: {argv} printed no figure:\n{p.stderr}")
    return float(m.group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-r", "--rounds", type=int, default=5)
    ap.add_argument("-n", "--iterations", type=int, default=100000)
    ap.add_argument("--qhtrace", default=os.environ.get("QHTRACE",
                                                        REPO / ".output/qhtrace"))
    ap.add_argument("--fdloop", default=REPO / ".output/bench/fdloop")
    ap.add_argument("--fdfloor", default=REPO / ".output/bench/fdfloor")
    ap.add_argument("--probes", help="--fd-probes variants, comma-separated (default: "
                    "fentry where the kernel allows it, syscalls, dispatch)")
    ap.add_argument("--bystander-only", action="store_true",
                    help="untraced and bystander only: no traced, --no-fds or floor runs")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("fdbench: run as root")
    qh = str(a.qhtrace)
    # the loop, not qhtrace, is pinned: `qhtrace attach -- taskset -c N fdloop` traces fdloop
    pin = ["taskset", "-c", str((os.cpu_count() or 1) - 1)]
    loop = str(a.fdloop)
    if a.probes:
        variants = a.probes.split(",")
    else:
        fentry = subprocess.run([qh, "attach", "-q", "--fd-probes", "fentry", "--", "true"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, timeout=300).returncode == 0
        variants = (["fentry"] if fentry else []) + ["syscalls", "dispatch"]
    res = {}
    for r in range(a.rounds):
        for op in OPS:
            argv = [*pin, loop, op, str(a.iterations)]
            res.setdefault(("untraced", op), []).append(run_loop(argv))
            if not a.bystander_only:
                res.setdefault(("no-fds", op), []).append(
                    run_loop([qh, "attach", "-q", "--no-fds", "--", *argv]))
                floor = subprocess.Popen([str(a.fdfloor)], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, text=True)
                try:
                    if floor.stdout.readline().strip() != "ready":
                        sys.exit("fdbench: fdfloor did not start")
                    res.setdefault(("floor", op), []).append(run_loop(argv))
                finally:
                    floor.stdin.close()
                    floor.wait(timeout=30)
            for v in variants:
                opts = ["--fd-probes", v]
                if not a.bystander_only:
                    res.setdefault((f"traced {v}", op), []).append(
                        run_loop([qh, "attach", "-q", *opts, "--", *argv]))
                # another traced process keeps every probe attached meanwhile; attach runs
                # its command only once they are, so its first line says they are
                other = subprocess.Popen([qh, "attach", "-q", *opts, "--", "sh", "-c",
                                          "echo ready; exec sleep 600"],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL, text=True)
                try:
                    if other.stdout.readline().strip() != "ready":
                        sys.exit(f"fdbench: qhtrace attach --fd-probes {v} did not start")
                    res.setdefault((f"bystander {v}", op), []).append(run_loop(argv))
                finally:
                    other.terminate()
                    other.wait(timeout=60)
        print(f"round {r + 1}/{a.rounds} done", file=sys.stderr)
    med = {k: min(v) for k, v in res.items()}
    names = {"open": "open+close", "dup": "dup+close", "socket": "socket+close",
             "mmap": "mmap+munmap", "getppid": "getppid"}
    print(f"fdbench: {a.rounds} rounds x {a.iterations} iterations, fastest round, ns per pair")
    for v in variants:
        print(f"\nfd probes: {v}")
        if a.bystander_only:
            # beside the fastest rounds' ratio, the median of each round's own ratio: a
            # neighbour that slows a whole round (the emulated guests) cancels out there
            print(f"{'pattern':<16}{'untraced':>10}{'bystander':>11}{'ratio':>8}"
                  f"{'per-round median':>18}")
            for op in OPS:
                u, b = med[("untraced", op)], med[(f"bystander {v}", op)]
                rr = sorted(y / x for x, y in zip(res[("untraced", op)],
                                                  res[(f"bystander {v}", op)]))
                print(f"{names[op]:<16}{u:>10.1f}{b:>11.1f}{b / u:>7.3f}x"
                      f"{rr[len(rr) // 2]:>17.3f}x")
            continue
        print(f"{'pattern':<16}{'untraced':>10}{'traced':>10}{'overhead':>10}{'ratio':>8}"
              f"{'bystander':>11}{'ratio':>8}")
        for op in OPS:
            u, t = med[("untraced", op)], med[(f"traced {v}", op)]
            b = med[(f"bystander {v}", op)]
            goal = f"  (goal: overhead <= {GOALS_NS[op]} ns)" if op in GOALS_NS else ""
            print(f"{names[op]:<16}{u:>10.1f}{t:>10.1f}{t - u:>+10.1f}{t / u:>7.2f}x"
                  f"{b:>11.1f}{b / u:>7.3f}x{goal}")
    print(f"\nbystander: an untraced process's pattern while qhtrace traces another "
          f"(goal <= {GOAL_BYSTANDER:.2f}x)")
    if a.bystander_only:
        return
    print("\n--no-fds (memory probes only), traced:")
    for op in OPS:
        u, t = med[("untraced", op)], med[("no-fds", op)]
        print(f"{names[op]:<16}{u:>10.1f}{t:>10.1f}{t - u:>+10.1f}{t / u:>7.2f}x")
    print("\nfloor: no-op programs on the same syscall tracepoints (openat, close, dup, socket,"
          " mmap, munmap):")
    for op in OPS:
        u, f = med[("untraced", op)], med[("floor", op)]
        t = med.get(("traced syscalls", op))
        over = f"   qhtrace syscalls over the floor: {t - f:+.1f} ns" if t else ""
        print(f"{names[op]:<16}{u:>10.1f}{f:>10.1f}{f - u:>+10.1f}{f / u:>7.2f}x{over}")


if __name__ == "__main__":
    main()

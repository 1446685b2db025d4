#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Startup benchmark of `qhtrace attach`: a figure to read, not a test (it asserts nothing).

Usage (as root, after `make`):
    /usr/bin/python3 tests/bench/startup.py [-n RUNS] [--qhtrace PATH] [--fixtures DIR]

Each run spawns `qhtrace attach -q -- <fixtures>/idle 2` with QH_FIRST_INSN_FILE set. idle
writes its CLOCK_MONOTONIC time first thing in main(); the startup latency is that time minus
the time.monotonic() (the same clock) taken just before spawning qhtrace: everything qhtrace
does before the traced command's first instruction of main (load, attach, release the child).
About 1 s into idle, qhtrace's own VmRSS is read from /proc/PID/status.

The same latency is measured for idle run directly (no tracing) to give a ratio.

Then the whole fixed cost of a run: `qhtrace attach -q -v -- true`, timed from spawn to its
exit (what a CI step waits for), split into the probes' attach (qhtrace's own -v line) and the
rest; and the time until the probes are detached (the qhtrace-detach helper that closes the
classic tracepoints after qhtrace exits is gone), with a pause between runs so one run's
detach does not hold the kernel's event_mutex while the next attaches.
Paths default to QHTRACE and QH_FIXTURES, else <repo>/.output/{qhtrace,fixtures}.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GOAL_STARTUP_MS = 500
GOAL_RSS_MIB = 20
GOAL_TRUE_MS = 300
IDLE_SECONDS = 2
TIMEOUT = 30  # seconds for one run, generous: idle itself lasts 2 s


def read_first_insn(path, deadline):
    """The monotonic time idle wrote to path, polling until deadline (None if never)."""
    while time.monotonic() < deadline:
        try:
            with open(path) as f:
                line = f.read()
        except FileNotFoundError:
            line = ""
        if line.endswith("\n"):
            tag, value = line.split()
            if tag != "T":
                raise RuntimeError(f"unexpected line in {path}: {line!r}")
            return float(value)
        time.sleep(0.001)
    return None


def vm_kb(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except FileNotFoundError:
        pass
    return None


def run_once(argv, first_insn_file, watch_rss):
    """Run argv once: (startup ms, VmRSS kB, VmHWM kB) of the spawned process."""
    env = dict(os.environ, QH_FIRST_INSN_FILE=first_insn_file)
    try:
        os.unlink(first_insn_file)
    except FileNotFoundError:
        pass
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    try:
        t_main = read_first_insn(first_insn_file, t0 + TIMEOUT)
        if t_main is None:
            raise RuntimeError(f"{argv[0]}: the idle fixture never started")
        rss = hwm = None
        if watch_rss:
            time.sleep(max(0.0, t_main + 1.0 - time.monotonic()))
            rss, hwm = vm_kb(proc.pid, "VmRSS"), vm_kb(proc.pid, "VmHWM")
        rc = proc.wait(timeout=TIMEOUT)
        if rc != 0:
            raise RuntimeError(f"{' '.join(argv)} exited {rc}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return (t_main - t0) * 1000, rss, hwm


def detach_helpers():
    """pids of qhtrace-detach processes now"""
    pids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/comm") as f:
                    if f.read().strip() == "qhtrace-detach":
                        pids.append(int(d))
            except OSError:
                pass
    return pids


def run_true(qhtrace):
    """One `attach -q -v -- true`: (wall ms to exit, attach ms, ms until the probes are gone)"""
    before = set(detach_helpers())
    t0 = time.monotonic()
    proc = subprocess.run([qhtrace, "attach", "-q", "-v", "--", "true"], stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          timeout=TIMEOUT)
    wall = (time.monotonic() - t0) * 1000
    if proc.returncode != 0:
        raise RuntimeError(f"qhtrace attach -- true exited {proc.returncode}: {proc.stderr}")
    attach = next((float(l.split("probes attached in ")[1].split()[0])
                   for l in proc.stderr.splitlines() if "probes attached in " in l), None)
    helpers = set(detach_helpers()) - before
    while helpers & set(detach_helpers()) and time.monotonic() - t0 < TIMEOUT:
        time.sleep(0.005)
    gone = (time.monotonic() - t0) * 1000
    return wall, attach, gone


def summary(values):
    return statistics.median(values), min(values), max(values)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", "--runs", type=int, default=5, help="runs of each (default 5)")
    parser.add_argument("--qhtrace", default=os.environ.get("QHTRACE") or
                        str(REPO / ".output" / "qhtrace"))
    parser.add_argument("--fixtures", default=os.environ.get("QH_FIXTURES") or
                        str(REPO / ".output" / "fixtures"))
    args = parser.parse_args()
    if not 1 <= args.runs <= 100:
        parser.error("--runs must be within 1..100")
    idle = os.path.join(args.fixtures, "idle")
    for path in (args.qhtrace, idle):
        if not os.access(path, os.X_OK):
            sys.exit(f"startup.py: {path} not found or not executable (run make first)")
    if os.geteuid() != 0:
        sys.exit("startup.py: qhtrace attach needs root")

    traced_argv = [args.qhtrace, "attach", "-q", "--", idle, str(IDLE_SECONDS)]
    plain_argv = [idle, str(IDLE_SECONDS)]
    with tempfile.TemporaryDirectory(prefix="qhtrace-bench-") as tmp:
        first_insn = os.path.join(tmp, "first-insn")
        try:
            traced = [run_once(traced_argv, first_insn, True) for _ in range(args.runs)]
            plain = [run_once(plain_argv, first_insn, False) for _ in range(args.runs)]
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            sys.exit(f"startup.py: {e}")

    med, lo, hi = summary([t[0] for t in traced])
    pmed, plo, phi = summary([t[0] for t in plain])
    rss = [t[1] for t in traced if t[1] is not None]
    hwm = [t[2] for t in traced if t[2] is not None]
    print(f"qhtrace attach startup, {args.runs} runs ({' '.join(traced_argv)})")
    print(f"  startup to child main: median {med:.1f} ms, min {lo:.1f}, max {hi:.1f} "
          f"(goal < {GOAL_STARTUP_MS} ms)")
    if rss:
        print(f"  qhtrace VmRSS at 1 s:  median {statistics.median(rss) / 1024:.1f} MiB, "
              f"peak VmHWM {max(hwm) / 1024:.1f} MiB (goal < {GOAL_RSS_MIB} MiB)")
    else:
        print("  qhtrace VmRSS at 1 s:  not read (qhtrace had exited)")
    print(f"untraced idle startup: median {pmed:.2f} ms, min {plo:.2f}, max {phi:.2f}")
    print(f"  ratio traced/untraced (medians): {med / pmed:.0f}x")

    runs = []
    for _ in range(args.runs):
        try:
            runs.append(run_true(args.qhtrace))
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            sys.exit(f"startup.py: {e}")
        time.sleep(2)
    wmed, wlo, whi = summary([r[0] for r in runs])
    attach = [r[1] for r in runs if r[1] is not None]
    gmed, glo, ghi = summary([r[2] for r in runs])
    print(f"qhtrace attach -q -- true, {args.runs} runs, 2 s apart")
    print(f"  wall time to exit:     median {wmed:.0f} ms, min {wlo:.0f}, max {whi:.0f} "
          f"(goal < {GOAL_TRUE_MS} ms)")
    if attach:
        amed = statistics.median(attach)
        print(f"    of which the attach: median {amed:.0f} ms; the rest {wmed - amed:.0f} ms")
    print(f"  probes detached after: median {gmed:.0f} ms, min {glo:.0f}, max {ghi:.0f} "
          f"(in the qhtrace-detach helper, after qhtrace exited)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

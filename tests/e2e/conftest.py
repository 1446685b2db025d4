# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Shared fixtures for the end-to-end tests: the real qhtrace on real fixture programs.

Paths come from the environment:
  QHTRACE      the qhtrace binary      (default <repo>/.output/qhtrace)
  QH_FIXTURES  the built fixtures      (default <repo>/.output/fixtures)

Every test here is privileged (it loads BPF, or drops root to check the refusal): the autouse
`root` fixture skips it when euid != 0, and fails it when CI=true, because in CI a skipped
privileged test is a test that did not run. A test that needs no root is marked `unprivileged`.

Everything a test starts goes through the `qh` fixture, which kills what is left of it at
teardown: by the pids it started and their descendants, checked by (pid, start time) so a
reused pid is never hit.

Run: /usr/bin/python3 -m pytest tests/e2e
"""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# Waits are for hangs, never for speed: a guest under emulation (tests/run --kernels sets
# QH_TIME_SCALE) runs every step several times slower, and a fixed 10 s wait for a traced child
# to start failed there once (CI, 6.12 guest) while the same test passed on the host.
TIME_SCALE = max(1.0, float(os.environ.get("QH_TIME_SCALE") or 1))
TIMEOUT = 60  # seconds, for every subprocess a test runs (scaled by TIME_SCALE)

# Every report loaded in this session, for the checks that look at all of them.
ALL_REPORTS = []


def in_ci():
    return os.environ.get("CI", "").lower() in ("true", "1")


def qhtrace_path():
    return Path(os.environ.get("QHTRACE") or REPO / ".output" / "qhtrace")


def fixtures_dir():
    return Path(os.environ.get("QH_FIXTURES") or REPO / ".output" / "fixtures")


def pytest_configure(config):
    config.addinivalue_line("markers", "unprivileged: the test runs without root")


@pytest.fixture(autouse=True)
def root(request):
    """Require euid 0, unless the test is marked unprivileged."""
    if request.node.get_closest_marker("unprivileged") or os.geteuid() == 0:
        return
    msg = "privileged test: needs root (euid 0)"
    if in_ci():
        pytest.fail(msg + "; CI=true, and in CI a skipped privileged test is a failure",
                    pytrace=False)
    pytest.skip(msg)


@pytest.fixture
def qhtrace(root):
    """The qhtrace binary (after the root check, so an unprivileged run skips, not fails)."""
    path = qhtrace_path()
    if not path.is_file() or not os.access(path, os.X_OK):
        pytest.fail(f"qhtrace binary not found or not executable at {path}: "
                    "build it with `make`, or set QHTRACE=/path/to/qhtrace", pytrace=False)
    return str(path)


# --- /proc helpers ------------------------------------------------------------------------------

def proc_stat(pid):
    """(ppid, start time in clock ticks) of a live pid, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # comm may hold spaces and parentheses: the fields start after the last ')'.
    fields = data[data.rindex(")") + 2:].split()
    return int(fields[1]), int(fields[19])


def proc_comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().rstrip("\n")
    except (FileNotFoundError, ProcessLookupError):
        return None


def proc_status_kb(pid, key):
    """A 'kB' field of /proc/PID/status (VmRSS, VmHWM, ...), or None."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return None


def descendants(pid):
    """Live descendants of pid as {pid: start_ticks}, found through every /proc/N/stat."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        st = proc_stat(int(entry))
        if st:
            children.setdefault(st[0], []).append((int(entry), st[1]))
    found, todo = {}, [pid]
    while todo:
        for child, start in children.get(todo.pop(), []):
            if child not in found:
                found[child] = start
                todo.append(child)
    return found


def kill_identified(pids):
    """SIGKILL each (pid: start_ticks) that is still that same process."""
    for pid, start in pids.items():
        st = proc_stat(pid)
        if st and st[1] == start:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def kill_tree(pid):
    """Kill pid and its descendants; stop them first so that none forks away meanwhile."""
    st = proc_stat(pid)
    tree = {pid: st[1]} if st else {}
    tree.update(descendants(pid))
    for p in tree:
        try:
            os.kill(p, signal.SIGSTOP)
        except ProcessLookupError:
            pass
    tree.update(descendants(pid))
    kill_identified(tree)


# --- running qhtrace ----------------------------------------------------------------------------

class Qh:
    """Runs qhtrace and fixtures for one test, and cleans up after it."""

    def __init__(self, qhtrace):
        self.qhtrace = qhtrace
        self._popens = []
        self._adopted = {}

    def fx(self, name):
        """Absolute path of a built fixture program."""
        path = fixtures_dir() / name
        if not path.is_file():
            pytest.fail(f"fixture {name} not found at {path}: build it with `make`, "
                        "or set QH_FIXTURES", pytrace=False)
        return str(path)

    def attach_argv(self, args, report_path=None, opts=("-q",)):
        argv = [self.qhtrace, "attach", *opts]
        if report_path is not None:
            argv += ["-o", str(report_path)]
        return argv + ["--", *map(str, args)]

    def popen(self, argv, **kwargs):
        """Start argv in its own session, stdin from /dev/null, stdout/stderr piped."""
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True,
                             **kwargs)
        self._popens.append(p)
        return p

    def wait(self, p, timeout=TIMEOUT):
        """(rc, stdout, stderr) of a started process; fail the test if it overruns.

        timeout is scaled by QH_TIME_SCALE, as it bounds a hang, not a speed."""
        timeout *= TIME_SCALE
        try:
            out, err = p.communicate(timeout=timeout)
            return p.returncode, out, err
        except subprocess.TimeoutExpired:
            pass
        kill_tree(p.pid)
        try:
            _, err = p.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            err = "(unreadable: a process outside the killed tree holds the pipe)"
        pytest.fail(f"{p.args} did not finish within {timeout} s; stderr:\n{err}")

    def run(self, argv, timeout=TIMEOUT, **kwargs):
        return self.wait(self.popen(argv, **kwargs), timeout)

    def run_attach(self, args, report_path, opts=("-q",), timeout=TIMEOUT):
        """`qhtrace attach OPTS -o REPORT -- ARGS`: (rc, report dict or None, stderr)."""
        rc, _, err = self.run(self.attach_argv(args, report_path, opts), timeout)
        return rc, self.load_report(report_path), err

    def popen_attach(self, args, report_path, opts=("-q",)):
        return self.popen(self.attach_argv(args, report_path, opts))

    @staticmethod
    def load_report(path):
        """The JSON report at path, or None when none was written."""
        if path is None or not os.path.isfile(path):
            return None
        with open(path) as f:
            text = f.read()
        try:
            report = json.loads(text)
        except ValueError as e:
            pytest.fail(f"report {path} is not valid JSON ({e}):\n{text[:2000]}")
        ALL_REPORTS.append(report)
        return report

    # /proc helpers for tests that watch a traced process while it runs.
    proc_stat = staticmethod(proc_stat)
    proc_comm = staticmethod(proc_comm)
    proc_status_kb = staticmethod(proc_status_kb)

    @staticmethod
    def wait_for(predicate, timeout, interval=0.02):
        """Poll predicate until it returns a true value (returned) or timeout (None).

        timeout is scaled by QH_TIME_SCALE, as it bounds a hang, not a speed."""
        deadline = time.monotonic() + timeout * TIME_SCALE
        while True:
            value = predicate()
            if value or time.monotonic() > deadline:
                return value or None
            time.sleep(interval)

    @staticmethod
    def find_descendant(pid, comm):
        """A live descendant of pid whose comm is comm, or None."""
        for child in descendants(pid):
            if proc_comm(child) == comm:
                return child
        return None

    def adopt(self, pid):
        """Also kill pid at teardown, if it is still the same process then."""
        st = proc_stat(pid)
        if st:
            self._adopted[pid] = st[1]

    def cleanup(self):
        for p in self._popens:
            if p.poll() is None:
                kill_tree(p.pid)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            for stream in (p.stdout, p.stderr):
                if stream:
                    stream.close()
        kill_identified(self._adopted)


@pytest.fixture
def qh(root, qhtrace):
    runner = Qh(qhtrace)
    yield runner
    runner.cleanup()


@pytest.fixture(scope="session")
def all_reports():
    """Every report loaded so far in this session (it grows as tests run)."""
    return ALL_REPORTS


# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""qhtrace's pytest plugin: findings per test.

Under `qhtrace attach` (which exports QHTRACE_SOCKET to the command) it marks each test's
setup, call and teardown with the test's node id on qhtrace's control socket, so the report
names the test behind every heap block, fd, process and browser left behind. Without
QHTRACE_SOCKET it does nothing. Under pytest-xdist each worker marks the tests it runs.

Loaded by pytest's entry point (`make install` registers it) or with `-p qhtrace_pytest`.
A test can ask for the traced tree's figures now through the `qhtrace` fixture:

    def test_quit(qhtrace):
        driver.quit()
        assert qhtrace.stats()["drivers_active"] == 0

Python standard library only.
"""

import json
import os
import socket
import sys
import threading

import pytest

ENV = "QHTRACE_SOCKET"


def address(name):
    """QHTRACE_SOCKET's value as an AF_UNIX address: "@NAME" is NAME in the abstract namespace
    (systemd's NOTIFY_SOCKET convention), anything else a path."""
    return "\0" + name[1:] if name.startswith("@") else name


class QhtraceError(RuntimeError):
    """qhtrace refused a request, or cannot be reached."""


class Qhtrace:
    """The control socket of the `qhtrace attach` this process runs under (one connection)."""

    def __init__(self, path=None):
        self.path = path if path is not None else os.environ.get(ENV) or None
        self._sock = None
        self._pid = None
        self._buf = b""
        self._lock = threading.Lock()
        self.broken = None  # why requests stopped, once one failed

    @property
    def active(self):
        """Is this process traced by a qhtrace that listens?"""
        return self.path is not None and self.broken is None

    def _connect(self):
        # a forked child must not share the parent's connection (replies would cross)
        if self._sock is None or self._pid != os.getpid():
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(address(self.path))
            self._sock, self._pid, self._buf = sock, os.getpid(), b""
        return self._sock

    def request(self, **req):
        """Send one request, return the reply (a dict); QhtraceError when refused."""
        if self.path is None:
            raise QhtraceError(f"{ENV} is not set: not running under `qhtrace attach`")
        line = (json.dumps(req, separators=(",", ":")) + "\n").encode()
        with self._lock:
            try:
                sock = self._connect()
                sock.sendall(line)
                while b"\n" not in self._buf:
                    chunk = sock.recv(65536)
                    if not chunk:
                        raise QhtraceError("qhtrace closed the control socket")
                    self._buf += chunk
            except OSError as e:
                self._sock = None
                raise QhtraceError(f"cannot reach qhtrace at {self.path}: {e}") from e
            raw, _, self._buf = self._buf.partition(b"\n")
        reply = json.loads(raw)
        if not reply.get("ok"):
            raise QhtraceError(reply.get("error", "refused"))
        return reply

    def mark(self, event, name, **extra):
        return self.request(op="mark", event=event, name=name, pid=os.getpid(), **extra)

    def stats(self):
        """The traced tree now: drivers_active, browsers_alive, drivers (memory_kb each),
        zombies, leftovers, fds_open, heap_outstanding_bytes/blocks (null without --heap)."""
        return self.request(op="stats")

    def snapshot(self, name):
        """stats(), also kept in the report's `snapshots`."""
        return self.request(op="snapshot", name=name)


_client = Qhtrace()


def _send(event, name, **extra):
    """A mark; a failure warns once and stops marking, it never fails the suite."""
    if not _client.active:
        return
    try:
        _client.mark(event, name, **extra)
    except (QhtraceError, ValueError) as e:
        _client.broken = str(e)
        sys.stderr.write(f"qhtrace_pytest: marks stop: {e}\n")


def _outcome(prev, rep):
    """The test's outcome so far, with report @rep of one of its phases."""
    if rep.when == "call":
        if hasattr(rep, "wasxfail"):
            now = "xfailed" if rep.skipped else "xpassed"
        else:
            now = rep.outcome
        return now if prev in (None, "passed") else prev
    if rep.failed:
        return prev if prev == "failed" else "error"
    if rep.when == "setup" and rep.skipped:
        return "skipped"
    return prev


def pytest_configure(config):
    # connect now, not in the first test: the connection is nobody's test's fd
    if _client.active:
        try:
            _client.request(op="stats")
        except QhtraceError as e:
            _client.broken = str(e)
            sys.stderr.write(f"qhtrace_pytest: inert: {e}\n")


# The protocol runs in the process that runs the test (an xdist worker), unlike the log hooks,
# which the xdist controller also sees for its workers' tests.
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    if not _client.active:
        yield
        return
    item._qhtrace_outcome = None
    _send("begin", item.nodeid)
    try:
        yield
    finally:
        extra = {"outcome": item._qhtrace_outcome} if item._qhtrace_outcome else {}
        _send("end", item.nodeid, **extra)


def _phase(item, phase):
    if _client.active:
        _send("begin", item.nodeid, phase=phase)


def _phase_end(item, phase):
    if _client.active:
        _send("end", item.nodeid, phase=phase)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    _phase(item, "setup")
    yield
    _phase_end(item, "setup")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    _phase(item, "call")
    yield
    _phase_end(item, "call")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    _phase(item, "teardown")
    yield
    _phase_end(item, "teardown")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    out = yield
    rep = out.get_result()
    if _client.active and hasattr(item, "_qhtrace_outcome"):
        item._qhtrace_outcome = _outcome(item._qhtrace_outcome, rep)


# A fixture shared by tests (class, module, session scope) is set up inside the first test
# that uses it: what it starts (a browser for the whole session) is "between tests", not that
# test's.
@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef, request):
    shared = _client.active and fixturedef.scope != "function"
    name = f"fixture {fixturedef.argname} ({fixturedef.scope})"
    if shared:
        _send("begin", name, kind="fixture")
    try:
        yield
    finally:
        if shared:
            _send("end", name)


@pytest.fixture
def qhtrace():
    """The control socket: .active, .stats(), .snapshot(name)."""
    return _client

# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""`qhtrace status` (README, "qhtrace status"): live figures over the control socket.

A traced fixture (statushold) holds 48 MiB, a child with 16 MiB and a zombie, and prints its
QHTRACE_SOCKET; `qhtrace status` asks that `attach` from outside, and its figures are checked
against /proc at the same moment. Then every documented error: nothing listening, permission
denied, a server that sends garbage, one that refuses, one that closes, one that never answers
(the wait is bounded).
"""

import calendar
import json
import os
import re
import socket
import threading
import time

import pytest

PARENT_MIB = 48
CHILD_MIB = 16
# RSS as the kernel's rss_stat tracepoint last gave it against /proc's VmRSS a moment later:
# both count the same pages, but per-CPU counters are folded in batches
RSS_TOLERANCE = 4 << 20
MONITOR_SOCKET = "/run/qhtrace/monitor.sock"


def boot_time():
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("btime "):
                return int(line.split()[1])
    raise AssertionError("no btime in /proc/stat")


def start_epoch(pid):
    """The start of pid in seconds since the epoch, from /proc (clock-tick resolution)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return boot_time() + int(fields[19]) / os.sysconf("SC_CLK_TCK")


def epoch_of(rfc3339):
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?Z", rfc3339)
    assert m, rfc3339
    return calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")) + \
        float(m.group(2) or 0)


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


@pytest.fixture
def held(qh, tmp_path):
    """statushold under attach: (qhtrace Popen, socket, parent, child, zombie, stop file)."""
    stop = tmp_path / "stop"
    p = qh.popen(qh.attach_argv([qh.fx("statushold"), PARENT_MIB, CHILD_MIB, stop], None,
                                opts=("-q", "--zombie-grace", "0.1")))
    line = p.stdout.readline().split()
    assert len(line) == 4 and line[0] == "ready" and line[1].startswith("@qhtrace-"), \
        (line, p.stderr.read() if p.poll() is not None else "")
    sock, child, zombie = line[1], int(line[2]), int(line[3])
    parent = qh.find_descendant(p.pid, "statushold")
    assert parent
    # the child has touched its memory, the zombie is one (it may still be exiting: state R)
    assert qh.wait_for(lambda: rss_bytes(child) >= CHILD_MIB << 20, timeout=10)
    assert qh.wait_for(lambda: proc_state(zombie) == "Z", timeout=10), proc_state(zombie)
    yield p, sock, parent, child, zombie, stop
    stop.touch()
    rc, _, err = qh.wait(p)
    assert rc == 0, err


def proc_state(pid):
    """/proc's state letter of pid, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    return data[data.rindex(")") + 2]


def status(qh, *args, env=None):
    return qh.run([qh.qhtrace, "status", *map(str, args)], env=env)


def test_status_against_proc(qh, held):
    """pid, comm, start time, state and RSS of the top processes match /proc."""
    p, sock, parent, child, zombie, _ = held
    # the zombie is found after --zombie-grace (0.1 s) at the next periodic check
    def found():
        rc, out, err = status(qh, "--socket", sock, "--json")
        assert rc == 0, err
        r = json.loads(out)
        return r if r["zombies"]["found"] == 1 else None
    r = qh.wait_for(found, timeout=10, interval=0.2)
    assert r, "the zombie was not found"
    now = {pid: rss_bytes(pid) for pid in (parent, child)}

    assert r["ok"] is True and r["mode"] == "attach" and r["pid"] == p.pid
    assert r["uptime_s"] > 0 and r["events"]["lost"] == 0 and r["events"]["received"] >= 3
    procs = r["processes"]
    assert procs["alive"] == 3 and procs["zombie"] == 1, procs
    assert procs["sleeping"] + procs["running"] == 2, procs

    top = r["top"]
    assert [t["pid"] for t in top] == [parent, child], top
    for t in top:
        assert t["comm"] == "statushold" and t["state"] in "RS" and t["role"] is None
        assert abs(t["rss_bytes"] - now[t["pid"]]) <= RSS_TOLERANCE, (t, now)
        assert t["rss_bytes"] == sum(t["rss"].values())
        assert abs(epoch_of(t["start_time"]) - start_epoch(t["pid"])) < 1.5, t
    assert top[0]["rss"]["anon_bytes"] >= (PARENT_MIB << 20) - RSS_TOLERANCE
    assert top[1]["rss"]["anon_bytes"] >= (CHILD_MIB << 20) - RSS_TOLERANCE

    z = r["zombies"]
    assert z["now"] == 1 and z["list"][0]["pid"] == zombie and z["list"][0]["parent_pid"] == parent
    assert r["leftovers"] == {"found": 0, "alive": 0, "by_reason": {}, "list": []}
    assert r["drivers"]["trees"] == 0 and r["drivers"]["list"] == []
    assert r["jobs"] == []

    # --top caps the list, not the counts
    rc, out, err = status(qh, "--socket", sock, "--json", "--top", "1")
    assert rc == 0, err
    r1 = json.loads(out)
    assert [t["pid"] for t in r1["top"]] == [parent] and r1["processes"]["alive"] == 3


def test_status_screen_and_env(qh, held):
    """The screen, with QHTRACE_SOCKET as the default address (what a traced suite does)."""
    p, sock, parent, child, _, _ = held
    env = dict(os.environ, QHTRACE_SOCKET=sock)
    rc, out, err = status(qh, env=env)
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0].startswith(f"qhtrace 0.1.0 attach, pid {p.pid}, up ")
    assert lines[0].endswith(f"at {sock}")
    assert re.search(r"^processes   3 alive: \d running, \d sleeping, 0 disk sleep, 0 stopped, "
                     r"1 zombie$", out, re.M), out
    assert re.search(r"^events      \d+ received, 0 lost$", out, re.M), out
    assert "jobs        none" in lines
    header = lines.index(next(x for x in lines if x.lstrip().startswith("PID  STARTED")))
    rows = [x.split() for x in lines[header + 1:]]
    assert [int(r[0]) for r in rows] == [parent, child] and all(r[-1] == "statushold"
                                                                for r in rows)
    # pretty JSON is the same document
    rc, out, err = status(qh, "--pretty", env=env)
    assert rc == 0 and "\n\t" in out and json.loads(out)["pid"] == p.pid, err


def test_status_other_user_refused(qh, held):
    """attach's socket answers root and the user it runs for; nobody gets no reply (exit 5)."""
    _, sock, *_ = held
    rc, out, err = qh.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--",
                           qh.qhtrace, "status", "--socket", sock])
    assert rc == 5 and out == "", err
    assert f"qhtrace at {sock} closed the connection without a reply" in err, err


def test_status_nothing_listening(qh, tmp_path):
    """ENOENT and ECONNREFUSED: exit 1, and where to look."""
    env = {k: v for k, v in os.environ.items() if k != "QHTRACE_SOCKET"}
    if not os.path.exists(MONITOR_SOCKET):
        rc, out, err = status(qh, env=env)
        assert rc == 1 and out == ""
        assert err == f"qhtrace: status: no qhtrace monitor is listening on {MONITOR_SOCKET} " \
            "(is it running? sudo systemctl status qhtrace-monitor)\n"
    rc, _, err = status(qh, "--socket", tmp_path / "none.sock", env=env)
    assert rc == 1 and err == f"qhtrace: status: no qhtrace is listening on {tmp_path}/none.sock\n"
    name = f"@qhtrace-test-{os.getpid()}-none"
    rc, _, err = status(qh, env=dict(env, QHTRACE_SOCKET=name))
    assert rc == 1 and f"no qhtrace is listening on {name} (QHTRACE_SOCKET: has the " \
        "`qhtrace attach` that set it ended?)" in err, err
    rc, _, err = status(qh, "--socket", "@", env=env)
    assert rc == 2 and "is not a socket address" in err


class FakeServer:
    """A Unix socket server at @path that answers each connection with @behaviour."""

    def __init__(self, path, behaviour):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(4)
        self.behaviour = behaviour
        self.conns = []
        self.requests = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            self.requests.append(c.recv(4096))
            if self.behaviour == "silent":
                continue
            if self.behaviour != "close":
                c.sendall(self.behaviour)
            c.close()

    def close(self):
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        for c in self.conns:
            c.close()
        self.thread.join(10)


@pytest.fixture
def fake(tmp_path):
    servers = []

    def start(behaviour):
        path = str(tmp_path / f"s{len(servers)}.sock")
        servers.append(FakeServer(path, behaviour))
        return path, servers[-1]
    yield start
    for s in servers:
        s.close()


@pytest.mark.parametrize("reply,why", [
    (b"garbage\n", "malformed reply from {}: not JSON"),
    (b"[1, 2]\n", "malformed reply from {}: not a JSON object"),
    (b'{"ok": true, "mode": "attach"}\n', "malformed reply from {}: a section is missing"),
    (b'{"ok": false, "error": "unknown \\"op\\" (mark, stats, snapshot): status"}\n',
     'qhtrace refused the request: unknown "op" (mark, stats, snapshot): status'),
    (b"close", "qhtrace at {} closed the connection without a reply"),
])
def test_status_bad_server(qh, fake, reply, why):
    """Exit 5 and the reason; the request it sent is the documented one."""
    path, srv = fake(reply.decode() if reply == b"close" else reply)
    rc, out, err = status(qh, "--socket", path, "--top", "3")
    assert rc == 5 and out == "", err
    assert why.format(path) in err, err
    assert srv.requests == [b'{"op":"status","top":3}\n']


def test_status_timeout(qh, fake):
    """A server that never answers: --timeout, and the 5 s default, bound the wait."""
    path, _ = fake("silent")
    t0 = time.monotonic()
    rc, out, err = status(qh, "--socket", path, "--timeout", "0.3")
    assert rc == 5 and out == "", err
    assert err == f"qhtrace: status: qhtrace at {path} did not answer within 0.3 s\n"
    assert time.monotonic() - t0 >= 0.3
    rc, _, err = status(qh, "--socket", path)
    assert rc == 5 and "did not answer within 5.0 s" in err, err


def test_status_permission_denied(qh, fake, tmp_path):
    """A socket in root's 0700 directory (the monitor's /run/qhtrace): exit 4 for others."""
    d = tmp_path / "run"
    d.mkdir(mode=0o700)
    os.chmod(tmp_path, 0o755)
    srv = FakeServer(str(d / "monitor.sock"), b"x\n")
    try:
        rc, out, err = qh.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                               "--", qh.qhtrace, "status", "--socket", str(d / "monitor.sock")])
    finally:
        srv.close()
    assert rc == 4 and out == ""
    assert err == f"qhtrace: status: permission denied on {d}/monitor.sock: only root may ask " \
        "the monitor (run it with sudo)\n"


def test_status_usage(qh):
    rc, out, _ = status(qh, "--help")
    assert rc == 0 and "Exit status: 0 printed; 1 no qhtrace is listening" in out
    assert "Examples:" in out
    for bad in (["--top", "1001"], ["--timeout", "0"], ["extra"], ["--bogus"]):
        rc, out, err = status(qh, *bad)
        assert rc == 2 and out == "" and err.count("\n") == 1, (bad, err)


# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Findings per test: tests/pertest/test_suite.py (known faults between clean tests) under
`qhtrace attach` through the pytest plugin, under pytest-xdist, without the plugin
(PYTEST_CURRENT_TEST), a shell suite through `qhtrace mark`, and a Selenium suite run through
sudo by a non-root user. The suites run as a user made for the session (and removed after)."""

import json
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import REPO, TIMEOUT

# one user per run (pid): two runs at once must not delete, or kill the processes of, each
# other's user
USER = f"qhtrace-e2e-{os.getpid()}"
SUITE = "test_suite.py"
FAULTS = {
    "test_heap_leak": "heap",
    "test_fd_leak": "fd",
    "test_forgot_quit": "driver",
    "test_child_left": "child",
}


@pytest.fixture(scope="module")
def user():
    """A non-root user with a home (Chrome needs one); made here if missing, removed after."""
    if os.geteuid() != 0:
        pytest.skip("needs root to make a user")
    made = False
    # pytest's base temporary directory of the user: one left by an earlier user of this name
    # (another uid) makes pytest refuse to start
    basetemp = Path(tempfile.gettempdir()) / f"pytest-of-{USER}"
    try:
        pwd.getpwnam(USER)
    except KeyError:
        shutil.rmtree(basetemp, ignore_errors=True)
        subprocess.run(["useradd", "-m", "-s", "/bin/sh", USER], check=True)
        made = True
    yield USER
    if made:
        subprocess.run(["pkill", "-KILL", "-u", USER], check=False)
        subprocess.run(["userdel", "-r", USER], check=False, stderr=subprocess.DEVNULL)
        shutil.rmtree(basetemp, ignore_errors=True)


@pytest.fixture(scope="module")
def suite_dir(user):
    """The fixture suites and the plugin, where the user can read them."""
    d = Path(tempfile.mkdtemp(prefix="qh-pertest-"))
    os.chmod(d, 0o755)
    for f in (REPO / "tests" / "pertest").glob("*.py"):
        shutil.copy(f, d / f.name)
    shutil.copy(REPO / "user" / "python" / "qhtrace_pytest.py", d / "qhtrace_pytest.py")
    for f in d.iterdir():
        os.chmod(f, 0o644)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def run(cmd, **kw):
    # the outer pytest's own PYTEST_CURRENT_TEST would name a test of this file
    env = kw.pop("env", {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"})
    return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT * 3, env=env,
                          **kw)


def attach(qhtrace, tmp_path, suite_dir, user, pytest_args, plugin=True, extra=()):
    report = tmp_path / "r.json"
    cmd = [qhtrace, "attach", "--user", user, "--heap", "--cleanup", "--test-grace", "1",
           "-o", str(report), *extra, "--", "/usr/bin/env", f"PYTHONPATH={suite_dir}",
           "/usr/bin/python3", "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    if plugin:
        cmd += ["-p", "qhtrace_pytest"]
    r = run(cmd + pytest_args, cwd=suite_dir)
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(report.read_text()), r


def short(name):
    return name.split("::")[-1] if name else None


def check_exact(rep):
    """Each fault is its test's, and no clean test has a finding."""
    tests = {short(t["name"]): t for t in rep["tests"]}
    assert len(tests) == 9, list(tests)
    for name, t in tests.items():
        assert t["outcome"] == "passed", t
        if name not in FAULTS:
            assert t["findings"] == [], (name, t["findings"])
    heap = [h for h in rep["leaks"]["heap"] if short(h["test"]) == "test_heap_leak"]
    assert sum(h["bytes"] for h in heap) >= 300000
    # the three 100000-byte blocks: findings are per leak class too, and CPython keeps each
    # address as an int object (30-bit digits, not a pointer word), which a pointer scan cannot
    # see: they may come in more than one finding (definitely lost, or still reachable through
    # a stale copy of the address)
    big = [h for h in heap if h["count"] and h["bytes"] == 100000 * h["count"]]
    assert sum(h["count"] for h in big) >= 3, heap
    assert tests["test_heap_leak"]["heap_new_bytes"] >= 300000
    for name in ("test_clean_first", "test_clean_after_heap", "test_clean_after_fd"):
        assert tests[name]["heap_new_bytes"] < 300000
    fds = [f for f in rep["leaks"]["fds"] if f.get("reason") == "open_after_test"]
    assert [(short(f["test"]), f["target"], f["count"], f["closed_by_exit"])
            for f in fds if f["kind"] == "file"] == [("test_fd_leak", "/etc/hostname", 1, 1)]
    assert tests["test_fd_leak"]["fds_leaked"] == 1
    left = {(l["comm"], short(l["test"]), l["reason"]) for l in rep["leftovers"]}
    assert ("sleep", "test_child_left", "outlived_test") in left
    assert ("chromedriver", "test_forgot_quit", "outlived_test") in left
    assert all(t in FAULTS for _, t, _ in left), left
    drv = rep["drivers"]
    assert [(short(d["test"]), d["outlived_test"], d["ended_cleanly"]) for d in drv] == \
        [("test_forgot_quit", True, False)]
    assert tests["test_forgot_quit"]["browsers_started"] >= 1
    assert tests["test_forgot_quit"]["browsers_left"] >= 1
    assert tests["test_child_left"]["leftovers"] == 1
    # every finding names its test (or null: between tests)
    for key in ("leftovers", "zombies", "processes", "drivers"):
        assert all("test" in x for x in rep[key])
    assert all("test" in x for x in rep["leaks"]["heap"] + rep["leaks"]["fds"])


def test_plugin_attribution_exact(qhtrace, tmp_path, suite_dir, user):
    junit, md = tmp_path / "t.xml", tmp_path / "t.md"
    cmd = [qhtrace, "attach", "--user", user, "--heap", "--cleanup", "--test-grace", "1",
           "-o", str(tmp_path / "r.json"), "--fail-on", "fds,leftovers", "--junit", str(junit),
           "--summary-md", str(md), "--", "/usr/bin/env", f"PYTHONPATH={suite_dir}",
           "/usr/bin/python3", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p",
           "qhtrace_pytest", SUITE]
    r = run(cmd, cwd=suite_dir)
    assert r.returncode == 3, r.stdout + r.stderr  # the gate: fds and leftovers of tests
    assert "9 passed" in r.stdout
    rep = json.loads((tmp_path / "r.json").read_text())
    check_exact(rep)
    assert "tests: 9, 4 with findings" in r.stderr
    # JUnit: a test case per test, a failure exactly where a gated finding belongs
    import xml.etree.ElementTree as ET
    root = ET.parse(junit).getroot()
    suite = [s for s in root if s.get("name") == "qhtrace: tests"][0]
    cases = {c.get("name"): c for c in suite}
    assert len(cases) == 10  # the 9 tests, and "between tests"
    failed = {n for n, c in cases.items() if c.find("failure") is not None}
    assert failed == {"test_fd_leak", "test_forgot_quit", "test_child_left"}, failed
    props = {p.get("name"): p.get("value")
             for p in cases["test_fd_leak"].find("properties")}
    assert props["fds_leaked"] == "1" and props["outcome"] == "passed"
    text = md.read_text()
    assert "### tests (9)" in text and "test_child_left" in text
    assert "5 tests without findings" in text


def test_xdist_attribution_exact(qhtrace, tmp_path, suite_dir, user):
    rep, r = attach(qhtrace, tmp_path, suite_dir, user, ["-n", "2", SUITE])
    check_exact(rep)
    # two workers marked their own tests
    assert len({t["pid"] for t in rep["tests"]}) == 2


def test_without_plugin_pytest_current_test(qhtrace, tmp_path, suite_dir, user):
    rep, r = attach(qhtrace, tmp_path, suite_dir, user,
                    ["-p", "no:qhtrace_pytest", SUITE], plugin=False)
    assert all(t["source"] == "PYTEST_CURRENT_TEST" for t in rep["tests"])
    assert [short(d["test"]) for d in rep["drivers"]] == ["test_forgot_quit"]
    left = {(l["comm"], short(l["test"])) for l in rep["leftovers"]}
    assert ("sleep", "test_child_left") in left


def test_qhtrace_mark_from_a_shell(qhtrace, tmp_path, user):
    script = tmp_path / "suite.sh"
    script.write_text(f"""
Q={qhtrace}
$Q mark begin clean-one
/bin/true
$Q mark end clean-one --outcome passed
$Q mark begin leaves-a-child
sleep 60 &
$Q mark end leaves-a-child --outcome passed
$Q mark begin clean-two
/bin/true
$Q mark end clean-two
$Q mark stats > {tmp_path}/stats.json
$Q mark end never-begun 2> {tmp_path}/err.txt && exit 9
exit 0
""")
    report = tmp_path / "r.json"
    r = run([qhtrace, "attach", "--cleanup", "--test-grace", "0.5", "-o", str(report), "--",
             "/bin/sh", str(script)])
    assert r.returncode == 0, r.stderr
    rep = json.loads(report.read_text())
    assert [(t["name"], t["findings"] != []) for t in rep["tests"]] == \
        [("clean-one", False), ("leaves-a-child", True), ("clean-two", False)]
    assert [(l["comm"], l["test"], l["reason"]) for l in rep["leftovers"]] == \
        [("sleep", "leaves-a-child", "outlived_test")]
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["ok"] is True and stats["drivers_active"] == 0
    assert "no section of that name is open" in (tmp_path / "err.txt").read_text()


def test_snapshots_capped_at_max_snapshots(qhtrace, tmp_path):
    """profiler.max_snapshots: the report keeps the newest, and counts the ones dropped."""
    cfg = tmp_path / "qh.json"
    cfg.write_text('{"profiler": {"max_snapshots": 2}}')
    report = tmp_path / "r.json"
    r = run([qhtrace, "attach", "-q", "--config", str(cfg), "-o", str(report), "--",
             "/bin/sh", "-c", f"for n in a b c d; do {qhtrace} mark snapshot $n >/dev/null; done"])
    assert r.returncode == 0, r.stderr
    rep = json.loads(report.read_text())
    assert [s["name"] for s in rep["snapshots"]] == ["c", "d"], rep["snapshots"]
    assert rep["snapshots_dropped"] == 2
    # the default keeps them all
    r = run([qhtrace, "attach", "-q", "-o", str(report), "--",
             "/bin/sh", "-c", f"{qhtrace} mark snapshot one >/dev/null"])
    assert r.returncode == 0, r.stderr
    rep = json.loads(report.read_text())
    assert [s["name"] for s in rep["snapshots"]] == ["one"] and rep["snapshots_dropped"] == 0


def test_control_socket_refuses_garbage(qhtrace, tmp_path):
    """Garbage, an overlong line and a vanishing client on the real socket: qhtrace answers,
    keeps tracing and exits with the command's status."""
    client = tmp_path / "c.py"
    client.write_text("""
import os, socket, json
p = os.environ["QHTRACE_SOCKET"]
assert p.startswith("@qhtrace-"), p  # an abstract name: no file to leave behind
p = "\\0" + p[1:]
s = socket.socket(socket.AF_UNIX); s.connect(p)
s.sendall(b"garbage\\n"); r1 = s.recv(4096)
s.sendall(b"x" * 100000 + b"\\n"); r2 = s.recv(4096)
v = socket.socket(socket.AF_UNIX); v.connect(p); v.sendall(b'{"op":"sta'); v.close()
s.sendall(b'{"op":"stats"}\\n'); r3 = b""
while not r3.endswith(b"\\n"): r3 += s.recv(4096)
assert b'"ok":false' in r1 and b"not JSON" in r1, r1
assert b"longer than 8192" in r2, r2
assert json.loads(r3)["ok"] is True, r3
print("client ok")
""")
    r = run([qhtrace, "attach", "-q", "--", "/usr/bin/python3", str(client)])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "client ok" in r.stdout


def test_sudo_selenium_as_the_user(qhtrace, tmp_path, suite_dir, user):
    """A user runs `sudo qhtrace attach -- pytest`: the suite runs as that user, and Chrome
    starts without --no-sandbox."""
    rule = Path(f"/etc/sudoers.d/{USER}")
    rule.write_text(f"{user} ALL=(root) NOPASSWD: {qhtrace}\n")
    os.chmod(rule, 0o440)
    out = Path(tempfile.mkdtemp(prefix="qh-sudo-"))
    try:
        r = run(["sudo", "-u", user, "-H", "sh", "-c",
                 f"cd {suite_dir} && sudo -n {qhtrace} attach -o {out}/r.json -- "
                 f"/usr/bin/env PYTHONPATH={suite_dir} /usr/bin/python3 -m pytest -q "
                 f"-p no:cacheprovider -p qhtrace_pytest test_sudo_selenium.py"])
        assert r.returncode == 0, r.stdout + r.stderr
        assert "2 passed" in r.stdout
        rep = json.loads((out / "r.json").read_text())
        assert [short(t["name"]) for t in rep["tests"]] == ["test_runs_as_the_user",
                                                            "test_page_title"]
        assert all(t["findings"] == [] for t in rep["tests"])
        assert [d["ended_cleanly"] for d in rep["drivers"]] == [True]
    finally:
        rule.unlink()
        shutil.rmtree(out, ignore_errors=True)


def test_make_install_registers_the_plugin(tmp_path):
    dest = tmp_path / "root"
    r = run(["make", "-s", "install", f"DESTDIR={dest}", "PREFIX=/usr/local"], cwd=REPO)
    assert r.returncode == 0, r.stderr
    site = list(dest.glob("usr/local/lib/python3*/dist-packages"))
    assert len(site) == 1, list(dest.rglob("*"))
    r = run(["/usr/bin/python3", "-c",
             "import importlib.metadata as m; "
             "print([e.value for e in m.entry_points(group='pytest11') if e.name=='qhtrace'])"],
            env={**os.environ, "PYTHONPATH": str(site[0])})
    assert r.stdout.strip() == "['qhtrace_pytest']", r.stdout + r.stderr

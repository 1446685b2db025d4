# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""`qhtrace monitor` on this machine: a fake runner (tests/fixtures/fakerunner.c) starts four CI
jobs: GitHub (two steps, nothing left), GitLab (leaves a browser tree of Debian's chromium and a
parent with a zombie child), Jenkins (clears its environment, then leaves a sleep), and a job in
its own cgroup v2 directory made here (leaves a sleep). The monitor writes one report per job
into its spool, names what outlived each job, terminates it with --cleanup and proves it gone;
a process of no job, started alongside, is never touched.
"""
import glob
import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest import proc_stat, in_ci

BROWSER = "/usr/bin/chromium"


def cgroup2_root():
    """Where the cgroup v2 hierarchy is mounted (/sys/fs/cgroup or .../unified), or None."""
    with open("/proc/self/mounts") as f:
        for line in f:
            dev, mnt, fstype = line.split()[:3]
            if fstype == "cgroup2":
                return mnt
    return None


def session_members(sid):
    """{pid: start_ticks} of the live processes of session sid (the runner's tree, orphans too)."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                data = f.read()
        except OSError:
            continue
        fields = data[data.rindex(")") + 2:].split()
        if int(fields[3]) == sid:
            found[int(entry)] = int(fields[19])
    return found


def alive(pid, start_ticks):
    """Is pid still that process, and not a zombie (exited, waiting for its parent)?"""
    st = proc_stat(pid)
    if st is None or st[1] != start_ticks:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return False
    return data[data.rindex(")") + 2] != "Z"


@pytest.fixture
def job_cgroup():
    root = cgroup2_root()
    if root is None:
        if in_ci():
            pytest.fail("no cgroup v2 hierarchy mounted")
        pytest.skip("no cgroup v2 hierarchy mounted")
    top = os.path.join(root, f"qhtrace-e2e-{os.getpid()}")
    path = os.path.join(top, "job")
    os.makedirs(path)
    yield path, "/" + os.path.relpath(path, root)
    # emptied by the monitor's cleanup, else by the test's teardown first
    for d in (path, top):
        for _ in range(50):
            try:
                os.rmdir(d)
                break
            except OSError:
                time.sleep(0.1)


def wait_line(stream, needle, timeout):
    """Read stream's lines until one holds needle; all lines read."""
    lines, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        lines.append(line)
        if needle in line:
            return lines
    pytest.fail(f"{needle!r} not seen within {timeout} s:\n{''.join(lines)}")


def test_monitor_jobs(qh, tmp_path, job_cgroup):
    cg_dir, cg_path = job_cgroup
    spool = tmp_path / "spool"
    browser = BROWSER if os.path.exists(BROWSER) else "-"
    if browser == "-" and in_ci():
        pytest.fail(f"{BROWSER} is missing (Debian's chromium: tools/install-deps.sh)")

    # a process of no job, running before and after: it must be left alone
    bystander = qh.popen(["sleep", "600"])
    by_start = proc_stat(bystander.pid)[1]

    mon = qh.popen([qh.qhtrace, "monitor", "--spool", str(spool), "--job-grace", "2",
                    "--cleanup", "--force-cleanup-timeout", "5", "--metrics-addr", "",
                    "--job-cgroup", cg_path])
    wait_line(mon.stderr, "processes running", 60 * 5)

    runner = qh.popen([qh.fx("fakerunner"), os.path.dirname(qh.fx("zombie")), cg_dir, browser])
    members = {}
    try:
        out, err = runner.communicate(timeout=120)
        assert runner.returncode == 0 and out.endswith("done\n"), (out, err)
        roots = [line.split() for line in out.splitlines() if line.startswith("ROOT")]
        members = session_members(runner.pid)
        # every job's grace over, reports written (the browser's cleanup takes a while)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and len(glob.glob(str(spool / "*.json"))) < 4:
            time.sleep(0.2)
        reports = {}
        for path in glob.glob(str(spool / "*.json")):
            with open(path) as f:
                r = json.load(f)
            reports[r["job"]["kind"]] = r
        # what the monitor terminated, as /proc shows it now (before the teardown below)
        survivors = [a for r in reports.values() for a in r.get("cleanup", {}).get("actions", [])
                     if a["pid"] in members and alive(a["pid"], members[a["pid"]])]
    finally:
        mon.send_signal(signal.SIGTERM)
        rc, _, mon_err = qh.wait(mon)
        # whatever the monitor did not clean: the runner's session, never the bystander
        for pid, start in session_members(runner.pid).items():
            members.setdefault(pid, start)
        for pid, start in members.items():
            if alive(pid, start):
                os.kill(pid, signal.SIGKILL)
        for d in glob.glob("/tmp/qhtrace-fakerunner-*"):
            shutil.rmtree(d, ignore_errors=True)
    assert rc == 0, mon_err
    assert sorted(reports) == ["cgroup", "github", "gitlab", "jenkins"], (sorted(reports),
                                                                            mon_err)
    for kind, r in reports.items():
        assert r["schema"] == "qhtrace/report/v1" and r["run"]["mode"] == "monitor-job", r["run"]
        # only the job's own processes: never the runner, the bystander or qhtrace
        pids = {p["pid"] for p in r["processes"]}
        assert runner.pid not in pids and bystander.pid not in pids, (kind, pids)
        assert {p["job"] for p in r["processes"]} == {r["job"]["id"]}, (kind, r["processes"])
        assert r["job"]["state"] == "ended" and r["job"]["grace_complete"], r["job"]
        for left in r["leftovers"]:
            assert left["reason"] == "outlived_job", left
        acts = r["cleanup"]["actions"]
        assert {a["pid"] for a in acts} == {x["pid"] for x in r["leftovers"]}, (kind, r)
        assert all(a["verified"] for a in acts), (kind, acts)

    gh = reports["github"]
    root_pids = {int(pid) for k, pid in ((x[1], x[2]) for x in roots) if k == "github"}
    assert gh["job"]["key"] == "9001/build" and gh["job"]["name"] == "CI/build", gh["job"]
    assert gh["job"]["roots"] == 2, gh["job"]           # two steps, one job
    assert root_pids <= {p["pid"] for p in gh["processes"]}, (root_pids, gh["processes"])
    assert gh["leftovers"] == [] and gh["job"]["outlived"] == 0, gh["leftovers"]

    jk = reports["jenkins"]
    assert jk["job"]["key"] == "jenkins-app-7", jk["job"]
    # `env -i` cleared the job's variables before the sleep was forked: still the job's
    assert [x["comm"] for x in jk["leftovers"]] == ["sleep"], jk["leftovers"]

    cg = reports["cgroup"]
    assert cg["job"]["key"] == cg_path and cg["job"]["cgroup"] == cg_path, cg["job"]
    assert cg["job"]["unit"] == "" and cg["job"]["container_id"] == "", cg["job"]
    assert [x["comm"] for x in cg["leftovers"]] == ["sleep"], cg["leftovers"]

    gl = reports["gitlab"]
    comms = sorted(x["comm"] for x in gl["leftovers"])
    assert "zombie" in comms, comms
    if browser != "-":
        assert sum(c.startswith("chrom") for c in comms) >= 2, comms   # the browser's tree
    # the zombie fixture's child: exited, never reaped by its (leftover) parent
    assert len(gl["zombies"]) == 1 and gl["zombies"][0]["comm"] == "zombie", gl["zombies"]
    assert gl["job"]["zombies"] == 1, gl["job"]

    # every leftover is gone, identified by pid and start time; the bystander is untouched
    assert survivors == [], survivors
    assert alive(bystander.pid, by_start), "the monitor touched a process of no job"
    assert "4 job reports (0 failed)" in mon_err, mon_err

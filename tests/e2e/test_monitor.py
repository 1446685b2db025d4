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
import urllib.request

import pytest

from conftest import proc_stat, in_ci, TIME_SCALE

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
def job_cgroup(tmp_path):
    root, mounted = cgroup2_root(), None
    if root is None:
        # a machine (or a test guest) that has not mounted it: the hierarchy is there anyway
        mounted = tmp_path / "cgroup2"
        mounted.mkdir()
        subprocess.run(["mount", "-t", "cgroup2", "none", str(mounted)], check=True)
        root = str(mounted)
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
    if mounted:
        subprocess.run(["umount", str(mounted)], check=True)


def our_reports(spool, token, cg_path=None):
    """{kind: report} of the spool's jobs that this test's runner (TOKEN) started: the monitor
    sees every job of the machine, a test running beside this one included."""
    keys = {"github": f"{token}1/build", "gitlab": f"{token}2",
            "jenkins": f"jenkins-app-{token}", "cgroup": cg_path}
    found = {}
    for path in glob.glob(str(spool / "*.json")):
        with open(path) as f:
            r = json.load(f)
        if keys.get(r["job"]["kind"]) == r["job"]["key"]:
            found[r["job"]["kind"]] = r
    return found


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
    # under emulation (the kernel matrix) a browser takes minutes to start: the host has it
    browser = BROWSER if os.path.exists(BROWSER) and TIME_SCALE == 1 else "-"
    if browser == "-" and in_ci() and TIME_SCALE == 1:
        pytest.fail(f"{BROWSER} is missing (Debian's chromium: tools/install-deps.sh)")

    # a process of no job, running before and after: it must be left alone
    bystander = qh.popen(["sleep", "600"])
    by_start = proc_stat(bystander.pid)[1]

    mon = qh.popen([qh.qhtrace, "monitor", "--spool", str(spool), "--job-grace", "2",
                    "--cleanup", "--force-cleanup-timeout", "5", "--metrics-addr", "",
                    "--socket", "", "--job-cgroup", cg_path])
    wait_line(mon.stderr, "processes running", 60 * TIME_SCALE)

    token = str(os.getpid())
    runner = qh.popen([qh.fx("fakerunner"), os.path.dirname(qh.fx("zombie")), cg_dir, browser,
                       token])
    members = {}
    try:
        out, err = runner.communicate(timeout=120 * TIME_SCALE)
        assert runner.returncode == 0 and out.endswith("done\n"), (out, err)
        roots = [line.split() for line in out.splitlines() if line.startswith("ROOT")]
        members = session_members(runner.pid)
        # every job's grace over, reports written (the browser's cleanup takes a while)
        deadline = time.monotonic() + 90 * TIME_SCALE
        while time.monotonic() < deadline:
            reports = our_reports(spool, token, cg_path)
            if len(reports) == 4:
                break
            time.sleep(0.2)
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
    assert gh["job"]["key"] == f"{token}1/build" and gh["job"]["name"] == "CI/build", gh["job"]
    assert gh["job"]["roots"] == 2, gh["job"]           # two steps, one job
    assert root_pids <= {p["pid"] for p in gh["processes"]}, (root_pids, gh["processes"])
    assert gh["leftovers"] == [] and gh["job"]["outlived"] == 0, gh["leftovers"]

    jk = reports["jenkins"]
    assert jk["job"]["key"] == f"jenkins-app-{token}", jk["job"]
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
    assert "job reports (0 failed)" in mon_err, mon_err


def zombies_now(comm):
    """Processes named comm that have exited and wait for their parent to reap them."""
    n = 0
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as f:
                data = f.read()
        except OSError:
            continue
        if data[data.index("(") + 1:data.rindex(")")] == comm and data[data.rindex(")") + 2] == "Z":
            n += 1
    return n


def test_monitor_scraped_by_prometheus(qh, tmp_path):
    """A real Prometheus scrapes the monitor: the leftover and zombie series the fake runner's
    jobs leave (no --cleanup here, so they stay) read back with the right numbers. The numbers
    expected are what the monitor's own job reports and /proc say at the time (its counters
    are the node's: a test running beside this one adds its jobs to both)."""
    from prom import prometheus, free_port, require, PROMTOOL

    spool = tmp_path / "spool"
    addr = f"127.0.0.1:{free_port()}"
    token = str(os.getpid())
    sock = tmp_path / "monitor.sock"
    mon = qh.popen([qh.qhtrace, "monitor", "--spool", str(spool), "--job-grace", "1",
                    "--zombie-grace", "0.5", "--metrics-addr", addr, "--socket", str(sock)])
    wait_line(mon.stderr, "processes running", 60 * TIME_SCALE)
    members, long_members, runner, long_job = {}, {}, None, None
    try:
        # a job still running: `qhtrace status` lists it with its root and processes
        env = {"PATH": "/usr/bin:/bin", "CI_JOB_ID": f"{token}9", "CI_JOB_NAME": "long"}
        long_job = qh.popen(["/bin/sh", "-c", "sleep 60 & sleep 60; wait"], env=env)
        deadline, job = time.monotonic() + 30 * TIME_SCALE, None
        while job is None and time.monotonic() < deadline:
            rc, out, err = qh.run([qh.qhtrace, "status", "--socket", str(sock), "--json"])
            assert rc == 0, err
            status = json.loads(out)
            job = next((j for j in status["jobs"] if j["id"] == f"{token}9"), None)
            time.sleep(0.2)
        assert job, status
        assert (job["kind"], job["name"], job["root_pid"]) == ("gitlab", "long", long_job.pid), job
        assert job["processes_alive"] == 3 and job["rss_bytes"] > 0, job   # sh and two sleeps
        assert status["mode"] == "monitor", status
        long_members = session_members(long_job.pid)
        long_job.kill()
        runner = qh.popen([qh.fx("fakerunner"), os.path.dirname(qh.fx("zombie")), "-", "-", token])

        def spool_says(kind):
            """(jobs reported, outlived in them, of which still alive by comm) for kind"""
            n = outlived = 0
            alive_by = {}
            for path in glob.glob(str(spool / "*.json")):
                with open(path) as f:
                    r = json.load(f)
                if r["job"]["kind"] != kind:
                    continue
                n += 1
                outlived += r["job"]["outlived"]
                for x in r["leftovers"]:
                    st = proc_stat(x["pid"])
                    if st and alive(x["pid"], st[1]):
                        alive_by[x["comm"]] = alive_by.get(x["comm"], 0) + 1
            return n, outlived, alive_by

        def settle(prom, expr, expected_fn, timeout=60):
            """Wait until expr's single value equals expected_fn() (recomputed each time)."""
            deadline = time.monotonic() + timeout * TIME_SCALE
            while True:
                got, want = prom.query(expr), expected_fn()
                if got == [float(want)]:
                    return want
                if time.monotonic() > deadline:
                    raise AssertionError(f"{expr}: {got}, expected [{want}]; {prom.targets()}")
                time.sleep(0.3)
        out, err = runner.communicate(timeout=120 * TIME_SCALE)
        assert runner.returncode == 0 and out.endswith("done\n"), (out, err)
        members = session_members(runner.pid)
        deadline = time.monotonic() + 60 * TIME_SCALE
        while len(our_reports(spool, token)) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        ours = our_reports(spool, token)
        assert sorted(ours) == ["github", "gitlab", "jenkins"], sorted(ours)
        assert [x["comm"] for x in ours["jenkins"]["leftovers"]] == ["sleep"], ours["jenkins"]
        assert [x["comm"] for x in ours["gitlab"]["leftovers"]] == ["zombie"], ours["gitlab"]
        with prometheus(addr) as prom:
            # the leftovers alive, by group and job kind: ours at least
            assert settle(prom, 'qhtrace_leftover_processes{job_kind="jenkins",group="sleep"}',
                          lambda: spool_says("jenkins")[2].get("sleep", 0)) >= 1
            assert settle(prom, 'qhtrace_leftover_processes{job_kind="gitlab",group="zombie"}',
                          lambda: spool_says("gitlab")[2].get("zombie", 0)) >= 1
            for kind in ("github", "gitlab", "jenkins"):
                settle(prom, f'qhtrace_leftovers_found_total{{job_kind="{kind}"}}',
                       lambda: spool_says(kind)[1])
                settle(prom, f'qhtrace_jobs_finished_total{{job_kind="{kind}"}}',
                       lambda: spool_says(kind)[0])
            # the zombie fixture's child: exited, never reaped
            assert settle(prom, 'qhtrace_zombies{group="zombie"}',
                          lambda: zombies_now("zombie")) >= 1
            assert prom.query('sum(qhtrace_events_lost_total)') == [0.0]
            # the monitor's own page, as promtool lints it
            with urllib.request.urlopen(f"http://{addr}/metrics", timeout=10) as r:
                page = r.read()
            lint = subprocess.run([require(PROMTOOL), "check", "metrics"], input=page,
                                  capture_output=True, timeout=60)
            assert lint.returncode == 0 and not lint.stdout and not lint.stderr, lint
            assert prom.query('process_resident_memory_bytes')[0] > 1 << 20
    finally:
        mon.send_signal(signal.SIGTERM)
        rc, _, mon_err = qh.wait(mon)
        for pid, start in (session_members(runner.pid) if runner else {}).items():
            members.setdefault(pid, start)
        members.update(long_members)
        if long_job:
            members.update(session_members(long_job.pid))
        for pid, start in members.items():
            if alive(pid, start):
                os.kill(pid, signal.SIGKILL)
    assert rc == 0, mon_err


def test_monitor_reloads_on_sighup(qh, tmp_path):
    """SIGHUP re-reads --config: a change is applied and said, a key that needs a restart keeps
    its value, a malformed file keeps every setting; the monitor goes on either way."""
    cfg = tmp_path / "monitor.json"
    cfg.write_text('{"profiler": {"monitoring_interval": 5}, "data": {"chunk_size": 1000}}\n')
    mon = qh.popen([qh.qhtrace, "monitor", "--config", str(cfg), "--spool",
                    str(tmp_path / "spool"), "--metrics-addr", "", "--socket", ""])
    try:
        wait_line(mon.stderr, "processes running", 60 * TIME_SCALE)
        cfg.write_text('{"profiler": {"monitoring_interval": 10}, "data": {"chunk_size": 50}}\n')
        mon.send_signal(signal.SIGHUP)
        wait_line(mon.stderr, "reloaded: profiler.monitoring_interval 5 -> 10", 30 * TIME_SCALE)
        lines = wait_line(mon.stderr, "data.chunk_size", 10 * TIME_SCALE)
        assert "needs a restart" in lines[-1], lines
        cfg.write_text('{"profiler": {"monitoring_interval": 0}}\n')
        mon.send_signal(signal.SIGHUP)
        lines = wait_line(mon.stderr, "the settings in use stay", 30 * TIME_SCALE)
        assert "monitoring_interval" in lines[-1], lines
        assert mon.poll() is None, "the monitor ended on a malformed reload"
    finally:
        mon.send_signal(signal.SIGTERM)
        rc, _, err = qh.wait(mon)
    assert rc == 0, err


def test_monitor_stop_within_grace(qh, tmp_path):
    """Stopped while a job is in its grace: the report lists what it holds as alive_at_stop,
    grace_complete false, and --cleanup touches none of it (its grace was not over)."""
    spool = tmp_path / "spool"
    token = f"{os.getpid()}s"
    mon = qh.popen([qh.qhtrace, "monitor", "--spool", str(spool), "--job-grace", "600",
                    "--cleanup", "--metrics-addr", "", "--socket", ""])
    job, left = None, {}
    try:
        wait_line(mon.stderr, "processes running", 60 * TIME_SCALE)
        job = qh.popen(["/bin/sh", "-c", "sleep 300 >/dev/null 2>&1 & exit 0"],
                       env={"PATH": "/usr/bin:/bin", "CI_JOB_ID": token})
        assert qh.wait(job)[0] == 0
        left = session_members(job.pid)
        assert len(left) == 1, left
        wait_line(mon.stderr, f"job gitlab {token} ", 30 * TIME_SCALE)
        time.sleep(0.5)  # the root's exit record: the job is in its grace
    finally:
        mon.send_signal(signal.SIGTERM)
        rc, _, err = qh.wait(mon)
        survivors = {pid: start for pid, start in left.items() if alive(pid, start)}
        if job:
            left.update(session_members(job.pid))
        for pid, start in left.items():
            if alive(pid, start):
                os.kill(pid, signal.SIGKILL)
    assert rc == 0, err
    reports = [json.load(open(p)) for p in glob.glob(str(spool / "*.json"))]
    (r,) = [r for r in reports if r["job"]["key"] == token]
    assert r["job"]["state"] == "ended" and r["job"]["grace_complete"] is False, r["job"]
    assert [(x["comm"], x["reason"]) for x in r["leftovers"]] == [("sleep", "alive_at_stop")]
    assert r["job"]["outlived"] == 0 and r["cleanup"]["actions"] == [], r
    assert len(survivors) == 1, "the sleep was cleaned before its job's grace was over"

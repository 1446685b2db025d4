# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""End-to-end tests of WebDriver trees, zombies, orphans, leftovers and --cleanup, on fixtures.

fakedriver (run as `chromedriver`, its browser and renderers as `chrome`) builds a driver tree
of exactly 4 processes whose memory is known: each renderer touches 8 MiB anonymous, 4 MiB
shared (memfd) and 2 MiB /dev/shm memory, the browser 8 MiB anonymous. zombie, escape: see their headers.

Processes a test leaves running on purpose (leftovers without --cleanup) are killed at
teardown by (pid, start time).

Run as root: /usr/bin/python3 -m pytest tests/e2e/test_drivers.py
"""

import json
import os
import subprocess

import pytest

from test_attach import check_report, top_process, parse_time

MiB_KB = 1024
FAST = ("--force-cleanup-timeout", "1")


@pytest.fixture
def fakedir(qh, tmp_path):
    """A directory holding chromedriver and chrome, both the fakedriver fixture."""
    d = tmp_path / "drivers"
    d.mkdir()
    for name in ("chromedriver", "chrome", "mydriver"):
        (d / name).symlink_to(qh.fx("fakedriver"))
    return d


def attach(qh, tmp_path, args, opts=(), rc_expected=0):
    rc, out, err = qh.run(qh.attach_argv(args, tmp_path / "report.json", ("-q", *opts)))
    assert rc == rc_expected, f"qhtrace exited {rc}; stderr:\n{err}"
    report = check_report(qh.load_report(tmp_path / "report.json"))
    adopt_running(qh, report)
    return report, out, err


def adopt_running(qh, report):
    """Processes the report says run: killed at teardown if they still are the same ones."""
    for p in report["processes"]:
        if p["state"] == "running" and qh.proc_comm(p["pid"]) == p["comm"]:
            qh.adopt(p["pid"])


def alive(pid, start_time, report_procs):
    """Is the process (pid, start_time) of the report still alive (not a zombie)?"""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except FileNotFoundError:
        return False
    fields = data[data.rindex(")") + 2:].split()
    if fields[0] in "ZX":
        return False
    # start time in clock ticks since boot, against the report's wall clock start
    ticks = int(fields[19]) / os.sysconf("SC_CLK_TCK")
    with open("/proc/uptime") as f:
        uptime = float(f.read().split()[0])
    import time
    started = time.time() - uptime + ticks
    return abs(started - parse_time(start_time).timestamp()) < 0.5


def by_comm(report, comm):
    return [p for p in report["processes"] if p["comm"] == comm]


def check_no_stranger_signalled(report):
    """Every cleanup action is about a process of the report, by (pid, start time)."""
    keys = {(p["pid"], p["start_time"]) for p in report["processes"]}
    for a in report.get("cleanup", {}).get("actions", []):
        assert (a["pid"], a["start_time"]) in keys, a


def check_driver_tree(report, driver_id=1):
    """The fakedriver tree: chromedriver, its browser, two renderers, all of instance 1."""
    d = report["drivers"][driver_id - 1]
    drv = by_comm(report, "chromedriver")
    assert len(drv) == 1 and d["pid"] == drv[0]["pid"] and d["kind"] == "chromedriver", d
    members = [p for p in report["processes"] if p["driver"] == driver_id]
    assert sorted(d["pids"]) == sorted(p["pid"] for p in members), (d, members)
    assert sorted(p["comm"] for p in members) == ["chrome"] * 3 + ["chromedriver"], members
    outside = [p for p in report["processes"] if p["driver"] is None]
    assert all(p["comm"] != "chrome" for p in outside), outside
    assert d["process_count"] == 4 and d["peak_alive_count"] == 4, d
    # the browser and its renderers, by webdriver.browser_patterns ("chrome")
    assert sorted(d["browser_pids"]) == sorted(p["pid"] for p in members
                                               if p["comm"] == "chrome"), d
    # 2 x (8 + 4 + 2) + 8 MiB touched, plus each process's file pages (the loader, libc:
    # about 1.3 MiB each here); sampled while the tree holds it for 1.5 s
    assert 36 * MiB_KB <= d["peak_memory_kb"] <= 48 * MiB_KB, d
    # the two memfds (4 MiB) and /dev/shm files (2 MiB) of the renderers, plus at most 1 MiB
    # of other shared pages; the kernel's per-CPU counters lag by up to 32 pages per CPU
    # (README, Accuracy)
    lag_kb = 32 * 4 * os.cpu_count()
    assert 12 * MiB_KB - lag_kb <= d["peak_shmem_kb"] <= 13 * MiB_KB, d
    # the two /dev/shm files, each once, exactly (allocated blocks)
    assert d["peak_dev_shm_kb"] == 2 * 2 * MiB_KB, d
    assert report["driver_totals"]["peak_dev_shm_kb"] >= 4 * MiB_KB, report["driver_totals"]
    # the peak is the highest of the samples and of the tree as each member began to exit
    assert d["memory_timeline"] and max(s["memory_kb"] for s in d["memory_timeline"]) <= \
        d["peak_memory_kb"], d
    assert parse_time(d["end_time"]) >= parse_time(d["start_time"]), d
    # the driver holds 1.5 s after its tree is ready
    assert 1.5 <= d["lifetime_s"] <= 10, d
    return d


def test_driver_quits_cleanly(qh, tmp_path, fakedir):
    report, _, err = attach(qh, tmp_path, [fakedir / "chromedriver", "clean", "8"],
                            ("--memory-threshold-mb", "30", *FAST))
    assert len(report["drivers"]) == 1, report["drivers"]
    d = check_driver_tree(report)
    assert d["ended_cleanly"] is True and d["survivors"] == [], d
    assert (d["exit_code"], d["signal"]) == (0, None), d
    assert d["alive_count"] == 0 and d["memory_kb"] == 0, d
    assert report["leftovers"] == [] and report["zombies"] == [], report
    assert report["orphans"] == [], report["orphans"]
    assert "cleanup" not in report, "no cleanup without --cleanup"
    tot = report["driver_totals"]
    assert (tot["instances"], tot["active"], tot["memory_kb"]) == (1, 0, 0), tot
    assert tot["peak_memory_kb"] == d["peak_memory_kb"], tot
    # about 41 MiB against a 30 MiB threshold: one alert, high (critical from twice it)
    assert len(report["alerts"]) == 1, report["alerts"]
    a = report["alerts"][0]
    assert (a["kind"], a["severity"], a["threshold"]) == ("driver_memory", "high", 30), a
    assert 30 < a["value"] <= d["peak_memory_kb"] / 1024 + 0.01, a
    parse_time(a["time"])
    assert "alert" in err and "30 MiB" in err, err


def test_alert_after_command_output(qh, tmp_path, fakedir):
    """stderr is no terminal (a CI log): the alert's line comes after the command's own
    output, not inside it; the peak the report gives is the alert's value, from the same
    samples, by PSS; the event log tells the driver's start and end."""
    script = f'"{fakedir}/chromedriver" clean 8; printf "COMMAND-DONE" >&2'
    log = tmp_path / "events.ndjson"
    report, _, err = attach(qh, tmp_path, ["/bin/sh", "-c", script],
                            ("--memory-threshold-mb", "30", "--events", str(log), *FAST))
    assert "COMMAND-DONE" in err and "alert: driver_memory" in err, err
    assert err.index("COMMAND-DONE") < err.index("alert: driver_memory"), err
    d = report["drivers"][0]
    a = report["alerts"][0]
    assert d["memory_basis"] == "pss" and d["memory_alert"] is True, d
    # the alert fired on a sample whose PSS was over 30 MiB; the peak is the highest sample
    assert 30 < a["value"] <= d["peak_pss_kb"] / 1024 + 0.01, (a, d)
    assert d["peak_uss_kb"] <= d["peak_pss_kb"] <= d["peak_memory_kb"], d
    assert d["verdict"] == "over 30 MiB", d
    recs = [json.loads(l) for l in log.read_text().splitlines()]
    kinds = [r["kind"] for r in recs]
    start = next(r for r in recs if r["kind"] == "driver_start")
    end = next(r for r in recs if r["kind"] == "driver_end")
    assert (start["driver"], start["pid"], start["driver_kind"]) == (1, d["pid"],
                                                                     "chromedriver"), start
    assert (end["driver"], end["exit_code"], end["peak_pss_kb"]) == (1, 0, d["peak_pss_kb"]), end
    assert kinds.index("driver_start") < kinds.index("driver_end") < kinds.index("verdict")
    assert "alert" in kinds, kinds
    # the reader: a driver row names its driver and shows its memory and verdict
    out = subprocess.run([qh.qhtrace, "report", "--filter", "kind=driver",
                          str(tmp_path / "report.json")], capture_output=True, text=True,
                         timeout=30)
    row = out.stdout.splitlines()[1].split()
    assert out.returncode == 0 and row[1:4] == ["driver", str(d["pid"]), "chromedriver"], out
    assert f"peak_pss_kb={d['peak_pss_kb']}" in out.stdout, out.stdout
    assert 'verdict="over 30 MiB"' in out.stdout, out.stdout


def test_driver_leaves_two(qh, tmp_path, fakedir):
    """Without --cleanup: the two renderers outlive the driver, are found, and keep running."""
    cmd = ["/bin/sh", "-c", f"exec >/dev/null 2>&1; {fakedir}/chromedriver leave 8; sleep 2.5"]
    report, _, err = attach(qh, tmp_path, cmd, FAST)
    d = check_driver_tree(report)
    renderers = [p for p in by_comm(report, "chrome") if p["ppid"] != d["pid"]]
    assert len(renderers) == 2, report["processes"]
    assert all(p["state"] == "running" for p in renderers), renderers
    assert d["ended_cleanly"] is False, d
    assert sorted(d["survivors"]) == sorted(p["pid"] for p in renderers), d
    assert d["alive_count"] == 2, d
    # they still hold their memory: 2 x 14 MiB and their file pages
    assert 28 * MiB_KB <= d["memory_kb"] <= 32 * MiB_KB, d
    assert d["dev_shm_kb"] == 4 * MiB_KB, d
    left = sorted((l["pid"], l["reason"], l["driver"]) for l in report["leftovers"])
    assert left == sorted((p["pid"], "outlived_driver", 1) for p in renderers), report
    # the browser exited without them: re-parented to qhtrace, the subreaper
    browser = next(p for p in by_comm(report, "chrome") if p["ppid"] == d["pid"])
    orphans = sorted((o["pid"], o["old_ppid"], o["new_parent_comm"], o["driver"])
                     for o in report["orphans"])
    assert orphans == sorted((p["pid"], browser["pid"], "qhtrace", 1) for p in renderers)
    assert "2 processes of its tree still run" in err, err
    assert "cleanup" not in report
    for p in renderers:
        assert alive(p["pid"], p["start_time"], report), f"{p} was signalled without --cleanup"


def test_driver_cleanup(qh, tmp_path, fakedir):
    """--cleanup: SIGTERM, then SIGKILL for the renderer that ignores it; a process named
    chrome outside the traced tree is never signalled."""
    sentinel = qh.popen([str(fakedir / "chrome"), "sentinel"])
    assert qh.wait_for(lambda: qh.proc_comm(sentinel.pid) == "chrome", timeout=5)
    sentinel_start = qh.proc_stat(sentinel.pid)[1]
    cmd = ["/bin/sh", "-c", f"exec >/dev/null 2>&1; {fakedir}/chromedriver leave 8; sleep 2.5"]
    log = tmp_path / "events.ndjson"
    report, _, err = attach(qh, tmp_path, cmd, ("--cleanup", "--events", str(log), *FAST))
    d = check_driver_tree(report)
    renderers = {p["pid"]: p for p in by_comm(report, "chrome") if p["ppid"] != d["pid"]}
    # the event log: each leftover and what the cleanup did to it
    recs = [json.loads(l) for l in log.read_text().splitlines()]
    left = {r["pid"]: r for r in recs if r["kind"] == "leftover"}
    cleaned = {r["pid"]: r for r in recs if r["kind"] == "cleanup"}
    assert set(left) == set(cleaned) == set(renderers), recs
    assert all(r["reason"] == "outlived_driver" and r["driver"] == 1 for r in left.values())
    assert all(r["verified"] is True for r in cleaned.values()), cleaned
    assert d["verdict"] == "left 2 processes" and d["left_behind"] == 2, d
    assert sorted(d["survivors"]) == sorted(renderers), d
    c = report["cleanup"]
    assert (c["attempted"], c["succeeded"], c["failed"]) == (2, 2, 0), c
    acts = sorted((a["pid"], a["signal"], a["attempts"], a["verified"], a["error"])
                  for a in c["actions"])
    assert sorted(a[0] for a in acts) == sorted(renderers), c
    # one dies of SIGTERM; the other ignores it and takes SIGKILL: two signals
    assert sorted(a[1:] for a in acts) == [("SIGKILL", 2, True, None),
                                           ("SIGTERM", 1, True, None)], c
    for a in c["actions"]:
        p = renderers[a["pid"]]
        assert p["signal"] == (9 if a["signal"] == "SIGKILL" else 15), (a, p)
        assert p["state"] == "reaped", p
        assert not alive(p["pid"], p["start_time"], report), p
    check_no_stranger_signalled(report)
    assert qh.proc_stat(sentinel.pid) == (os.getpid(), sentinel_start) or \
        qh.proc_stat(sentinel.pid)[1] == sentinel_start, "the sentinel was hit"
    assert sentinel.poll() is None, "the sentinel outside the tree was signalled"
    assert sentinel.pid not in [a["pid"] for a in c["actions"]]


def test_zombie(qh, tmp_path):
    rc, out, err = qh.run(qh.attach_argv([qh.fx("zombie"), "2"], tmp_path / "report.json",
                                         ("-q", "--zombie-grace", "0.5")))
    assert rc == 0, err
    report = check_report(qh.load_report(tmp_path / "report.json"))
    child_pid = int(out.split()[0])
    parent = top_process(report)
    assert len(report["zombies"]) == 1, report["zombies"]
    z = report["zombies"][0]
    assert (z["pid"], z["comm"], z["parent_pid"], z["parent_comm"]) == \
        (child_pid, "zombie", parent["pid"], "zombie"), z
    # a zombie from its exit until its parent exits 2 s later (qhtrace then reaps it)
    assert 1.8 <= z["zombie_for_s"] <= 3.0, z
    assert z["reaped"] is True and z["driver"] is None, z
    assert report["leftovers"] == [], report["leftovers"]


def test_zombie_within_grace(qh, tmp_path):
    """Not reaped for less than the grace period: not a zombie finding."""
    report, _, _ = attach(qh, tmp_path, [qh.fx("zombie"), "0.3"], ("--zombie-grace", "1"))
    assert report["zombies"] == [], report["zombies"]


@pytest.mark.parametrize("stubborn", [False, True], ids=["term", "stubborn"])
def test_escaped_daemon_cleanup(qh, tmp_path, stubborn):
    args = [qh.fx("escape")] + (["stubborn"] if stubborn else [])
    rc, out, err = qh.run(qh.attach_argv(args, tmp_path / "report.json",
                                         ("-q", "--cleanup", "--force-cleanup-timeout", "0.5")))
    assert rc == 0, err
    report = check_report(qh.load_report(tmp_path / "report.json"))
    daemon = int(out.split()[0])
    procs = {p["pid"]: p for p in report["processes"]}
    top = top_process(report)
    middle = next(p for p in report["processes"] if p["ppid"] == top["pid"])
    assert [(o["pid"], o["old_ppid"], o["new_parent_comm"]) for o in report["orphans"]] == \
        [(daemon, middle["pid"], "qhtrace")], report["orphans"]
    assert [(l["pid"], l["reason"], l["driver"]) for l in report["leftovers"]] == \
        [(daemon, "outlived_command", None)], report["leftovers"]
    c = report["cleanup"]
    assert (c["attempted"], c["succeeded"], c["failed"]) == (1, 1, 0), c
    a = c["actions"][0]
    expect = ("SIGKILL", 2) if stubborn else ("SIGTERM", 1)
    assert (a["pid"], a["signal"], a["attempts"], a["verified"]) == (daemon, *expect, True), a
    # it was re-parented to qhtrace: qhtrace reaped it
    assert a["reaped"] is True and procs[daemon]["state"] == "reaped", (a, procs[daemon])
    assert not alive(daemon, procs[daemon]["start_time"], report)
    check_no_stranger_signalled(report)


def test_escaped_daemon_left(qh, tmp_path):
    """Without --cleanup the daemon is reported and left alone."""
    rc, out, err = qh.run(qh.attach_argv([qh.fx("escape")], tmp_path / "report.json"))
    assert rc == 0, err
    report = check_report(qh.load_report(tmp_path / "report.json"))
    adopt_running(qh, report)
    daemon = int(out.split()[0])
    p = next(p for p in report["processes"] if p["pid"] == daemon)
    assert p["state"] == "running" and alive(daemon, p["start_time"], report), p
    assert [(l["pid"], l["reason"]) for l in report["leftovers"]] == \
        [(daemon, "outlived_command")]
    assert "1 traced process is still running" in err, err


def test_lifetime_exceeded(qh, tmp_path):
    report, _, _ = attach(qh, tmp_path, ["/bin/sh", "-c", f"{qh.fx('idle')} 3; true"],
                          ("--max-lifetime", "1"))
    idle = by_comm(report, "idle")
    assert len(idle) == 1, report["processes"]
    # the traced command itself (sh, 3 s too) is the run: never a lifetime leftover
    assert [(l["pid"], l["reason"]) for l in report["leftovers"]] == \
        [(idle[0]["pid"], "lifetime_exceeded")], report["leftovers"]
    # found at the first check after 1 s: checks run every 0.5 to 1 s
    assert 1.0 <= report["leftovers"][0]["age_s"] <= 2.1, report["leftovers"]


def test_driver_pattern(qh, tmp_path, fakedir):
    """--driver-pattern adds names: mydriver is a driver only with it."""
    args = [fakedir / "mydriver", "clean", "1"]
    report, _, _ = attach(qh, tmp_path, args)
    assert report["drivers"] == [] and all(p["driver"] is None for p in report["processes"])
    report, _, _ = attach(qh, tmp_path, args, ("--driver-pattern", "my*"))
    assert [(d["kind"], d["process_count"], d["ended_cleanly"]) for d in report["drivers"]] == \
        [("mydriver", 4, True)], report["drivers"]


def test_pid_reuse_nothing_to_clean(qh, tmp_path, all_reports):
    """A pid used twice, both ended: --cleanup has nothing to do, and in every report of the
    session a cleanup action names a process of that report, by (pid, start time)."""
    report, _, _ = attach(qh, tmp_path, [qh.fx("pidreuse")], ("--cleanup",))
    assert report["cleanup"] == {"attempted": 0, "succeeded": 0, "failed": 0, "actions": []}
    assert report["leftovers"] == []
    for r in all_reports:
        check_no_stranger_signalled(r)


@pytest.mark.parametrize("opt", [
    ("--force-cleanup-timeout", "0"),
    ("--force-cleanup-timeout", "x"),
    ("--zombie-grace", "-1"),
    ("--max-cleanup-attempts", "0"),
    ("--memory-threshold-mb", "1e3"),
    ("--driver-pattern", ""),
])
def test_watch_usage_errors(qh, tmp_path, opt):
    marker = tmp_path / "ran"
    rc, _, err = qh.run([qh.qhtrace, "attach", *opt, "--", "touch", str(marker)])
    assert rc == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and opt[0] in lines[0], err
    assert not marker.exists()


def test_sigterm_still_cleans_and_reports(qh, tmp_path):
    """SIGTERM to qhtrace: passed to CMD, then the leftovers are still found, cleaned up and
    verified, and the report written."""
    script = f"{qh.fx('escape')} >/dev/null; exec {qh.fx('idle')} 30"
    proc = qh.popen_attach(["/bin/sh", "-c", script], tmp_path / "report.json",
                           ("-q", "--cleanup", "--force-cleanup-timeout", "0.5"))
    pid = qh.wait_for(lambda: qh.find_descendant(proc.pid, "idle"), timeout=10)
    assert pid, f"idle did not start under qhtrace; qhtrace state: {proc.poll()}"
    proc.terminate()
    rc, _, err = qh.wait(proc, timeout=20)
    assert rc == 128 + 15, f"qhtrace exited {rc}; stderr:\n{err}"
    report = check_report(qh.load_report(tmp_path / "report.json"))
    adopt_running(qh, report)
    left = report["leftovers"]
    assert [(l["comm"], l["reason"]) for l in left] == [("escape", "outlived_command")], left
    c = report["cleanup"]
    assert (c["attempted"], c["succeeded"], c["failed"]) == (1, 1, 0), c
    assert (c["actions"][0]["pid"], c["actions"][0]["signal"]) == (left[0]["pid"], "SIGTERM")
    check_no_stranger_signalled(report)


def test_gate_on_leftovers(qh, tmp_path):
    """--fail-on leftovers: the escaped daemon fails the gate (exit 3) even though --cleanup
    removed it; the verdict names the class."""
    rc, out, err = qh.run(qh.attach_argv([qh.fx("escape")], tmp_path / "report.json",
                                         ("-q", "--cleanup", "--force-cleanup-timeout", "0.5",
                                          "--fail-on", "leftovers,zombies")))
    report = check_report(qh.load_report(tmp_path / "report.json"))
    adopt_running(qh, report)
    assert rc == 3, f"qhtrace exited {rc}; stderr:\n{err}"
    assert report["verdict"]["pass"] is False, report["verdict"]
    assert any(r.startswith("leftovers") for r in report["verdict"]["reasons"]), report["verdict"]
    assert not any(r.startswith("zombies") for r in report["verdict"]["reasons"])
    assert report["cleanup"]["succeeded"] == 1, report["cleanup"]


def test_end_grace_announced(qh, tmp_path, fakedir):
    """The command ends just after its driver, whose renderers outlive it: qhtrace says it
    waits, for at most --end-grace (not the 10 s force_cleanup_timeout), then judges the tree
    as it is."""
    # the renderers left running must not hold our stderr pipe
    cmd = ["/bin/sh", "-c", f'exec >/dev/null 2>&1; exec "{fakedir}/chromedriver" leave 8']
    rc, out, err = qh.run(qh.attach_argv(cmd,
                                         tmp_path / "report.json",
                                         ("--force-cleanup-timeout", "10", "--end-grace", "0.5")))
    report = check_report(qh.load_report(tmp_path / "report.json"))
    adopt_running(qh, report)
    assert rc == 0, err
    assert "waiting up to 0.5s for the trees of drivers that just ended to exit (--end-grace)" \
        in err, err
    left = report["leftovers"]
    assert len(left) == 2 and all(l["reason"] == "outlived_driver" for l in left), left

# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""End-to-end tests of `qhtrace attach`: real fixtures traced, exit status and report asserted.

The fixtures (tests/fixtures/*.c) behave exactly as their header comments say, so most
figures are asserted exactly; where a tolerance is needed, the comment beside it says why.

Run as root: /usr/bin/python3 -m pytest tests/e2e
"""

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from datetime import datetime

import pytest

SCHEMA = "qhtrace/report/v1"
STATES = ("running", "exited", "zombie", "reaped")
ENDED = ("exited", "zombie", "reaped")
PROCESS_KEYS = ("pid", "ppid", "comm", "exe", "start_time", "end_time", "state", "exit_code",
                "signal", "peak_rss_kb", "rss_kb", "rss_growth_kb", "heap_kb", "mmap_anon_kb",
                "threads_peak")
KB_KEYS = ("peak_rss_kb", "rss_kb", "heap_kb", "mmap_anon_kb")
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$",
                     re.IGNORECASE)
MiB_KB = 1024
TIMEOUT = 60  # seconds, for every subprocess a test runs


# --- report helpers -----------------------------------------------------------------------------

def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def parse_time(s):
    assert isinstance(s, str) and RFC3339.match(s), f"not an RFC 3339 time: {s!r}"
    return datetime.fromisoformat(s.upper())


def check_process(p):
    """The per-process contract, for any process of any report."""
    missing = [k for k in PROCESS_KEYS if k not in p]
    assert not missing, f"process entry lacks {missing}: {p}"
    assert is_int(p["pid"]) and p["pid"] > 0, p
    assert is_int(p["ppid"]) and p["ppid"] >= 0, p
    assert isinstance(p["comm"], str) and 0 < len(p["comm"]) <= 15, p
    assert p["exe"] is None or isinstance(p["exe"], str), p
    assert p["state"] in STATES, p
    start = parse_time(p["start_time"])
    for key in ("exit_code", "signal"):
        assert p[key] is None or is_int(p[key]), p
    for key in KB_KEYS:
        assert is_int(p[key]) and p[key] >= 0, p
    # Growth is relative to the RSS after the last exec or fork: it may be negative.
    assert is_int(p["rss_growth_kb"]), p
    assert is_int(p["threads_peak"]) and p["threads_peak"] >= 0, p
    if p["state"] in ENDED:
        assert parse_time(p["end_time"]) >= start, p
        # A process ends either by exit (code) or by a signal, never both, never neither.
        assert (p["exit_code"] is None) != (p["signal"] is None), p
    else:
        assert p["end_time"] is None and p["exit_code"] is None and p["signal"] is None, p


def check_report(report):
    """The report contract v1, for any report; returns the report."""
    assert report is not None, "no report written"
    assert report.get("schema") == SCHEMA, report.get("schema")
    assert isinstance(report.get("version"), str) and report["version"], report.get("version")

    run = report["run"]
    assert run["mode"] == "attach", run
    assert isinstance(run["command"], list) and run["command"], run
    assert all(isinstance(a, str) for a in run["command"]), run
    parse_time(run["start_time"])
    assert isinstance(run["duration_s"], (int, float)) and run["duration_s"] >= 0, run
    # qhtrace's own exit status for the command: its code, or 128+N for a killing signal
    assert is_int(run["exit_code"]), run
    # The kernel it ran on: the release at least (the field may say more, e.g. the arch).
    assert isinstance(run["kernel"], str) and os.uname().release in run["kernel"], run

    events = report["events"]
    for key in ("received", "lost"):
        assert is_int(events[key]) and events[key] >= 0, events
    assert isinstance(events["incomplete"], bool), events
    assert events["incomplete"] == (events["lost"] > 0 or events["unannounced_processes"] > 0)

    assert isinstance(report["processes"], list), report
    for p in report["processes"]:
        check_process(p)
    check_identity(report)
    return report


def check_identity(report):
    """Processes are keyed by (pid, start_time), never by pid alone: no pair twice."""
    keys = [(p["pid"], p["start_time"]) for p in report["processes"]]
    dups = sorted({k for k in keys if keys.count(k) > 1})
    assert not dups, f"processes listed twice: {dups}"


def top_process(report):
    """The traced command: the one process whose parent is not in the report (qhtrace)."""
    pids = {p["pid"] for p in report["processes"]}
    tops = [p for p in report["processes"] if p["ppid"] not in pids]
    assert len(tops) == 1, f"expected one top process, got {tops}"
    return tops[0]


def exe_matches(exe, path):
    """exe is the path as exec'd (bprm->filename), not its resolution (/bin/sh -> dash)."""
    return exe == path


def within_pct(value, expected, pct):
    return abs(value - expected) <= expected * pct / 100


def stderr_lines(err):
    return [line for line in err.splitlines() if line.strip()]


def attach_ok(qh, args, tmp_path, rc_expected=0, opts=("-q",)):
    """Trace args, expect rc_expected, return the checked report."""
    rc, report, err = qh.run_attach(args, tmp_path / "report.json", opts=opts)
    assert rc == rc_expected, f"qhtrace exited {rc}, expected {rc_expected}; stderr:\n{err}"
    return check_report(report)


# --- traced workloads ---------------------------------------------------------------------------

def test_tree(qh, tmp_path):
    tree = qh.fx("tree")
    t0, wall0 = time.time(), time.monotonic()
    report = attach_ok(qh, [tree], tmp_path)
    t1, elapsed = time.time(), time.monotonic() - wall0

    run = report["run"]
    assert run["command"] == [tree]
    assert run["exit_code"] == 0
    # Clock granularity of the written times: 1 s either side.
    assert t0 - 1 <= parse_time(run["start_time"]).timestamp() <= t1 + 1, run
    # The children sleep 50 ms; qhtrace cannot have run longer than we waited for it.
    assert 0.05 <= run["duration_s"] <= elapsed + 0.1, run

    # A clean, fully traced run: nothing lost, nothing seen only in part.
    assert report["events"]["lost"] == 0, report["events"]
    assert report["events"]["incomplete"] is False, report["events"]
    assert report["events"]["received"] > 0, report["events"]

    procs = report["processes"]
    assert len(procs) == 4, procs  # parent + 3 children; the exec does not add a process
    parent = top_process(report)
    children = [p for p in procs if p is not parent]
    assert parent["comm"] == "tree" and exe_matches(parent["exe"], tree), parent
    assert parent["exit_code"] == 0 and parent["signal"] is None, parent
    assert all(c["ppid"] == parent["pid"] for c in children), children
    assert sorted(c["exit_code"] for c in children) == [10, 11, 12], children
    for c in children:
        assert c["signal"] is None, c
        assert parse_time(c["start_time"]) >= parse_time(parent["start_time"]), (parent, c)
        # The parent waits for its children.
        assert parse_time(c["end_time"]) <= parse_time(parent["end_time"]), (parent, c)
        if c["exit_code"] == 12:
            assert c["comm"] == "sh" and exe_matches(c["exe"], "/bin/sh"), c
        else:
            assert c["comm"] == "tree" and exe_matches(c["exe"], tree), c
    assert all(p["state"] == "reaped" for p in procs), procs


def test_rss64(qh, tmp_path):
    report = attach_ok(qh, [qh.fx("rss64")], tmp_path)
    assert len(report["processes"]) == 1, report["processes"]
    p = report["processes"][0]
    assert p["exit_code"] == 0 and p["state"] == "reaped", p
    assert p["threads_peak"] == 1, p
    # 64 MiB touched after exec; 5% covers the stack and the loader's pages.
    assert within_pct(p["rss_growth_kb"], 64 * MiB_KB, 5), p
    # the RSS it exited with: before 6.16 the exit tracepoint fires after the address space
    # is torn down, whose rss_stat events must not count it down to nothing
    assert p["rss_kb"] >= 64 * MiB_KB, p
    assert p["peak_rss_kb"] >= p["rss_kb"], p
    # Never unmapped, so still live at exit: 64 MiB plus the loader's few anonymous pages
    # (about 72 KiB on Debian 12), 5% at most.
    assert 64 * MiB_KB <= p["mmap_anon_kb"] <= 64 * MiB_KB * 1.05, p


def test_no_kernel_config(qh, tmp_path):
    """Without /boot/config-$(uname -r) (a container without the host's /boot) the programs
    still load: libbpf would refuse the object for want of CONFIG_HZ. Debian's kernels have no
    /proc/config.gz either, so in the kernel matrix's guests nothing is left to read."""
    empty = tmp_path / "boot"
    empty.mkdir()
    argv = qh.attach_argv([qh.fx("shortlived")], tmp_path / "report.json")
    # /boot hidden in a mount namespace of the test's own
    rc, _, err = qh.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                         'mount --bind "$0" /boot && exec "$@"', str(empty)] + argv)
    assert rc == 0, err
    report = qh.load_report(tmp_path / "report.json")
    assert report and report["processes"], err


def test_brk16(qh, tmp_path):
    report = attach_ok(qh, [qh.fx("brk16")], tmp_path)
    p = top_process(report)
    assert p["exit_code"] == 0, p
    # Exactly 16 MiB by sbrk (the break starts page aligned); up to 1 MiB more for slack.
    assert 16 * MiB_KB <= p["heap_kb"] <= 17 * MiB_KB, p
    # The heap is not anonymous mmap: only the loader's few anonymous pages are.
    assert p["mmap_anon_kb"] < MiB_KB, p


@pytest.mark.parametrize("args, rc, code, sig", [
    (["7"], 7, 7, None),
    (["0"], 0, 0, None),
    (["-s", "9"], 137, None, 9),
    (["-s", "15"], 143, None, 15),
], ids=["exit-7", "exit-0", "sigkill", "sigterm"])
def test_exit_status(qh, tmp_path, args, rc, code, sig):
    report = attach_ok(qh, [qh.fx("exitcode"), *args], tmp_path, rc_expected=rc)
    p = top_process(report)
    assert (p["exit_code"], p["signal"], p["state"]) == (code, sig, "reaped"), p
    # run.exit_code is qhtrace's status for CMD: its code, or 128+N for a signal death.
    assert report["run"]["exit_code"] == rc, report["run"]


def test_shortlived_child(qh, tmp_path):
    report = attach_ok(qh, [qh.fx("shortlived")], tmp_path)
    assert report["events"]["lost"] == 0, report["events"]
    parent = top_process(report)
    assert parent["exit_code"] == 0, parent
    children = [p for p in report["processes"] if p is not parent]
    assert len(children) == 1, report["processes"]
    child = children[0]
    assert child["ppid"] == parent["pid"], child
    assert (child["exit_code"], child["signal"], child["state"]) == (3, None, "reaped"), child
    assert child["comm"] == "shortlived", child


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGINT"])
def test_signal_forwarded(qh, tmp_path, signame):
    sig = getattr(signal, signame)
    report_path = tmp_path / "report.json"
    proc = qh.popen_attach([qh.fx("rss64"), "hold"], report_path)

    # Wait until rss64 has touched its 64 MiB and holds it (the timeout is for a slow CI).
    pid = qh.wait_for(lambda: qh.find_descendant(proc.pid, "rss64"), timeout=10)
    assert pid, f"rss64 did not start under qhtrace; qhtrace state: {proc.poll()}"
    qh.adopt(pid)
    start_ticks = qh.proc_stat(pid)[1]
    assert qh.wait_for(lambda: (qh.proc_status_kb(pid, "VmRSS") or 0) >= 65536, timeout=10)

    proc.send_signal(sig)
    rc, _, err = qh.wait(proc, timeout=10)
    assert rc == 128 + sig, f"qhtrace exited {rc}; stderr:\n{err}"
    st = qh.proc_stat(pid)
    assert st is None or st[1] != start_ticks, "rss64 is still alive after qhtrace exited"

    report = check_report(qh.load_report(report_path))
    p = next((p for p in report["processes"] if p["pid"] == pid), None)
    assert p, f"pid {pid} not in the report: {report['processes']}"
    assert (p["signal"], p["exit_code"]) == (sig, None), p
    # Killed while holding 64 MiB: its RSS when it began to exit is at least that, less slack.
    assert p["rss_kb"] >= 60000, p


def test_full_map_is_reported(qh, tmp_path):
    """A full procs map is counted, reported and warned about, never silent."""
    n, max_procs = 100, 64
    rc, report, err = qh.run_attach([qh.fx("forkmany"), str(n)], tmp_path / "report.json",
                                    opts=("-q", "--max-procs", str(max_procs)))
    assert rc == 0, err
    check_report(report)
    ev = report["events"]
    # the map holds the parent and max_procs - 1 children; every other fork is a loss
    assert ev["lost_by_reason"]["procs_map_full"] == n + 1 - max_procs, ev
    assert ev["lost"] == n + 1 - max_procs and ev["incomplete"] is True, ev
    assert len(report["processes"]) == max_procs, len(report["processes"])
    assert "lost" in err and "incomplete" in err, err


def test_pid_reuse(qh, tmp_path):
    """A pid used twice in one run is two processes, told apart by their start times."""
    report = attach_ok(qh, [qh.fx("pidreuse")], tmp_path)
    assert report["events"]["incomplete"] is False, report["events"]
    parent = top_process(report)
    children = [p for p in report["processes"] if p is not parent]
    assert len(children) == 2, report["processes"]
    a, b = sorted(children, key=lambda p: p["start_time"])
    assert a["pid"] == b["pid"], children
    assert parse_time(a["start_time"]) < parse_time(b["start_time"]), children
    assert (a["exit_code"], b["exit_code"]) == (1, 2), children
    assert a["state"] == b["state"] == "reaped", children
    # the first one ended before the second began
    assert parse_time(a["end_time"]) <= parse_time(b["start_time"]), children


def test_process_identity(qh, tmp_path, all_reports):
    """(pid, start_time) is unique in a report: in this run and in all the session's reports."""
    attach_ok(qh, [qh.fx("tree")], tmp_path)
    for report in all_reports:
        check_identity(report)


def our_bpf_programs():
    """Ids of loaded BPF programs that bear the names of qhtrace's programs."""
    out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True,
                         timeout=TIMEOUT, check=True).stdout
    names = {"sched_process_fork", "sched_process_exec", "sched_process_exit",
             "sched_process_free", "rss_stat", "sys_exit_mmap", "sys_exit_brk",
             "mem_fx_exit_mmap", "mem_fx_exit_brk"}
    return {p["id"] for p in json.loads(out) if p.get("name") in names}


def programs_held_by(pid):
    """Ids of the BPF programs process @pid holds, through program and link fds (fdinfo), so
    a qhtrace run by someone else meanwhile cannot be mistaken for this one."""
    ids = set()
    fdinfo = f"/proc/{pid}/fdinfo"
    for fd in os.listdir(fdinfo):
        try:
            with open(f"{fdinfo}/{fd}") as f:
                ids.update(int(line.split()[1]) for line in f if line.startswith("prog_id:"))
        except OSError:
            pass  # closed since the listing
    return ids


def loaded_programs():
    out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True,
                         timeout=TIMEOUT, check=True).stdout
    return {p["id"] for p in json.loads(out)}


def tracefs_mounts():
    """The mount points of tracefs in our mount namespace, one entry per mount, sorted."""
    with open("/proc/self/mounts") as f:
        points = [line.split()[1] for line in f if line.split()[2] == "tracefs"]
    return sorted(points)


def test_sigkill_leaves_nothing(qh, tmp_path):
    """SIGKILLed, qhtrace leaves no program attached and no tracefs mount of its own.

    A booted Debian, Ubuntu or RHEL mounts tracefs at boot (systemd), so what was mounted
    before qhtrace ran must be exactly what is mounted after it."""
    tracefs_before = tracefs_mounts()
    before = our_bpf_programs()
    proc = qh.popen_attach([qh.fx("idle"), "30"], tmp_path / "report.json")
    pid = qh.wait_for(lambda: qh.find_descendant(proc.pid, "idle"), timeout=10)
    assert pid, f"idle did not start under qhtrace; qhtrace state: {proc.poll()}"
    qh.adopt(pid)
    assert our_bpf_programs() - before, "qhtrace's programs are not loaded while it traces"
    held = programs_held_by(proc.pid)
    assert held & our_bpf_programs(), f"qhtrace holds none of its programs: {held}"
    proc.kill()
    proc.wait(timeout=10)
    # links and programs are released with the last file descriptor, asynchronously
    assert qh.wait_for(lambda: not (held & loaded_programs()), timeout=10), \
        f"programs left loaded: {held & loaded_programs()}"
    # the control socket is an abstract name: nothing of it outlives the process
    with open("/proc/net/unix") as f:
        left = [line for line in f if f"@qhtrace-{proc.pid}-" in line]
    assert not left, f"control socket left: {left}"
    assert tracefs_mounts() == tracefs_before, \
        f"tracefs mounts changed: before {tracefs_before}, after {tracefs_mounts()}"


# --- refusals -----------------------------------------------------------------------------------

@pytest.mark.parametrize("cmd", ["qhtrace-no-such-command", "/nonexistent/qhtrace-cmd"])
def test_command_not_found(qh, tmp_path, cmd):
    rc, _, err = qh.run_attach([cmd], tmp_path / "report.json")
    assert rc == 127, err
    lines = stderr_lines(err)
    # like a shell: "X: command not found", or for a path "X: No such file or directory"
    assert len(lines) == 1 and ("not found" in lines[0] or "No such file" in lines[0]), err


@pytest.mark.parametrize("kind", ["file", "directory"])
def test_command_not_executable(qh, tmp_path, kind):
    cmd = tmp_path / "not-executable"
    if kind == "file":
        # No x bit at all: even root cannot exec it.
        cmd.write_text("#!/bin/sh\nexit 0\n")
        cmd.chmod(0o644)
    else:
        cmd.mkdir()
    rc, _, err = qh.run_attach([str(cmd)], tmp_path / "report.json")
    assert rc == 126, err
    assert len(stderr_lines(err)) == 1, err


@pytest.mark.parametrize("args", [
    [],                                   # no command
    ["--no-such-option", "--", "touch"],  # unknown option
    ["-o"],                               # option without its argument
], ids=["no-command", "unknown-option", "missing-argument"])
def test_usage_error(qh, tmp_path, args):
    marker = tmp_path / "ran"
    argv = [qh.qhtrace, "attach", *args]
    if argv[-1] == "touch":
        argv.append(str(marker))
    rc, _, err = qh.run(argv)
    assert rc == 2, err
    assert stderr_lines(err), "a usage error says why"
    assert not marker.exists(), "the command ran despite the usage error"


@pytest.fixture
def world_dir():
    """A directory that an unprivileged user can traverse and write (tmp_path is 0700)."""
    path = tempfile.mkdtemp(prefix="qhtrace-e2e-")
    os.chmod(path, 0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_not_root(qh, world_dir):
    drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
    binary = qh.qhtrace
    rc, _, _ = qh.run(drop + ["test", "-x", binary])
    if rc != 0:
        # A parent directory is closed to nobody: run a copy of the same binary.
        binary = shutil.copy(binary, os.path.join(world_dir, "qhtrace"))
        os.chmod(binary, 0o755)
    marker = os.path.join(world_dir, "ran")
    argv = [binary, "attach", "-q", "-o", os.path.join(world_dir, "report.json"),
            "--", "touch", marker]
    rc, _, err = qh.run(drop + argv)
    assert rc == 1, err
    lines = stderr_lines(err)
    assert len(lines) == 1 and "root" in lines[0], err
    assert not os.path.exists(marker), "the command ran without tracing"


@pytest.mark.parametrize("case", ["missing-dir", "dangling-symlink", "symlink-to-file"])
def test_output_refused(qh, tmp_path, case):
    marker = tmp_path / "ran"
    target = tmp_path / "target.json"
    if case == "missing-dir":
        out = tmp_path / "missing" / "report.json"
    else:
        out = tmp_path / "report.json"
        out.symlink_to(target)
        if case == "symlink-to-file":
            target.write_text("keep\n")
    rc, _, err = qh.run(qh.attach_argv(["touch", marker], out))
    assert rc == 2, err
    assert stderr_lines(err), "the refusal says why"
    assert not marker.exists(), "the command ran although its report could not be written"
    if case == "missing-dir":
        assert not out.parent.exists()
    elif case == "dangling-symlink":
        assert not target.exists()
    else:
        assert target.read_text() == "keep\n"


def test_no_btf(qh, tmp_path):
    marker = tmp_path / "ran"
    # A private mount namespace hides BTF from qhtrace only (unshare -m makes mounts private).
    script = 'mount -t tmpfs none /sys/kernel/btf && exec "$0" attach -q -- touch "$1"'
    rc, _, err = qh.run(["unshare", "-m", "sh", "-c", script, qh.qhtrace, str(marker)])
    assert rc == 1, err
    assert "/sys/kernel/btf/vmlinux" in err, err
    # The child is held until the probes are attached: with no probes, CMD never runs.
    assert not marker.exists(), "the command ran untraced"


# --- terminal output ----------------------------------------------------------------------------

def has_table_header(err):
    return any("PID" in line and "COMM" in line for line in err.splitlines())


@pytest.mark.parametrize("quiet", [False, True])
def test_summary_table(qh, tmp_path, quiet):
    opts = ("-q",) if quiet else ()
    rc, report, err = qh.run_attach([qh.fx("exitcode"), "0"], tmp_path / "report.json",
                                    opts=opts)
    assert rc == 0, err
    check_report(report)
    assert has_table_header(err) != quiet, f"quiet={quiet}; stderr:\n{err}"

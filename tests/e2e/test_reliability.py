# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Every documented way a run ends, and what bad input and faults did before (issue 17).

Each exit path is checked for its three outputs: the report (-o), the event log (--events, gzip:
every member closed, `verdict` last) and the exit status. Then hostile output paths (a FIFO,
another user's file, /proc), a full disk, names that try to forge lines, and the unprivileged
capability set (setpriv).
"""

import gzip
import json
import os
import signal
import subprocess
import shutil

import pytest

# Every catchable signal whose default action ends a process (signal(7)), but those that
# report a fault of qhtrace itself (SEGV, BUS, ILL, FPE, ABRT, TRAP, SYS: they keep their
# default action). Sent to qhtrace by another process, each is passed to CMD; CMD dies of it
# and qhtrace drains, reports and exits 128+N.
ENDING = ["SIGHUP", "SIGINT", "SIGQUIT", "SIGTERM", "SIGUSR1", "SIGUSR2", "SIGPIPE", "SIGALRM",
          "SIGSTKFLT", "SIGVTALRM", "SIGPROF", "SIGIO", "SIGPWR", "SIGXCPU", "SIGXFSZ",
          "SIGRTMIN", "SIGRTMAX"]


def signum(name):
    return int(getattr(signal, name))


def read_log(path):
    """The event log's records; fails the test if it does not read cleanly to its end."""
    with gzip.open(path, "rt") as f:
        recs = [json.loads(line) for line in f]
    assert recs and recs[0]["kind"] == "log", recs[:1]
    return recs


def check_outputs(report, log_path, exit_code):
    assert report is not None, "no report written"
    assert report["run"]["exit_code"] == exit_code
    assert report["event_log"]["complete"] is True
    recs = read_log(log_path)
    assert recs[-1]["kind"] == "verdict", recs[-3:]
    assert report["event_log"]["records"] == len(recs)


def start_traced(qh, tmp_path, seconds="30", stderr=subprocess.PIPE):
    """qhtrace attach on `idle`: the process and idle's pid, once idle runs."""
    argv = qh.attach_argv([qh.fx("idle"), seconds], tmp_path / "r.json",
                          opts=("--events", str(tmp_path / "e.ndjson.gz")))
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr,
                         start_new_session=True)
    qh._popens.append(p)
    pid = qh.wait_for(lambda: qh.find_descendant(p.pid, "idle"), timeout=20)
    assert pid, f"idle did not start under qhtrace (qhtrace: {p.poll()})"
    qh.adopt(pid)
    return p, pid


@pytest.mark.parametrize("name", ENDING)
def test_every_ending_signal(qh, tmp_path, name):
    """Defect 10: SIGUSR1, SIGALRM, SIGPIPE ended qhtrace with no report, CMD untraced."""
    p, pid = start_traced(qh, tmp_path)
    os.kill(p.pid, signum(name))
    rc, _, err = qh.wait(p)
    assert rc == 128 + signum(name), err
    report = qh.load_report(tmp_path / "r.json")
    check_outputs(report, tmp_path / "e.ndjson.gz", 128 + signum(name))
    idle = [x for x in report["processes"] if x["pid"] == pid]
    assert idle and idle[0]["signal"] == signum(name), idle


def test_sigpipe_on_stderr(qh, tmp_path):
    """Defect 2: `... 2>&1 | head -c0` exited 141, no report, an empty log, CMD's status lost."""
    r, w = os.pipe()
    os.close(r)
    try:
        argv = qh.attach_argv([qh.fx("exitcode"), "7"], tmp_path / "r.json",
                              opts=("--events", str(tmp_path / "e.ndjson.gz")))
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=w, stderr=w, timeout=60)
    finally:
        os.close(w)
    assert p.returncode == 7
    check_outputs(qh.load_report(tmp_path / "r.json"), tmp_path / "e.ndjson.gz", 7)


def test_stderr_full(qh, tmp_path):
    """A summary that cannot be written (stderr on /dev/full) changes nothing else."""
    with open("/dev/full", "w") as full:
        argv = qh.attach_argv([qh.fx("exitcode"), "5"], tmp_path / "r.json",
                              opts=("--events", str(tmp_path / "e.ndjson.gz")))
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=full, stderr=full, timeout=60)
    assert p.returncode == 5
    check_outputs(qh.load_report(tmp_path / "r.json"), tmp_path / "e.ndjson.gz", 5)


@pytest.mark.parametrize("stdout", ["pipe", "full"])
def test_fds_table_stdout_gone_or_full(qh, tmp_path, stdout):
    """`fds -p PID | true` exited 141. The table is the data asked for: not shown, exit 1,
    said on stderr; the report is written all the same."""
    target = qh.popen([qh.fx("idle"), "30"])
    if stdout == "pipe":
        r, w = os.pipe()
        os.close(r)
        out = os.fdopen(w, "w")
    else:
        out = open("/dev/full", "w")
    with out:
        p = subprocess.run([qh.qhtrace, "fds", "-p", str(target.pid), "--duration", "1",
                            "-o", str(tmp_path / "r.json")], stdin=subprocess.DEVNULL,
                           stdout=out, stderr=subprocess.PIPE, text=True, timeout=60)
    assert p.returncode == 1, p.stderr
    why = "Broken pipe" if stdout == "pipe" else "No space left on device"
    assert f"failed to write the fd table to stdout: {why}" in p.stderr
    assert qh.load_report(tmp_path / "r.json")["run"]["mode"] == "fds"


def test_full_filesystem(qh, tmp_path):
    """The report and the log on a full filesystem: exit 1, each failure named."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], check=True)
    try:
        # full but for the inode the preflight's probe file needs
        subprocess.run(["dd", "if=/dev/zero", f"of={mnt}/fill", "bs=4k"],
                       stderr=subprocess.DEVNULL)
        rc, report, err = qh.run_attach([qh.fx("exitcode"), "0"], mnt / "r.json",
                                        opts=("-q", "--events", str(mnt / "e.ndjson")))
        assert rc == 1, err
        assert report is None
        assert f"failed to write the report to {mnt}/r.json: No space left on device" in err
        assert "No space left on device" in err.split("report")[0], err
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_events_fifo_refused_at_once(qh, tmp_path):
    """Defect 3: --events onto a FIFO hung for ever, deaf to SIGTERM."""
    os.mkfifo(tmp_path / "e.ndjson")
    rc, report, err = qh.run_attach([qh.fx("exitcode"), "0"], tmp_path / "r.json",
                                    opts=("--events", str(tmp_path / "e.ndjson")), timeout=20)
    assert rc == 2, err
    assert report is None
    assert err.strip() == (f"qhtrace: cannot write the event log to {tmp_path}/e.ndjson: "
                           "is a FIFO, not a regular file")


def test_events_over_another_users_file(qh, tmp_path):
    """Defect 4: the log written into a file another user owns kept their ownership."""
    path = tmp_path / "e.ndjson"
    path.write_text("theirs\n")
    os.chown(path, 65534, 65534)
    os.chmod(path, 0o666)
    rc, report, err = qh.run_attach([qh.fx("exitcode"), "0"], tmp_path / "r.json",
                                    opts=("-q", "--events", str(path)))
    assert rc == 0, err
    st = os.stat(path)
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (0, 0, 0o644)
    assert path.read_text().startswith('{"time":')
    assert report["event_log"]["complete"] is True


def test_output_in_proc_refused_before_the_run(qh, tmp_path):
    """Defect 12: -o /proc/x was accepted, and failed after CMD ran."""
    marker = tmp_path / "ran"
    rc, _, err = qh.run_attach(["/bin/touch", marker], "/proc/x")
    assert rc == 2, err
    assert "cannot write the report to /proc/x: cannot create a file in /proc" in err
    assert not marker.exists(), "CMD ran although the report could not be written"


def test_names_cannot_forge_lines(qh, tmp_path):
    """Defect 9: a comm of "a\\nqhtrace: FAKE" forged a line of the summary and the tables."""
    rc, report, err = qh.run_attach([qh.fx("rename"), "a\nqhtrace: FAKE"], tmp_path / "r.json",
                                    opts=("--summary-md", str(tmp_path / "s.md")))
    assert rc == 0, err
    assert [x["comm"] for x in report["processes"]] == ["a\nqhtrace: FAKE"]
    assert "a\\nqhtrace: FAKE" in err
    assert not [line for line in err.splitlines() if line.startswith("qhtrace: FAKE")], err
    p = subprocess.run([qh.qhtrace, "report", str(tmp_path / "r.json")], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 0 and "a\\nqhtrace: FAKE" in p.stdout, p
    assert not [line for line in p.stdout.splitlines() if line.startswith("qhtrace: FAKE")]


# --- the unprivileged capability set (README, "Reliability") ------------------------------------

CAPS = "+bpf,+perfmon,+dac_read_search,+sys_admin"


def setpriv(caps):
    """Run as nobody with exactly @caps (inheritable and ambient: kept across exec)."""
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
            f"--inh-caps={caps}", f"--ambient-caps={caps}", "--"]


@pytest.fixture
def nobody_dir(tmp_path):
    d = tmp_path / "nobody"
    d.mkdir()
    os.chown(d, 65534, 65534)
    os.chmod(tmp_path, 0o755)
    return d


def test_unprivileged_capability_set(qh, nobody_dir):
    """Defect 11: the documented set works, with --heap and fds, as user nobody."""
    rc, _, err = qh.run(setpriv(CAPS) + [
        qh.qhtrace, "attach", "-q", "--heap", "-o", str(nobody_dir / "r.json"), "--",
        qh.fx("heapleak_fp")])
    assert rc == 0, err
    report = qh.load_report(nobody_dir / "r.json")
    assert report["events"]["lost"] == 0
    assert report["leaks"]["heap"], "no heap leak found without root"
    assert all(p["fds"] is not None for p in report["processes"])


@pytest.mark.parametrize("missing", ["bpf", "perfmon", "dac_read_search", "sys_admin"])
def test_unprivileged_missing_capability_named(qh, nobody_dir, missing):
    """The preflight names what is missing and nothing starts (it accepted too little)."""
    caps = ",".join(c for c in CAPS.split(",") if c != "+" + missing)
    marker = nobody_dir / "ran"
    rc, _, err = qh.run(setpriv(caps) + [qh.qhtrace, "attach", "--", "/bin/touch", marker])
    assert rc == 1, err
    assert f"missing: CAP_{missing.upper()} -- run it with sudo" in err
    assert not marker.exists()


def test_fds_of_unreadable_process(qh, tmp_path):
    """Defect 12: `fds -p` with every fd link refused (EACCES) showed an empty table, exit 0."""
    target = qh.popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--",
                       qh.fx("idle"), "30"])
    assert qh.wait_for(lambda: qh.proc_comm(target.pid) == "idle", timeout=10)
    # root without CAP_SYS_PTRACE may list /proc/PID/fd but not read another user's links
    rc, out, err = qh.run(["setpriv", "--bounding-set=-sys_ptrace", "--inh-caps=-sys_ptrace",
                           "--", qh.qhtrace, "fds", "-p", str(target.pid), "--duration", "1"])
    assert rc == 1, err
    assert f"pid {target.pid}: 3 of its fds could not be read: Permission denied " \
           "(reading another user's fds needs CAP_SYS_PTRACE)" in err, err

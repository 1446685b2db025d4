# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""End-to-end: fds, sockets and threads of traced processes, counted exactly.

Each fdleak scenario leaves a child that outlives the command: what it holds at the end of
`qhtrace attach` is reported. Run: /usr/bin/python3 -m pytest tests/e2e/test_fds.py
"""

import os
import subprocess
from pathlib import Path

import pytest

TIMEOUT = 60


def survivor_report(qh, tmp_path, args, opts=("-q",)):
    """Run `qhtrace attach -- fdleak ARGS`; (report, the survivor's process entry)."""
    out = tmp_path / "report.json"
    # the survivor keeps its stdout: a file, not a pipe a reader would wait on
    with open(tmp_path / "stdout", "w") as so, open(tmp_path / "stderr", "w") as se:
        p = subprocess.Popen(qh.attach_argv([qh.fx("fdleak"), *args], out, opts),
                             stdin=subprocess.DEVNULL, stdout=so, stderr=se,
                             start_new_session=True)
        try:
            rc = p.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            p.kill()
            pytest.fail("qhtrace attach did not finish")
    pid = int((tmp_path / "stdout").read_text().split()[0])
    qh.adopt(pid)
    err = (tmp_path / "stderr").read_text()
    assert rc == 0, err
    report = qh.load_report(out)
    assert report is not None, err
    (proc,) = [p for p in report["processes"] if p["pid"] == pid]
    assert proc["state"] == "running", proc
    assert report["events"]["lost"] == 0, report["events"]
    return report, proc


def leaks_of(report, pid, key="fds"):
    return [l for l in report["leaks"][key] if l["pid"] == pid]


def fd_probes_reported(probes):
    """What run.probes.fds must say for --fd-probes PROBES: auto takes fentry where the kernel
    allows it; the kernel matrix (tools/vmrun.sh sets QH_VM_KERNEL) boots Debian's kernels,
    which do; this machine refuses it."""
    if probes == "auto":
        return ("fentry",) if os.environ.get("QH_VM_KERNEL") else ("fentry", "tracepoint")
    return ({"syscalls": "tracepoint", "dispatch": "tp_btf/sys_exit"}[probes],)


@pytest.mark.parametrize("probes", ["auto", "syscalls", "dispatch"])
def test_files_of_one_path(qh, tmp_path, probes):
    """A survivor holding 7 fds of one path: one finding, count 7, opened by openat; the same
    through fexit programs (auto, where the kernel allows fentry), a tracepoint per syscall and
    the sys_exit dispatch."""
    report, p = survivor_report(qh, tmp_path, ["files", "7", "/etc/hostname"],
                                opts=("-q", "--fd-probes", probes))
    assert report["run"]["probes"]["fds"] in fd_probes_reported(probes), report["run"]
    (l,) = leaks_of(report, p["pid"])
    assert (l["kind"], l["target"], l["count"], l["reason"], l["site"]) == \
        ("file", "/etc/hostname", 7, "open_at_end", "openat"), l
    fds = p["fds"]
    # stdin, stdout, stderr inherited (not seen opened) and the 7
    assert fds["open_at_end"] == 10 and fds["not_seen_opened"] == 3, fds
    assert fds["by_kind"] == {"file": 10}, fds
    assert leaks_of(report, p["pid"], "sockets") == []


def test_pipes(qh, tmp_path):
    """5 pipes: 10 fds of kind pipe."""
    report, p = survivor_report(qh, tmp_path, ["pipes", "5"])
    (l,) = leaks_of(report, p["pid"])
    assert (l["kind"], l["count"], l["site"]) == ("pipe", 10, "pipe2"), l
    assert p["fds"]["by_kind"]["pipe"] == 10, p["fds"]


def test_tcp_close_wait_and_listener(qh, tmp_path):
    """4 accepted connections whose peers closed sit in CLOSE_WAIT, and the listener is left
    open: both are socket findings; the TCP states were followed by inet_sock_set_state."""
    report, p = survivor_report(qh, tmp_path, ["tcp", "4"])
    socks = {l["state"]: l for l in leaks_of(report, p["pid"], "sockets")}
    assert set(socks) == {"CLOSE_WAIT", "LISTEN"}, socks
    cw, ls = socks["CLOSE_WAIT"], socks["LISTEN"]
    assert cw["count"] == 4 and cw["site"] == "accept", cw
    port = ls["target"].rsplit(":", 1)[1]
    assert cw["target"] == f"tcp 127.0.0.1:{port} <- *", cw
    assert ls["count"] == 1 and ls["target"].startswith("tcp listen 127.0.0.1:"), ls
    tcp = p["fds"]["tcp"]
    assert tcp == {"established": 0, "close_wait": 4, "listen": 1, "close_wait_peak": 4}, tcp
    assert p["fds"]["by_kind"]["socket"] == 5, p["fds"]
    assert leaks_of(report, p["pid"]) == []


def test_scm_rights_received(qh, tmp_path):
    """6 fds received over SCM_RIGHTS: no syscall the fd probes see made them, /proc does:
    they are reconciled (not seen opened), not flagged as the receiver's leak."""
    report, p = survivor_report(qh, tmp_path, ["scm", "6"])
    assert p["fds"]["open_at_end"] == 9 and p["fds"]["not_seen_opened"] == 9, p["fds"]
    assert leaks_of(report, p["pid"]) == []


@pytest.mark.parametrize("how", ["closerange", "cloexec"])
def test_bulk_closes_are_not_leaks(qh, tmp_path, how):
    """8 files closed by close_range(), or by exec with O_CLOEXEC: nothing left, and each
    close counted."""
    report, p = survivor_report(qh, tmp_path, [how, "8"])
    assert leaks_of(report, p["pid"]) == []
    fds = p["fds"]
    assert fds["open_at_end"] == 3 and fds["by_kind"] == {"file": 3}, fds
    assert fds["closed"] >= 8 and fds["opened"] >= 8, fds


def test_dup2_over_an_open_fd(qh, tmp_path):
    """dup2(a, b) with b open: b's file is closed, a's is held twice."""
    report, p = survivor_report(qh, tmp_path, ["dup2", "/etc/hostname", "/etc/passwd"])
    (l,) = leaks_of(report, p["pid"])
    assert (l["target"], l["count"]) == ("/etc/hostname", 2), l
    assert p["fds"]["open_at_end"] == 5, p["fds"]


def test_thread_pool(qh, tmp_path):
    """8 threads started, 6 joined: 9 at the peak (with main), 3 alive at the end."""
    report, p = survivor_report(qh, tmp_path, ["threads"])
    assert (p["threads_peak"], p["threads"]) == (9, 3), p


def test_growth_over_checks(qh, tmp_path):
    """One more fd of /dev/null every 50 ms for 3.5 s, checked every second: a growing group,
    flagged while the process ran; and the 70 it still held at its exit, a finding of its own
    (open_at_exit)."""
    rc, report, err = qh.run_attach([qh.fx("fdleak"), "drip", "70", "50"],
                                    tmp_path / "r.json", opts=("-q", "--check-interval", "1"))
    assert rc == 0, err
    (p,) = report["processes"]
    (l,) = [l for l in leaks_of(report, p["pid"]) if l["reason"] == "growing"]
    (e,) = [l for l in leaks_of(report, p["pid"]) if l["reason"] == "open_at_exit"]
    assert (e["target"], e["count"], e["site"]) == ("/dev/null", 70, "openat"), e
    assert (l["kind"], l["target"], l["reason"]) == ("file", "/dev/null", "growing"), l
    # checks at about 1, 2, 3 s see ~20, ~40, ~60 of the 70 (one check may be late)
    assert l["growing_checks"] >= 2 and 30 <= l["count"] - l["baseline"] <= 70, l
    assert 10 <= l["growth_per_s"] <= 25, l
    fds = p["fds"]
    assert fds["closed_by_exit"] and fds["open_at_end"] == 73, fds


def test_no_fds_option(qh, tmp_path):
    """--no-fds: the fd probes are not loaded; the report says unknown, not zero."""
    rc, report, err = qh.run_attach([qh.fx("fdleak"), "drip", "3", "1"], tmp_path / "r.json",
                                    opts=("-q", "--no-fds"))
    assert rc == 0, err
    (p,) = report["processes"]
    assert p["fds"] is None and "fds" not in report.get("leaks", {}), report


def test_fds_command(qh, tmp_path):
    """qhtrace fds -p PID: its table now on stdout, and what it opened while watched."""
    # 20 s: it must outlive qhtrace's start, which takes seconds in the kernel matrix's
    # emulated guests (attaching fexit programs patches kernel text, slow under TCG)
    drip = qh.popen([qh.fx("fdleak"), "drip", "400", "50"])
    out = tmp_path / "fds.json"
    rc, stdout, err = qh.run([qh.qhtrace, "fds", "-p", str(drip.pid), "--duration", "1",
                              "-o", str(out)])
    assert rc == 0, err
    assert "/dev/null" in stdout and stdout.splitlines()[0].split()[:2] == ["FD", "KIND"]
    # the dozens of /dev/null fds it opened in a row are one row, with their count
    rows = [l for l in stdout.splitlines()[1:] if l.split()[1:2] == ["file"]]
    run = [l for l in rows if l.endswith(" fds)") and "/dev/null" in l]
    assert run, stdout
    first, last = map(int, run[0].split()[0].split("-"))
    assert int(run[0].rsplit("(", 1)[1].split()[0]) == last - first + 1 >= 20, run
    assert len(stdout.splitlines()) < 10, stdout
    report = qh.load_report(out)
    assert report["run"]["mode"] == "fds"
    (l,) = leaks_of(report, drip.pid)
    # about 20 opened in the second watched; those from before are not its findings
    assert l["reason"] == "open_at_end" and 10 <= l["count"] <= 25, l
    (p,) = [p for p in report["processes"] if p["pid"] == drip.pid]
    assert p["fds"]["not_seen_opened"] >= 3, p["fds"]


def test_fds_command_bad_pid(qh):
    rc, _, err = qh.run([qh.qhtrace, "fds", "-p", "999999999"])
    assert rc == 2 and "pid" in err, err


def source_line(text):
    """The line number of the one line of the fdleak source that contains text."""
    src = (Path(__file__).resolve().parents[1] / "fixtures" / "fdleak.c").read_text()
    (n,) = [i + 1 for i, line in enumerate(src.splitlines()) if text in line]
    return n


@pytest.mark.parametrize("args,syscall,func,text", [
    (["files", "3", "/etc/hostname"], "openat", "files", "if (open(path, O_RDONLY) < 0)"),
    (["pipes", "2"], "pipe2", "main", "if (pipe(p))"),
])
def test_fd_stacks_name_the_opener(qh, tmp_path, args, syscall, func, text):
    """--fd-stacks: the finding names the function and line that called the C library's
    wrapper (open64 keeps a frame of its own and no frame pointer; pipe keeps none)."""
    report, p = survivor_report(qh, tmp_path, args, opts=("-q", "--fd-stacks"))
    (l,) = leaks_of(report, p["pid"])
    assert l["site"] == f"{syscall} in {func} (fdleak.c:{source_line(text)})", l


def test_gate_on_fds(qh, tmp_path):
    """--fail-on fds: a survivor holding fds it opened fails the run with the gate's code (3)
    though the command passed; JUnit carries the finding."""
    import xml.etree.ElementTree as ET
    junit = tmp_path / "j.xml"
    out = tmp_path / "report.json"
    with open(tmp_path / "stdout", "w") as so, open(tmp_path / "stderr", "w") as se:
        rc = subprocess.run(qh.attach_argv([qh.fx("fdleak"), "files", "4", "/etc/hostname"],
                                           out, ("-q", "--fail-on", "fds", "--junit",
                                                 str(junit))),
                            stdin=subprocess.DEVNULL, stdout=so, stderr=se,
                            timeout=TIMEOUT).returncode
    qh.adopt(int((tmp_path / "stdout").read_text().split()[0]))
    assert rc == 3, (tmp_path / "stderr").read_text()
    report = qh.load_report(out)
    assert report["verdict"]["pass"] is False, report["verdict"]
    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}
    failure = cases["fds"].find("failure")
    assert failure is not None and "/etc/hostname" in failure.text, ET.tostring(cases["fds"])


def exit_run(qh, tmp_path, scenario, n, path, opts=("-q",), **kwargs):
    """`qhtrace attach OPTS -- fdleak SCENARIO N PATH` (no child: the process exits at once);
    (rc, report, the listener's port, stderr)."""
    out = tmp_path / "report.json"
    rc, stdout, err = qh.run(qh.attach_argv([qh.fx("fdleak"), scenario, str(n), path], out,
                                            opts), **kwargs)
    report = qh.load_report(out)
    assert report is not None, err
    assert report["events"]["lost"] == 0, report["events"]
    return rc, report, int(stdout.split()[0]), err


def at_exit(report, key="fds"):
    return sorted((l for l in report["leaks"][key] if l["reason"] == "open_at_exit"),
                  key=lambda l: l["target"])


def test_open_at_exit_gate(qh, tmp_path):
    """A program that opens a file 40 times, a socket, a listener and a pipe, closes none of
    them and exits 0 at once: each group is an open_at_exit finding with its exact count, and
    --fail-on fds fails the run with the gate's code (3). Its stdin, reopened onto /dev/null
    while traced, is a standard stream: never a finding."""
    import xml.etree.ElementTree as ET
    junit = tmp_path / "j.xml"
    rc, report, port, err = exit_run(qh, tmp_path, "exit", 40, "/etc/hostname",
                                     opts=("-q", "--fail-on", "fds", "--junit", str(junit)))
    assert rc == 3, err
    (p,) = report["processes"]
    assert p["exit_code"] == 0 and p["state"] != "running", p
    got = [(l["kind"], l["target"], l["count"], l["site"], l["incomplete"])
           for l in at_exit(report)]
    assert got == [("file", "/etc/hostname", 40, "openat", False),
                   ("pipe", "pipe", 2, "pipe2", False),
                   ("socket", "socket", 1, "socket", False)], got
    (ls,) = at_exit(report, "sockets")
    assert (ls["target"], ls["state"], ls["count"], ls["site"]) == \
        (f"tcp listen 127.0.0.1:{port}", "LISTEN", 1, "socket"), ls
    assert all(l["pid"] == p["pid"] for l in report["leaks"]["fds"]), report["leaks"]
    # 44 opened and held (stdin's /dev/null not among them); 0-2 and the rest were closed
    fds = p["fds"]
    assert (fds["held_at_exit"], fds["held_at_exit_unreported"]) == (44, 0), fds
    assert report["verdict"]["pass"] is False, report["verdict"]
    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}
    failure = cases["fds"].find("failure")
    assert failure is not None, ET.tostring(cases["fds"])
    assert "40 file fds /etc/hostname" in failure.text and "open_at_exit" in failure.text, \
        failure.text


def test_open_at_exit_clean_and_inherited(qh, tmp_path):
    """The same program closing everything before it exits: no finding, and --fail-on fds
    passes. An fd it inherited (open in qhtrace's caller) and never closed is not its doing."""
    with open("/etc/passwd") as inherited:
        rc, report, _, err = exit_run(qh, tmp_path, "exitclean", 40, "/etc/hostname",
                                      opts=("-q", "--fail-on", "fds"),
                                      pass_fds=(inherited.fileno(),))
    assert rc == 0, err
    assert report["leaks"]["fds"] == [] and report["leaks"]["sockets"] == [], report["leaks"]
    (p,) = report["processes"]
    assert p["fds"]["held_at_exit"] == 0, p["fds"]
    # the inherited fd was still open at exit: counted, not flagged
    assert p["fds"]["open_at_end"] >= 4 and p["fds"]["closed_by_exit"], p["fds"]


def test_open_at_exit_fd_stacks(qh, tmp_path):
    """--fd-stacks: an exited process's findings name the function and line that opened them,
    from the program's text as the kernel saw it at exec (/proc has nothing of it by then)."""
    rc, report, _, err = exit_run(qh, tmp_path, "exit", 3, "/etc/hostname",
                                  opts=("-q", "--fd-stacks"))
    assert rc == 0, err
    sites = {l["target"]: l["site"] for l in at_exit(report)}
    line = source_line("if ((fds[k++] = open(path, O_RDONLY)) < 0)")
    assert sites["/etc/hostname"] == f"openat in exit_fds (fdleak.c:{line})", sites
    assert sites["pipe"] == f"pipe2 in exit_fds (fdleak.c:{source_line('if (pipe(fds + k))')})"


def test_open_at_exit_paths(qh, tmp_path):
    """The kernel rebuilds the path across mounts as /proc would have named it: a file under
    /proc (its own mount), and a file unlinked before the exit ("(deleted)")."""
    gone = tmp_path / "gone.txt"
    gone.write_text("x")
    script = (f"exec 3</proc/version 4<{gone} 5<{gone}; rm {gone}; exit 0")
    rc, report, err = qh.run_attach(["/bin/sh", "-c", script], tmp_path / "r.json")
    assert rc == 0, err
    got = [(l["target"], l["count"]) for l in at_exit(report)]
    assert sorted(got) == sorted([(f"{gone} (deleted)", 2), ("/proc/version", 1)]), got

# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""`qhtrace monitor --heap-match`: the heap of matching processes only. Copies of the heapwait
fixture under names unique to this run: one matches and runs as a CI job (its blocks are in the
job's report), one matches and is refused by --heap-max-roots 1 while the first runs, one
matches later with no job (a report of its own in the spool), and a bystander that allocates
the same way matches nothing: no heap findings, and not one probe attached for it (the
monitor's BPF links are counted before and while it runs).
"""
import glob
import json
import os
import shutil
import signal
import subprocess

from conftest import TIME_SCALE
from test_monitor import wait_line

COUNT, SIZE = 10, 1000


def bpf_links(pid):
    """The BPF links the process holds (each heap-traced process has two of its own)."""
    n = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            n += os.readlink(f"/proc/{pid}/fd/{fd}") == "anon_inode:bpf_link"
        except OSError:
            pass
    return n


def status(qh, sock):
    rc, out, err = qh.run([qh.qhtrace, "status", "--socket", str(sock), "--json"], timeout=30)
    assert rc == 0, err
    return json.loads(out)


def start(qh, path, env=None):
    """A heapwait copy that waits for its byte on stdin."""
    p = subprocess.Popen([str(path), str(COUNT), str(SIZE)], stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         env=env, start_new_session=True)
    qh.adopt(p.pid)
    return p


def go(p):
    p.stdin.write(b"x")
    p.stdin.close()
    assert p.wait(timeout=60 * TIME_SCALE) == 0


def leak_site_findings(report, pid):
    return [l for l in report["leaks"]["heap"]
            if l["pid"] == pid and l["stack"] and l["stack"][0]["symbol"] == "leak_site"]


def test_monitor_heap_match(qh, tmp_path):
    tok = f"hm{os.getpid() % 100000}"
    names = {k: tmp_path / f"{tok}{k}" for k in "abcz"}
    for path in names.values():
        shutil.copy(qh.fx("heapwait"), path)
    spool, sock = tmp_path / "spool", tmp_path / "mon.sock"
    mon = qh.popen([qh.qhtrace, "monitor", "--heap-match", f"comm:{tok}[abc]",
                    "--heap-max-roots", "1", "--spool", str(spool), "--socket", str(sock),
                    "--metrics-addr", "", "--job-grace", "0.5"])
    try:
        wait_line(mon.stderr, "processes running", 60 * TIME_SCALE)
        links0 = bpf_links(mon.pid)
        bystander = start(qh, names["z"])
        env = dict(os.environ, GITHUB_RUN_ID=f"{tok}run", GITHUB_JOB="heap")
        a = start(qh, names["a"], env)
        # a is traced once its exec record is read: the bystander's came before it
        assert qh.wait_for(lambda: status(qh, sock)["heap"]["traced"] == 1, 60), \
            status(qh, sock)
        assert bpf_links(mon.pid) == links0 + 2, "the bystander got probes, or a got none"
        b = start(qh, names["b"])
        assert qh.wait_for(lambda: status(qh, sock)["heap"]["refused"] == 1, 60), \
            status(qh, sock)
        st = status(qh, sock)["heap"]
        assert (st["traced"], st["max"], st["traced_total"]) == (1, 1, 1), st
        assert bpf_links(mon.pid) == links0 + 2
        for p in (bystander, b, a):
            go(p)
        # a's job ends, its report holds a's blocks; then a slot is free for c (no job)
        job = qh.wait_for(lambda: glob.glob(str(spool / f"job-github-{tok}run_heap-*.json")),
                          60)
        assert job, "no job report"
        assert qh.wait_for(lambda: status(qh, sock)["heap"]["traced"] == 0, 60)
        c = start(qh, names["c"])
        assert qh.wait_for(lambda: status(qh, sock)["heap"]["traced"] == 1, 60)
        go(c)
        own = qh.wait_for(lambda: glob.glob(str(spool / f"heap-{c.pid}-*.json")), 60)
        assert own, "no heap report of c"
    finally:
        mon.send_signal(signal.SIGTERM)
        rc, _, err = qh.wait(mon)
    assert rc == 0, err

    with open(job[0]) as f:
        r = json.load(f)
    assert r["run"]["probes"]["heap"] == "uprobe_multi(pid)"
    assert [p["pid"] for p in r["processes"]] == [a.pid]
    found = leak_site_findings(r, a.pid)
    # every block, with its size; the last one may still sit in a register or a stack slot at
    # the exit (still reachable, as valgrind would say of this program too)
    assert sum(l["count"] for l in found) == COUNT, found
    assert sum(l["bytes"] for l in found) == COUNT * SIZE, found
    assert {l["kind"] for l in found} <= {"definitely_lost", "still_reachable"}, found
    assert sum(l["count"] for l in found if l["kind"] == "definitely_lost") >= COUNT - 1
    assert all(l["stack"][0]["file"].endswith("heapwait.c") for l in found), found
    assert not [l for l in r["leaks"]["heap"] if l["pid"] != a.pid]

    with open(own[0]) as f:
        r = json.load(f)
    assert r["run"]["mode"] == "monitor-heap"
    assert [p["pid"] for p in r["processes"]] == [c.pid]
    found = leak_site_findings(r, c.pid)
    assert sum(l["bytes"] for l in found) == COUNT * SIZE, found
    assert sum(l["count"] for l in found) == COUNT, found

    # neither the bystander nor the refused b left heap findings anywhere
    for path in glob.glob(str(spool / "*.json")):
        with open(path) as f:
            r = json.load(f)
        pids = {l["pid"] for l in r.get("leaks", {}).get("heap", [])}
        assert not pids & {bystander.pid, b.pid}, path
    assert not glob.glob(str(spool / f"heap-{bystander.pid}-*.json"))
    assert not glob.glob(str(spool / f"heap-{b.pid}-*.json"))
    assert "--heap-max-roots" in err

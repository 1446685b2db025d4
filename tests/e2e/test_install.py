# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""`make install` and the monitor's systemd unit (README, "Install and the systemd unit").

make install into a DESTDIR: every file where Debian and systemd look for it, with the unit's
paths set to PREFIX; `systemd-analyze verify` on the installed unit with no warning, and
`systemd-analyze security` keeping its exposure at "OK"; make uninstall; and the unit's
capability set, sandbox flags and tracefs as systemd gives them are enough for qhtrace to trace
(setpriv and unshare stand in for systemd, which does not run as pid 1 here).

Under CI=true a missing systemd-analyze is a failure, never a skip.
"""

import os
import re
import shutil
import stat
import subprocess

import pytest

from conftest import REPO, in_ci, qhtrace_path

UNIT = REPO / "tools" / "qhtrace-monitor.service"
# the highest exposure `systemd-analyze security` may give the unit (its "OK" band is < 5.0)
MAX_EXPOSURE = 5.0


def systemd_analyze():
    path = shutil.which("systemd-analyze")
    if not path:
        msg = "systemd-analyze not found (Debian's systemd package; tools/install-deps.sh --test)"
        if in_ci():
            pytest.fail(msg + "; CI=true: a missing tool is a failure", pytrace=False)
        pytest.skip(msg)
    return path


def make_install(destdir, *args, target="install"):
    """make TARGET into @destdir, with the qhtrace under test as it is (-o: never rebuilt)."""
    output = qhtrace_path().parent
    argv = ["make", "-s", "--no-print-directory", "-o", f"{output}/qhtrace", target,
            f"OUTPUT={output}", f"DESTDIR={destdir}", *args]
    p = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    return p


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def verify_copy(unit, destdir, tmp_path):
    """The installed unit with ExecStart pointing into DESTDIR.

    systemd-analyze verify checks that ExecStart's program exists and is executable on this
    machine; a DESTDIR install is, by definition, not at the path the unit names yet. The copy
    differs from the installed unit in that path alone (asserted), under the same file name
    (verify derives the unit's name from it).
    """
    text = unit.read_text()
    binary = "/usr/local/bin/qhtrace"
    assert f"ExecStart={binary} " in text
    d = tmp_path / "verify"
    d.mkdir()
    copy = d / unit.name
    copy.write_text(text.replace(f"ExecStart={binary} ", f"ExecStart={destdir}{binary} "))
    return copy


def test_make_install_destdir(tmp_path):
    """The files, their modes, the unit's paths; verify passes with no warning at all."""
    analyze = systemd_analyze()
    dest = tmp_path / "root"
    make_install(dest)
    binary = dest / "usr/local/bin/qhtrace"
    unit = dest / "usr/local/lib/systemd/system/qhtrace-monitor.service"
    settings = dest / "etc/qhtrace/monitor.json"
    plugin = next((dest / "usr/local/lib").glob("python3.*/dist-packages/qhtrace_pytest.py"))
    assert mode(binary) == 0o755 and mode(unit) == 0o644 and mode(settings) == 0o644
    assert binary.read_bytes() == qhtrace_path().read_bytes()
    assert plugin.read_text() == (REPO / "user/python/qhtrace_pytest.py").read_text()
    assert (plugin.parent / "qhtrace_pytest-0.1.0.dist-info/entry_points.txt").read_text() == \
        "[pytest11]\nqhtrace = qhtrace_pytest\n"
    # the settings file the unit names: empty, every default (qhtrace accepts it)
    assert settings.read_text() == "{}\n"
    p = subprocess.run([str(binary), "config", "--check", str(settings)], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    if (REPO / "tools/qhtrace-alerts.yml").exists():
        assert (dest / "usr/local/share/qhtrace/qhtrace-alerts.yml").read_bytes() == \
            (REPO / "tools/qhtrace-alerts.yml").read_bytes()
    # for the default PREFIX the installed unit is the one in tools/, byte for byte
    assert unit.read_text() == UNIT.read_text()
    text = unit.read_text()
    assert re.search(r"^Type=notify$", text, re.M)
    assert re.search(r"^ExecStart=/usr/local/bin/qhtrace monitor --config "
                     r"/etc/qhtrace/monitor.json \$QHTRACE_MONITOR_ARGS$", text, re.M)
    assert re.search(r"^EnvironmentFile=-/etc/default/qhtrace$", text, re.M)

    copy = verify_copy(unit, dest, tmp_path)
    p = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0 and p.stdout == "" and p.stderr == "", \
        f"systemd-analyze verify: rc {p.returncode}\n{p.stdout}{p.stderr}"

    # a sandbox that weakens (an option dropped, a capability added) shows in the exposure
    p = subprocess.run([analyze, "security", "--offline=true", "--no-pager", str(copy)],
                       capture_output=True, text=True, timeout=120)
    m = re.search(r"Overall exposure level for qhtrace-monitor\.service: ([0-9.]+)", p.stdout)
    assert m, p.stdout + p.stderr
    assert float(m.group(1)) <= MAX_EXPOSURE, p.stdout


def test_verify_catches_a_bad_unit(tmp_path):
    """The check above can fail: an unknown key and a missing ExecStart binary are reported."""
    analyze = systemd_analyze()
    bad = tmp_path / "qhtrace-monitor.service"
    bad.write_text(UNIT.read_text().replace("PrivateTmp=yes", "PrivateTmp=yes\nPrivateTemp=yes"))
    p = subprocess.run([analyze, "verify", str(bad)], capture_output=True, text=True,
                       timeout=120)
    assert "Unknown key 'PrivateTemp'" in p.stderr
    assert "/usr/local/bin/qhtrace" in p.stderr or shutil.which("/usr/local/bin/qhtrace")


def test_install_prefix_usr_and_settings_kept(tmp_path):
    """PREFIX=/usr: Debian's unit directory; an existing settings file is never overwritten."""
    dest = tmp_path / "root"
    (dest / "etc/qhtrace").mkdir(parents=True)
    (dest / "etc/qhtrace/monitor.json").write_text('{"cleanup": {"auto_cleanup": true}}\n')
    make_install(dest, "PREFIX=/usr")
    unit = dest / "lib/systemd/system/qhtrace-monitor.service"
    assert (dest / "usr/bin/qhtrace").is_file()
    assert (dest / "usr/lib/python3/dist-packages/qhtrace_pytest.py").is_file()
    assert re.search(r"^ExecStart=/usr/bin/qhtrace monitor --config /etc/qhtrace/monitor.json ",
                     unit.read_text(), re.M)
    assert (dest / "etc/qhtrace/monitor.json").read_text() == \
        '{"cleanup": {"auto_cleanup": true}}\n'


def test_uninstall(tmp_path):
    """What install put there is gone, but the settings file (the administrator's)."""
    dest = tmp_path / "root"
    make_install(dest)
    make_install(dest, target="uninstall")
    left = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    assert left == ["etc/qhtrace/monitor.json"]


def unit_values(key):
    return [v for line in UNIT.read_text().splitlines()
            if line.startswith(key + "=") for v in line.split("=", 1)[1].split()]


def test_unit_capability_set_is_enough(qh, tmp_path):
    """qhtrace traces with the unit's capabilities alone, NoNewPrivileges, tracefs mounted.

    As systemd would run it: root whose bounding set is CapabilityBoundingSet (so its
    effective set is that), no_new_privs, in a mount namespace where tracefs is mounted (the
    unit's Wants=sys-kernel-tracing.mount; these machines do not mount it at boot). Not
    LimitMEMLOCK=infinity: these machines fix RLIMIT_MEMLOCK (even root cannot raise it), and
    a kernel from 5.11 on charges BPF maps to the memory cgroup instead. A capability missing from the unit shows here as the preflight's refusal or a
    probe that fails to attach.
    """
    caps = unit_values("CapabilityBoundingSet")
    assert "CAP_SYS_ADMIN" not in caps and "CAP_BPF" in caps
    assert unit_values("NoNewPrivileges") == ["yes"]
    bounding = "-all," + ",".join("+" + c[len("CAP_"):].lower() for c in caps)
    report = tmp_path / "r.json"
    script = ("mountpoint -q /sys/kernel/tracing || "
              "mount -t tracefs tracefs /sys/kernel/tracing || exit 99; exec \"$@\"")
    argv = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, "sh",
            "setpriv", f"--bounding-set={bounding}", "--no-new-privs",
            "--", qh.qhtrace, "attach", "-q", "-o", str(report), "--", qh.fx("tree")]
    rc, _, err = qh.run(argv)
    assert rc == 0, err
    assert "missing:" not in err and "failed to attach" not in err, err
    r = qh.load_report(report)
    assert r["events"]["lost"] == 0
    assert len(r["processes"]) >= 2, r["processes"]

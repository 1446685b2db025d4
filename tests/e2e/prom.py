# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""A real Prometheus for the end-to-end tests: Debian's /usr/bin/prometheus (the `prometheus`
package, tools/install-deps.sh --test) on 127.0.0.1, scraping one target every second.

    with prometheus("127.0.0.1:9433") as prom:
        prom.wait_for_value('qhtrace_zombies{group="git"}', 37)
        assert prom.query('sum(qhtrace_processes)') == [42.0]

Its configuration, data and log live in a temporary directory; the server is stopped and the
directory removed when the block ends, whatever happened in it. Its own scrape job is named
"qhtrace" (the job the alert rules of tools/qhtrace-alerts.yml expect).

Needs no root. Under CI=true a missing prometheus is a failure (pytest.fail), elsewhere a skip.
"""

import contextlib
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"
# bounds of hangs, never of speed (scaled as conftest.py scales its waits)
TIME_SCALE = max(1.0, float(os.environ.get("QH_TIME_SCALE") or 1))
START_TIMEOUT = 60


def require(path):
    """The path of a Debian tool the test needs: a skip when missing, a failure in CI."""
    if os.access(path, os.X_OK):
        return path
    msg = f"{path} not found: install Debian's prometheus package (tools/install-deps.sh --test)"
    if os.environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail(msg + "; CI=true, and in CI a missing test tool is a failure", pytrace=False)
    pytest.skip(msg)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Prometheus:
    """A running server: its address and its HTTP API."""

    def __init__(self, url, log, pid, directory):
        self.url = url
        self.log = log
        self.pid = pid
        self.dir = directory  # config, data, log: removed at the end

    def api(self, path, **params):
        """GET /api/v1/PATH: its "data", or AssertionError with Prometheus's error."""
        url = f"{self.url}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=30) as r:
                body = json.load(r)
        except urllib.error.HTTPError as e:
            body = json.load(e)
        if body.get("status") != "success":
            raise AssertionError(f"prometheus: {path} {params}: {body.get('error')}")
        return body["data"]

    def query_series(self, expr):
        """An instant query: [(labels, value)], sorted by labels."""
        data = self.api("query", query=expr)
        if data["resultType"] == "scalar":
            return [({}, float(data["result"][1]))]
        if data["resultType"] != "vector":
            raise AssertionError(f"{expr}: a {data['resultType']}, not a vector")
        rows = [(r["metric"], float(r["value"][1])) for r in data["result"]]
        return sorted(rows, key=lambda r: sorted(r[0].items()))

    def query(self, expr):
        """An instant query: its values (floats), sorted by labels; [] when nothing matches."""
        return [v for _, v in self.query_series(expr)]

    def wait_for_value(self, expr, value, timeout=30):
        """Wait until expr returns exactly one series whose value is value (within 1e-9
        relative); AssertionError with the last result after timeout (scaled) seconds."""
        deadline = time.monotonic() + timeout * TIME_SCALE
        last = None
        while True:
            last = self.query(expr)
            if len(last) == 1 and math.isclose(last[0], value, rel_tol=1e-9, abs_tol=0):
                return last[0]
            if time.monotonic() > deadline:
                raise AssertionError(f"{expr}: {last} after {timeout} s, expected [{value}]; "
                                     f"targets: {self.targets()}")
            time.sleep(0.2)

    def targets(self):
        """[(scrape url, health, last error)] of the active targets."""
        return [(t["scrapeUrl"], t["health"], t["lastError"])
                for t in self.api("targets")["activeTargets"]]


def _config(target, rule_files):
    lines = ["global:", "  scrape_interval: 1s", "  scrape_timeout: 1s",
             "  evaluation_interval: 1s"]
    if rule_files:
        lines += ["rule_files:"] + [f"  - {json.dumps(str(Path(f).resolve()))}"
                                    for f in rule_files]
    lines += ["scrape_configs:", "  - job_name: qhtrace",
              f"    static_configs: [{{targets: [{json.dumps(target)}]}}]"]
    return "\n".join(lines) + "\n"


def _stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=30 * TIME_SCALE)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=30)


@contextlib.contextmanager
def prometheus(target, rule_files=()):
    """Start Prometheus scraping target ("HOST:PORT") every second, with rule_files loaded;
    yield it once /-/ready answers; stop it and remove its files at the end."""
    binary = require(PROMETHEUS)
    tmp = Path(tempfile.mkdtemp(prefix="qhtrace-prom-"))
    p = None
    try:
        cfg = tmp / "prometheus.yml"
        cfg.write_text(_config(target, rule_files))
        log_path = tmp / "prometheus.log"
        for attempt in range(3):
            port = free_port()
            with open(log_path, "w") as log:
                p = subprocess.Popen(
                    [binary, f"--config.file={cfg}", f"--storage.tsdb.path={tmp / 'data'}",
                     f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True, cwd=tmp)
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + START_TIMEOUT * TIME_SCALE
            while p.poll() is None and time.monotonic() < deadline:
                try:
                    with urllib.request.urlopen(url + "/-/ready", timeout=5) as r:
                        if r.status == 200:
                            break
                except (urllib.error.URLError, OSError):
                    pass
                time.sleep(0.1)
            if p.poll() is None and time.monotonic() < deadline:
                break
            log = log_path.read_text()
            _stop(p)
            # another process took the port between free_port() and the bind: try another
            if "address already in use" in log and attempt < 2:
                continue
            raise AssertionError(f"prometheus did not become ready:\n{log[-3000:]}")
        yield Prometheus(url, log_path, p.pid, tmp)
    finally:
        if p is not None:
            _stop(p)
        shutil.rmtree(tmp, ignore_errors=True)

# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""A suite with known faults, run under `qhtrace attach` by tests/e2e/test_pertest.py.

Clean tests stand between the faulty ones; each fault must be attributed to exactly its test:
  test_heap_leak     3 blocks of 100000 bytes malloc'd and never freed (held in a list)
  test_fd_leak       /etc/hostname opened and kept open (closed by the interpreter's exit)
  test_forgot_quit   a Selenium session (Debian's chromium and chromedriver) without quit():
                     the driver is kept in a module-level list, as the bug usually looks
  test_child_left    a child (sleep 60) started and left running
QH_SELENIUM=0 leaves the Selenium test out (skipped).
"""

import ctypes
import os
import subprocess

import pytest

HELD = []      # what the faulty tests keep alive on purpose
DRIVERS = []   # the forgotten driver
LIBC = ctypes.CDLL(None)
LIBC.malloc.restype = ctypes.c_void_p
LIBC.malloc.argtypes = [ctypes.c_size_t]
LIBC.free.argtypes = [ctypes.c_void_p]


def test_clean_first():
    p = LIBC.malloc(100000)
    LIBC.free(p)
    with open("/etc/hostname") as f:
        f.read()


def test_heap_leak():
    for _ in range(3):
        HELD.append(LIBC.malloc(100000))


def test_clean_after_heap():
    subprocess.run(["/bin/true"], check=True)


def test_fd_leak():
    HELD.append(open("/etc/hostname"))


def test_clean_after_fd():
    p = LIBC.malloc(100000)
    LIBC.free(p)


@pytest.mark.skipif(os.environ.get("QH_SELENIUM") == "0", reason="QH_SELENIUM=0")
def test_forgot_quit():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    # what a user picks: headless, no --no-sandbox (CMD runs as the user, not root)
    opts.add_argument("--headless=new")
    driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"),
                              options=opts)
    driver.get("data:text/html,<title>qhtrace</title>")
    assert driver.title == "qhtrace"
    DRIVERS.append(driver)  # no quit(): Selenium stops the service at interpreter exit


def test_clean_after_driver(request):
    try:
        qhtrace = request.getfixturevalue("qhtrace")  # the plugin's
    except pytest.FixtureLookupError:
        return  # run without the plugin
    if qhtrace.active:
        s = qhtrace.stats()
        assert s["ok"] is True
        assert "drivers_active" in s and "fds_open" in s


def test_child_left():
    HELD.append(subprocess.Popen(["sleep", "60"]))


def test_clean_last():
    subprocess.run(["/bin/true"], check=True)

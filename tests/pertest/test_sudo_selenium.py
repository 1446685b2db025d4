# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""A Selenium test as a user writes it, run through `sudo qhtrace attach` from a non-root user
by tests/e2e/test_pertest.py: it must run as that user, and Chrome must start without
--no-sandbox."""

import os

from selenium import webdriver
from selenium.webdriver.chrome.service import Service


def test_runs_as_the_user():
    assert os.geteuid() != 0
    assert os.environ["HOME"] == os.path.expanduser("~" + os.environ["USER"])
    assert os.environ.get("QHTRACE_SOCKET")


def test_page_title(qhtrace):
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    opts.add_argument("--headless=new")
    driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"),
                              options=opts)
    try:
        driver.get("data:text/html,<title>as a user</title>")
        assert driver.title == "as a user"
        assert qhtrace.stats()["drivers_active"] == 1
    finally:
        driver.quit()
    assert qhtrace.stats()["drivers_active"] == 0

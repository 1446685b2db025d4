# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""A Selenium session with Debian's chromium and chromedriver, run under `qhtrace attach`.

    /usr/bin/python3 webdriver_run.py quit|noquit|killdriver [HOLD_S]

It starts chromedriver (/usr/bin/chromedriver) and a headless chromium, loads a page and
checks its title, then:
  quit        driver.quit(), then exits 0: nothing may be left behind.
  noquit      exits at once through os._exit(0): no quit, no Service teardown, so
              chromedriver and the browser are still running when the command is over.
  killdriver  SIGKILLs chromedriver, sleeps HOLD_S seconds (default 2.5), then exits
              through os._exit(0): the browser tree outlives its driver.
Prints "driver PID" (chromedriver's pid) on stdout.
"""

import os
import signal
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service


def main():
    mode = sys.argv[1]
    hold = float(sys.argv[2]) if len(sys.argv) > 2 else 2.5
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--no-first-run", "--no-default-browser-check"):
        opts.add_argument(arg)
    service = Service(executable_path="/usr/bin/chromedriver")
    driver = webdriver.Chrome(service=service, options=opts)
    pid = driver.service.process.pid
    print(f"driver {pid}", flush=True)
    driver.get("data:text/html,<title>qhtrace</title><p>hello</p>")
    assert driver.title == "qhtrace", driver.title
    if mode == "quit":
        driver.quit()
        return 0
    if mode == "killdriver":
        os.kill(pid, signal.SIGKILL)
        time.sleep(hold)
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())

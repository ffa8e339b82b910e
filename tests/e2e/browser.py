"""A real, headless Chromium for the e2e suite, driven through its ChromeDriver (selenium).

The browser is the machine's: Debian's `chromium` and `chromium-driver` (`.ci/run` installs them in
CI), or any Chrome or Chromium with its matching driver, named by CHROME_BIN and CHROMEDRIVER. Without
one the browser tests are skipped and say what to install; in CI (CI=true) they fail instead, so a
missing browser cannot pass for a passing test.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
INSTALL = "apt-get install chromium chromium-driver (Debian), or set CHROME_BIN and CHROMEDRIVER"


@contextmanager
def headless_chromium() -> Iterator[webdriver.Chrome]:
    binary = os.environ.get("CHROME_BIN") or next(filter(None, map(shutil.which, BROWSERS)), None)
    driver = os.environ.get("CHROMEDRIVER") or shutil.which("chromedriver")
    if not (binary and driver):
        missing = "a Chrome or Chromium" if not binary else "ChromeDriver"
        message = f"the browser tests need {missing}: {INSTALL}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root, where Chromium's sandbox will not start
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,2000",
    ):
        options.add_argument(argument)
    browser = webdriver.Chrome(service=Service(driver), options=options)
    try:
        yield browser
    finally:
        browser.quit()

"""Headless Chromium from Debian, driven by its chromium-driver through selenium: one way to start it.

Every page and HTML report is judged by what the browser measures (boxes, directions, text), so
the browser tests share these flags: headless, no sandbox (CI runs as root), no GPU, no
/dev/shm (small in containers), and a fixed window so measured sizes do not depend on the machine.
"""

from __future__ import annotations

import contextlib
import pathlib
from collections.abc import Iterator
from typing import Any

BINARY = "/usr/bin/chromium"
DRIVER = "/usr/bin/chromedriver"


@contextlib.contextmanager
def chromium(*, size: str = "1280,1600", flags: tuple[str, ...] = (),
             downloads: pathlib.Path | None = None) -> Iterator[Any]:
    """A headless Chromium (a selenium driver), quit on exit; ``downloads`` receives downloaded files."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = BINARY
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 f"--window-size={size}", *flags):
        options.add_argument(flag)
    if downloads is not None:
        options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                                  "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    try:
        if downloads is not None:
            driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
        yield driver
    finally:
        driver.quit()


def measure(driver: Any, html: str, directory: pathlib.Path, script: str) -> list[dict[str, Any]]:
    """Load ``html`` from a file in ``directory`` and return what ``script`` measures in it."""
    page = directory / "page.html"
    page.write_text(html, encoding="utf-8")
    driver.get(page.as_uri())
    found: list[dict[str, Any]] = driver.execute_script(script)
    return found

"""The HTML report in a real browser: headless Chromium loads it, the DOM holds the Persian names
right to left, and a screenshot shows a drawn page (not blank)."""

from __future__ import annotations

import pathlib
import subprocess
import tempfile
import zlib
from collections.abc import Iterator

import pytest

from dctenant.clients import ledger_db
from dctenant.ops import reporting
from dctenant.render.reports import cells
from tests.unit.ops import reports_data

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars"]


@pytest.fixture
def page(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[pathlib.Path]:
    monkeypatch.chdir(reports_data.ROOT)
    ledger = ledger_db.open_ledger(str(tmp_path / "l.db"))
    reports_data.fill(ledger)
    report = reporting.build("usage", path="quotas", period=reporting.period("2026-10"), now=reports_data.NOW,
                             ledger=ledger)
    ledger.close()
    out = tmp_path / "usage.html"
    out.write_text(reporting.render(report, output="html", style=cells.Style(calendar="jalali", digits=True)),
                   encoding="utf-8")
    yield out


def _chromium(*args: str) -> subprocess.CompletedProcess[bytes]:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                              timeout=120, check=True)


def test_the_page_is_self_contained(page: pathlib.Path) -> None:
    html = page.read_text(encoding="utf-8")
    for forbidden in ("<script", "<link", "<img", "@import", "url(", "src=", "href="):
        assert forbidden not in html
    assert '<bdi class="fa" dir="rtl" lang="fa">بله</bdi>' in html
    assert "@media print" in html and "<svg" in html
    assert "۱۴۰۵/۰۸/۰۹" in html  # 2026-10-31, the period's last day, in Persian digits


def test_chromium_renders_the_dom(page: pathlib.Path) -> None:
    dom = _chromium("--dump-dom", page.as_uri()).stdout.decode("utf-8")
    assert "Usage report" in dom
    for name in ("بله", "روبیکا", "ایتا"):
        assert f'dir="rtl" lang="fa">{name}</bdi>' in dom
    assert dom.count("<svg") >= 1 and "<table>" in dom


def _png_size_and_colours(data: bytes) -> tuple[int, int, int]:
    """Width, height and a rough count of distinct byte values in the decoded image data."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    chunks, pos = b"", 8
    while pos < len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        if data[pos + 4:pos + 8] == b"IDAT":
            chunks += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    pixels = zlib.decompress(chunks)
    return width, height, len(set(pixels))


def test_chromium_screenshot_is_drawn(page: pathlib.Path, tmp_path: pathlib.Path) -> None:
    shot = tmp_path / "shot.png"
    _chromium(f"--screenshot={shot}", "--window-size=1280,1600", page.as_uri())
    data = shot.read_bytes()
    width, height, colours = _png_size_and_colours(data)
    assert (width, height) == (1280, 1600)
    # A blank page compresses to almost nothing and has a couple of byte values; text, tables and bars do not.
    assert len(data) > 20_000 and colours > 50

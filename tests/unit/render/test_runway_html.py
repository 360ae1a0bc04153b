"""The planning reports' HTML in headless Chromium: charts drawn with their sizes, no text over text,
Persian names right to left beside their bars, and Jalali dates as computed by hand.

Boxes are measured by the browser (``getBoundingClientRect``) with the fonts it really uses. The
forecast and its hand-computed day (2027-05-28 = 1406/03/07) are those of
tests/unit/ops/test_runway_reports.py; the reclaim figures come from its fake Prometheus.
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterator
from typing import Any

import pytest

from dctenant.clients import ledger_db
from dctenant.ops import runway_reporting
from dctenant.render.reports import cells, html_form
from tests import chromium
from tests.conftest import EXAMPLE
from tests.unit.ops import test_runway_reports as data
from tests.unit.ops.test_runway_reports import ledger  # noqa: F401  (the fixture)

MEASURE = """
const boxes = (el) => { const b = el.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; };
return Array.from(document.querySelectorAll('svg.plot')).map((svg) => ({
  kind: svg.classList.contains('runway') ? 'runway' : 'needs',
  title: svg.getAttribute('aria-label'), box: boxes(svg),
  texts: Array.from(svg.querySelectorAll('text')).map((t) => ({
    text: t.textContent, cls: t.getAttribute('class'), box: boxes(t), direction: getComputedStyle(t).direction,
    first: t.getNumberOfChars() ? t.getStartPositionOfChar(0).x : 0,
    last: t.getNumberOfChars() ? t.getStartPositionOfChar(t.getNumberOfChars() - 1).x : 0})),
  lines: Array.from(svg.querySelectorAll('polyline.trend, polyline.history, line.limit, polygon.band'))
    .map((l) => ({cls: l.getAttribute('class'), box: boxes(l)})),
  bars: Array.from(svg.querySelectorAll('rect.envelope')).map(boxes),
}));
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium.chromium() as driver:
        yield driver


def _measure(browser: Any, html: str, tmp_path: pathlib.Path) -> list[dict[str, Any]]:
    return chromium.measure(browser, html, tmp_path, MEASURE)


def _overlap(a: list[float], b: list[float]) -> bool:
    # Half a pixel of slack: anti-aliased edges may touch, glyphs may not cross.
    return a[0] < b[2] - 0.5 and b[0] < a[2] - 0.5 and a[1] < b[3] - 0.5 and b[1] < a[3] - 0.5


def _no_text_over_text(plot: dict[str, Any]) -> None:
    texts = plot["texts"]
    assert texts, plot["title"]
    left, top, right, bottom = plot["box"]
    for i, t in enumerate(texts):
        assert t["box"][0] >= left - 0.5 and t["box"][2] <= right + 0.5, (plot["title"], t)  # not cut off
        assert t["box"][1] >= top - 0.5 and t["box"][3] <= bottom + 0.5, (plot["title"], t)
        for other in texts[i + 1:]:
            assert not _overlap(t["box"], other["box"]), (plot["title"], t, other)


def test_runway_charts_in_chromium(browser: Any, tmp_path: pathlib.Path, ledger: str) -> None:  # noqa: F811
    with ledger_db.open_ledger(ledger) as opened:
        report = runway_reporting.build_forecast(path=str(EXAMPLE), now=data.NOW, ledger=opened, horizon_days=365,
                                                 url=None, config=None, history_days=90, calendar="jalali", zone=None)
    plots = _measure(browser, html_form.render(report, style=cells.Style(calendar="jalali")), tmp_path)
    runways = [p for p in plots if p["kind"] == "runway"]
    assert len(runways) == len(report.section("runway").rows) > 0
    for plot in runways:
        left, top, right, bottom = plot["box"]
        assert (right - left, bottom - top) == (760, 300)
        _no_text_over_text(plot)
    cpu = next(p for p in runways if p["title"].startswith("thr-ab · cpu · demand"))
    caption = next(t["text"] for t in cpu["texts"] if t["cls"] == "caption")
    assert caption == "reaches the limit on 1406/03/07; 80 % interval 1406/03/07 … 1406/03/07"
    drawn = {line["cls"] for line in cpu["lines"]}
    assert drawn == {"trend", "history", "limit", "band"}
    # The trend rises: its box is tall (not a flat line), and the limit's dashed line spans the plot.
    trend = next(line["box"] for line in cpu["lines"] if line["cls"] == "trend")
    assert trend[3] - trend[1] > 50
    # The x axis' first tick is the first day of history, 2026-10-28 = 1405/08/06 (Aban has 30 days from
    # 23 October: 1405/08/01 = 2026-10-23).
    ticks = [t["text"] for t in cpu["texts"] if t["cls"] == "tick date"]
    assert ticks[0] == "1405/08/06" and len(ticks) == 5


def test_reclaim_charts_in_chromium(browser: Any, tmp_path: pathlib.Path) -> None:
    report = data._reclaim(tmp_path)
    plots = _measure(browser, html_form.render(report, style=cells.Style(calendar="jalali", digits=True)),
                     tmp_path)
    needs = [p for p in plots if p["kind"] == "needs"]
    assert needs
    for plot in needs:
        assert plot["box"][2] - plot["box"][0] == 760
        _no_text_over_text(plot)
        labels = [t for t in plot["texts"] if t["cls"] == "label"]
        assert len(labels) == len(plot["bars"])
        for label, bar in zip(labels, plot["bars"], strict=True):
            assert label["box"][2] <= bar[0] + 0.5  # the name stays left of its bar
            if any("\u0600" <= ch <= "\u06ff" for ch in label["text"]):
                assert label["direction"] == "rtl" and (len(label["text"]) == 1 or label["first"] > label["last"])
    cpu = next(p for p in needs if p["title"].startswith("thr-ab · cpu"))
    values = {t["text"] for t in cpu["texts"] if t["cls"] == "value"}
    names = {t["text"] for t in cpu["texts"] if t["cls"] == "label"}
    assert "بله" in names and "ایتا" in names
    assert any(v.startswith("need 1000 of ") for v in values)
    assert any(v.startswith("no data (envelope ") for v in values)  # eitaa: unknown, in words

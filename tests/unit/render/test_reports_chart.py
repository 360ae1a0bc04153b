"""The HTML chart in headless Chromium: Persian labels never overlap their bars or percentages, and read RTL.

Boxes are measured in the browser (``getBoundingClientRect``), with the fonts Chromium actually
uses, so the check does not trust the renderer's own width estimate. A label that would not fit
its column is cut with an ellipsis, never drawn over the bar.
"""

from __future__ import annotations

import datetime as dt
import pathlib
from collections.abc import Iterator
from typing import Any

import pytest

from dctenant.clients import ledger_db
from dctenant.domain import periods, reports
from dctenant.ops import reporting
from dctenant.render.reports import cells, html_form
from tests import chromium
from tests.unit.ops import reports_data

MEASURE = """
const out = [];
for (const svg of document.querySelectorAll('svg.chart')) {
  const box = svg.getBoundingClientRect();
  const labels = svg.querySelectorAll('text.label'), bars = svg.querySelectorAll('rect.bar'),
        values = svg.querySelectorAll('text.value');
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i].getBoundingClientRect(), b = bars[i].getBoundingClientRect(),
          v = values[i].getBoundingClientRect(), n = labels[i].getNumberOfChars();
    out.push({svgLeft: box.left, label: [l.left, l.right, l.top, l.bottom], bar: [b.left, b.right, b.top, b.bottom],
              value: [v.left, v.right], text: labels[i].textContent,
              direction: getComputedStyle(labels[i]).direction,
              first: labels[i].getStartPositionOfChar(0).x, last: labels[i].getStartPositionOfChar(n - 1).x});
  }
}
return out;
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium.chromium() as driver:
        yield driver


def _measure(browser: Any, html: str, tmp_path: pathlib.Path) -> list[dict[str, Any]]:
    return chromium.measure(browser, html, tmp_path, MEASURE)


def _check(bars: list[dict[str, Any]]) -> None:
    assert bars
    for bar in bars:
        left, right = bar["label"][:2]
        # Not over the bar or the value, and inside the drawing (not cut off at its left edge).
        assert right <= bar["bar"][0] + 0.5, bar
        assert right <= bar["value"][0] + 0.5, bar
        assert left >= bar["svgLeft"] - 0.5, bar
        assert bar["value"][0] >= bar["bar"][1] - 0.5, bar
        if any("\u0600" <= ch <= "\u06ff" for ch in bar["text"]):
            # Right to left: the first character is drawn to the right of the last.
            assert bar["direction"] == "rtl" and (len(bar["text"]) == 1 or bar["first"] > bar["last"]), bar


def test_persian_labels_stay_beside_their_bars(browser: Any, tmp_path: pathlib.Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(reports_data.ROOT)
    ledger = ledger_db.open_ledger(str(tmp_path / "l.db"))
    reports_data.fill(ledger)
    report = reporting.build("usage", path="quotas", period=reporting.period("2026-10"), now=reports_data.NOW,
                             ledger=ledger)
    ledger.close()
    bars = _measure(browser, reporting.render(report, output="html",
                                              style=cells.Style(calendar="jalali", digits=True)), tmp_path)
    assert {b["text"] for b in bars} >= {"بله", "روبیکا", "ایتا"}
    _check(bars)


def test_a_long_persian_name_is_cut_not_drawn_over_the_bar(browser: Any, tmp_path: pathlib.Path) -> None:
    long_name = "شرکت توسعه فناوری اطلاعات و ارتباطات پیام‌رسان ملی ایرانیان"
    chart = reports.Chart(title="t", unit="fraction", bars=(
        reports.Bar(label="long", value=1.0), reports.Bar(label="short", value=0.0),
        reports.Bar(label="latin-only-tenant", value=0.5)))
    section = reports.Section(name="s", title="S", columns=(reports.Column(key="tenant", title="T"),), rows=(),
                              chart=chart)
    report = reports.Report(kind="usage", title="t", period=periods.parse("2026-10"),
                            generated_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC), sources=(), ledger_hash=None,
                            ledger_seq=None, sections=(section,),
                            names={"long": {"en": "Long", "fa": long_name}, "short": {"en": "S", "fa": "گپ"}})
    bars = _measure(browser, html_form.render(report, style=cells.Style()), tmp_path)
    assert len(bars) == 3 and bars[0]["text"].endswith("…") and len(bars[0]["text"]) < len(long_name)
    _check(bars)

"""Inline SVG for the planning reports: a runway chart per pool and resource, an envelope-vs-need chart.

The HTML page must stay self-contained and printable, so the charts are drawn here as SVG, with
no script. Text never overlaps text: every label has a place of its own (a caption and a legend
above the plot, tick labels outside it, tenant names in a column to the left), and widths are
estimated generously per character since no font is measured at render time; the HTML tests
measure the result in Chromium. Dates follow the report's calendar (Jalali on request).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from html import escape

from dctenant.domain import reports
from dctenant.render import calendars
from dctenant.render.reports import cells

WIDTH, HEIGHT = 760, 300
LEFT, RIGHT, TOP, BOTTOM = 80, WIDTH - 24, 64, HEIGHT - 40
_CHAR_W = 9  # a generous estimate of one character's width at 12px, so estimated boxes are never too small
_NOTE_MAX = 80  # characters of a caption before it is cut with an ellipsis
HISTORY, TREND, BAND, LIMIT, TODAY, CROSSING = "#57606a", "#2f6feb", "#b6cdf5", "#cf222e", "#8c959f", "#cf222e"


def svg(report: reports.Report, plot: reports.Runway | reports.NeedChart, *, style: cells.Style) -> str:
    if isinstance(plot, reports.Runway):
        return runway(plot, style=style)
    return needs(plot, names=report.names)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _amount(unit: str, value: float) -> str:
    return cells.chart_value(unit, value) if value >= 0 else "−" + cells.chart_value(unit, -value)


def caption(plot: reports.Runway, *, style: cells.Style) -> str:
    """What the chart says, in words: when the trend reaches the limit and the interval, or why it cannot tell."""
    def day(d: dt.date | None) -> str:
        return "beyond horizon" if d is None else calendars.format_date(d, calendar=style.calendar,
                                                                        digits=style.digits)

    if plot.note:
        return _cut(f"unknown: {plot.note}", _NOTE_MAX)
    if plot.crossing is None and plot.earliest is None:
        return f"does not reach the limit by {day(plot.end)} (80 % interval)"
    verb = "reaches the limit on" if plot.crossing else "may reach the limit: trend"
    return f"{verb} {day(plot.crossing)}; 80 % interval {day(plot.earliest)} … {day(plot.latest)}"


def runway(plot: reports.Runway, *, style: cells.Style) -> str:
    """History, trend, band, limit, today and the crossing, on a time axis from the first point to the horizon."""
    first = min([plot.today, *(d for d, _ in plot.history), *(b[0] for b in plot.band)])
    span = max((plot.end - first).days, 1)
    visible = [v for _, v in plot.history] + [b[2] for b in plot.band] + [plot.limit]
    top = _nice(max(visible) * 1.1)
    bottom = min(0.0, *visible)

    def x(day: dt.date) -> float:
        return LEFT + (day - first).days / span * (RIGHT - LEFT)

    def y(value: float) -> float:
        clipped = min(max(value, bottom), top)
        return BOTTOM - (clipped - bottom) / (top - bottom) * (BOTTOM - TOP)

    title = escape(plot.title)
    # The clip path's id must be unique in the page and the same on every run (renderers are deterministic).
    clip = "clip-" + hashlib.sha256(plot.title.encode("utf-8")).hexdigest()[:12]
    out = [f'<svg class="plot runway" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
           f'font-size="12" role="img" aria-label="{title}"><title>{title}</title>',
           f'<clipPath id="{clip}"><rect x="{LEFT}" y="{TOP}" width="{RIGHT - LEFT}" height="{BOTTOM - TOP}"/>'
           "</clipPath>",
           f'<text class="caption" x="{LEFT}" y="16">{escape(caption(plot, style=style))}</text>']
    legend = [("history", HISTORY, "line"), ("trend", TREND, "line"), ("80 % band", BAND, "box"),
              (f"limit {_amount(plot.unit, plot.limit)}", LIMIT, "dash"), ("today", TODAY, "line")]
    at = LEFT
    for text, colour, mark in legend:
        if mark == "box":
            out.append(f'<rect x="{at}" y="30" width="16" height="10" fill="{colour}"/>')
        else:
            dash = ' stroke-dasharray="4 3"' if mark == "dash" else ""
            out.append(f'<line x1="{at}" y1="35" x2="{at + 16}" y2="35" stroke="{colour}" stroke-width="2"{dash}/>')
        out.append(f'<text class="legend" x="{at + 20}" y="39">{escape(text)}</text>')
        at += 20 + len(text) * _CHAR_W + 16
    out.append(f'<rect x="{LEFT}" y="{TOP}" width="{RIGHT - LEFT}" height="{BOTTOM - TOP}" fill="none" '
               'stroke="#d0d7de"/>')
    for value in (bottom, (bottom + top) / 2, top):  # three y ticks, 98px apart: their labels cannot meet
        out.append(f'<text class="tick" x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end">'
                   f"{escape(_amount(plot.unit, value))}</text>")
    ticks = 5
    for i in range(ticks):  # evenly spaced dates; the outer ones anchored inwards so they stay in the drawing
        day = first + dt.timedelta(days=round(span * i / (ticks - 1)))
        anchor = "start" if i == 0 else "end" if i == ticks - 1 else "middle"
        label = calendars.format_date(day, calendar=style.calendar, digits=style.digits)
        out.append(f'<line x1="{x(day):.1f}" y1="{BOTTOM}" x2="{x(day):.1f}" y2="{BOTTOM + 4}" stroke="#57606a"/>')
        out.append(f'<text class="tick date" x="{x(day):.1f}" y="{BOTTOM + 18}" text-anchor="{anchor}">'
                   f"{escape(label)}</text>")
    out.append(f'<g clip-path="url(#{clip})">')
    if plot.band:
        upper = " ".join(f"{x(d):.1f},{y(h):.1f}" for d, _, _, h in plot.band)
        lower = " ".join(f"{x(d):.1f},{y(lo):.1f}" for d, lo, _, _ in reversed(plot.band))
        out.append(f'<polygon class="band" points="{upper} {lower}" fill="{BAND}" fill-opacity="0.6"/>')
        out.append(f'<polyline class="trend" points="{_points(plot.band, x, y)}" fill="none" stroke="{TREND}" '
                   'stroke-width="2"/>')
    if plot.crossing or plot.earliest:
        low = x(plot.earliest or plot.crossing or plot.end)
        high = x(plot.latest or plot.end)
        out.append(f'<rect class="interval" x="{low:.1f}" y="{TOP}" width="{max(high - low, 1):.1f}" '
                   f'height="{BOTTOM - TOP}" fill="{CROSSING}" fill-opacity="0.08"/>')
    if plot.crossing:
        out.append(f'<line class="crossing" x1="{x(plot.crossing):.1f}" y1="{TOP}" x2="{x(plot.crossing):.1f}" '
                   f'y2="{BOTTOM}" stroke="{CROSSING}" stroke-width="2"/>')
    out.append(f'<line class="limit" x1="{LEFT}" y1="{y(plot.limit):.1f}" x2="{RIGHT}" y2="{y(plot.limit):.1f}" '
               f'stroke="{LIMIT}" stroke-width="1.5" stroke-dasharray="4 3"/>')
    out.append(f'<line class="today" x1="{x(plot.today):.1f}" y1="{TOP}" x2="{x(plot.today):.1f}" y2="{BOTTOM}" '
               f'stroke="{TODAY}" stroke-dasharray="2 2"/>')
    if plot.history:
        history = [(d, v, v, v) for d, v in plot.history]
        out.append(f'<polyline class="history" points="{_points(history, x, y)}" fill="none" stroke="{HISTORY}" '
                   'stroke-width="1.2"/>')
    out.append("</g></svg>")
    return "".join(out)


def _nice(value: float) -> float:
    """The smallest round number (1, 1.2, 1.5, 2 … 8 or 10 × a power of ten) at or above ``value``: round ticks."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return float(next(m * power for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10) if m * power >= value))


def _points(rows: Sequence[tuple[dt.date, float, float, float]], x: Callable[[dt.date], float],
            y: Callable[[float], float]) -> str:
    return " ".join(f"{x(d):.1f},{y(e):.1f}" for d, _, e, _ in rows)


_LABEL_MIN, _LABEL_MAX, _VALUE_W = 80, 300, 260


def needs(chart: reports.NeedChart, *, names: Mapping[str, Mapping[str, str]]) -> str:
    """Per tenant, a light bar for the envelope with a dark bar for the observed need inside it, and the
    figures in words to the right; "no data" where Prometheus had none (never a zero-length need bar).

    Persian names are anchored at their start (their right edge, read right to left) at the label
    column's edge, so they grow leftwards, away from the bars, as in the other reports' charts.
    """
    if not chart.needs:
        return ""
    labels = [(names[n.label]["fa"], True) if n.label in names else (n.label, False) for n in chart.needs]
    longest = max(len(t) for t, _ in labels)
    label_w = min(max(longest * _CHAR_W + 16, _LABEL_MIN), _LABEL_MAX)
    fits = (label_w - 16) // _CHAR_W
    bar_h, gap = 18, 8
    scale = max([n.envelope for n in chart.needs] + [n.need or 0.0 for n in chart.needs]) or 1.0
    room = WIDTH - label_w - _VALUE_W
    height = len(chart.needs) * (bar_h + gap) + 24
    title = escape(chart.title)
    out = [f'<svg class="plot needs" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
           f'font-size="12" role="img" aria-label="{title}"><title>{title}</title>']
    for i, (n, (text, rtl)) in enumerate(zip(chart.needs, labels, strict=True)):
        top = 12 + i * (bar_h + gap)
        env_w = max(n.envelope, 0.0) / scale * room
        need_w = None if n.need is None else max(n.need, 0.0) / scale * room
        label = text if len(text) <= fits else text[:fits - 1] + "…"
        anchor = 'text-anchor="start" direction="rtl" unicode-bidi="embed"' if rtl else 'text-anchor="end"'
        out.append(f'<text class="label" x="{label_w - 8}" y="{top + 13}" {anchor}>{escape(label)}</text>')
        out.append(f'<rect class="envelope" x="{label_w}" y="{top}" width="{env_w:.1f}" height="{bar_h}" '
                   f'fill="{BAND}"/>')
        if need_w is None:
            words = f"no data (envelope {_amount(chart.unit, n.envelope)})"
        else:
            out.append(f'<rect class="need" x="{label_w}" y="{top + 4}" width="{need_w:.1f}" height="{bar_h - 8}" '
                       f'fill="{TREND}"/>')
            idle = (1 - n.need / n.envelope) if n.envelope and n.need is not None and n.need < n.envelope else 0.0
            words = (f"need {_amount(chart.unit, n.need or 0.0)} of {_amount(chart.unit, n.envelope)}"
                     f" ({idle:.0%} idle)")
        right = label_w + max(env_w, need_w or 0.0)
        out.append(f'<text class="value" x="{right + 6:.1f}" y="{top + 13}">{escape(words)}</text>')
    out.append("</svg>")
    return "".join(out)


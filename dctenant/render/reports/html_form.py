"""The HTML form of a report: one self-contained, printable page with tables and inline SVG charts.

Auditors file reports and print them, so the page has no external asset (no fonts, scripts or
images to fetch), a print style sheet that repeats table headers on each page, and charts drawn
as inline SVG. Persian names are isolated with ``<bdi dir="rtl" lang="fa">`` so that they read
right to left inside left-to-right tables without scrambling the neighbouring cells.
"""

from __future__ import annotations

from html import escape

from dctenant.domain import reports
from dctenant.render.reports import cells, plots

CSS = """
:root { color-scheme: light; }
body { font-family: "Vazirmatn", "DejaVu Sans", "Noto Sans", Tahoma, sans-serif; margin: 2rem; color: #1b1f24; }
h1 { font-size: 1.5rem; margin-bottom: .25rem; }
h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #c8ccd0; }
dl.meta { display: grid; grid-template-columns: max-content auto; gap: .15rem 1rem; font-size: .9rem; }
dl.meta dt { font-weight: bold; } dl.meta dd { margin: 0; word-break: break-all; }
table { border-collapse: collapse; font-size: .85rem; margin: .5rem 0 1rem; }
th, td { border: 1px solid #d0d7de; padding: .2rem .5rem; text-align: start; }
th { background: #f0f3f6; } td.num { text-align: end; font-variant-numeric: tabular-nums; }
bdi.fa { font-weight: 600; } .warn { color: #9a6700; }
p.partial { background: #fff8c5; border: 1px solid #9a6700; padding: .4rem .6rem; }
svg.chart { display: block; margin: .5rem 0 1rem; }
svg.chart text { font-size: 12px; fill: #1b1f24; }
@media print {
  body { margin: 1cm; } h2 { break-after: avoid; } thead { display: table-header-group; }
  tr, svg.chart { break-inside: avoid; } @page { size: A4 landscape; margin: 1cm; }
}
"""


def _name_cell(report: reports.Report, tenant: str) -> str:
    names = report.names.get(tenant)
    if not names:
        return escape(tenant)
    return (f'<bdi class="fa" dir="rtl" lang="fa">{escape(names["fa"])}</bdi> '
            f'<span class="id">{escape(tenant)}</span>')


# Label widths are estimated, not measured (no fonts at render time): generous per character, and
# a label longer than the column is cut with an ellipsis, so that it can never reach the bars.
_CHAR_W, _LABEL_MIN, _LABEL_MAX = 9, 80, 300


def _label(report: reports.Report, tenant: str) -> tuple[str, bool]:
    names = report.names.get(tenant)
    return (names["fa"], True) if names else (tenant, False)


def _chart(report: reports.Report, chart: reports.Chart) -> str:
    """Bars with their labels in a column of their own to the left and values to the right of each bar.

    A right-to-left label is anchored at its *start* (its right edge in RTL) at the column's
    edge, so it grows leftwards, away from the bar; anchoring it at its ``end`` would make it
    grow rightwards, over the bar and its percentage (the bug an auditor saw).
    """
    if not chart.bars:
        return ""
    texts = [_label(report, b.label) for b in chart.bars]
    longest = max(len(t) for t, _ in texts)
    label_w = min(max(longest * _CHAR_W + 16, _LABEL_MIN), _LABEL_MAX)
    fits = (label_w - 16) // _CHAR_W
    bar_h, gap, value_w, width = 18, 6, 90, 720
    top = max((b.value for b in chart.bars), default=0.0) or 1.0
    scale_max = max(top, 1.0) if chart.unit == "fraction" else top
    height = len(chart.bars) * (bar_h + gap) + 30
    out = [f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'role="img" aria-label="{escape(chart.title)}"><title>{escape(chart.title)}</title>']
    for i, (bar, (text, rtl)) in enumerate(zip(chart.bars, texts, strict=True)):
        y = 20 + i * (bar_h + gap)
        w = max(0.0, bar.value / scale_max) * (width - label_w - value_w)
        label = text if len(text) <= fits else text[:fits - 1] + "…"
        anchor = 'text-anchor="start" direction="rtl" unicode-bidi="embed"' if rtl else 'text-anchor="end"'
        out.append(f'<text class="label" x="{label_w - 8}" y="{y + 13}" {anchor}>{escape(label)}</text>')
        out.append(f'<rect class="bar" x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="#2f6feb" />')
        out.append(f'<text class="value" x="{label_w + w + 6:.1f}" y="{y + 13}">'
                   f"{escape(cells.chart_value(chart.unit, bar.value))}</text>")
    out.append("</svg>")
    return "".join(out)


def render(report: reports.Report, *, style: cells.Style) -> str:
    parts = ["<!DOCTYPE html>", '<html lang="en" dir="ltr"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{escape(report.title)} {escape(report.period.label)}</title>",
             f"<style>{CSS}</style></head><body>",
             f"<h1>{escape(report.title)}</h1>"]
    if report.partial:
        parts.append('<p class="partial" role="alert"><strong>PARTIAL</strong>: this report reads a snapshot taken '
                     "before its period ended; its figures stop early (see the warnings below).</p>")
    parts.append('<dl class="meta">')
    for key, value in cells.provenance(report, style=style):
        parts.append(f"<dt>{escape(key)}</dt><dd>{escape(value)}</dd>")
    parts.append("</dl>")
    parts += [f'<p class="warn">warning: {escape(w)}</p>' for w in report.warnings]
    for section in report.sections:
        parts.append(f'<section id="{escape(section.name)}"><h2>{escape(section.title)}</h2>')
        if section.chart:
            parts.append(f"<h3>{escape(section.chart.title)}</h3>{_chart(report, section.chart)}")
        parts.append("<table><thead><tr>" + "".join(f"<th>{escape(c.title)}</th>" for c in section.columns)
                     + "</tr></thead><tbody>")
        for row in section.rows:
            tds = []
            for c in section.columns:
                if c.kind == reports.NAME:
                    tds.append(f"<td>{_name_cell(report, str(row.get(c.key, '')))}</td>")
                else:
                    klass = ' class="num"' if c.kind in cells.RIGHT else ""
                    tds.append(f"<td{klass}>{escape(cells.show(c, row, style=style))}</td>")
            parts.append("<tr>" + "".join(tds) + "</tr>")
        if not section.rows:
            parts.append(f'<tr><td colspan="{len(section.columns)}">nothing in this period</td></tr>')
        # The planning reports' charts follow their table: the figures first, then one chart per row group.
        drawn = "".join(f"<h3>{escape(p.title)}</h3>{plots.svg(report, p, style=style)}" for p in section.plots)
        parts.append(f"</tbody></table>{drawn}</section>")
    parts.append("</body></html>\n")
    return "\n".join(parts)

"""Small SVG charts for the cost widgets: plain strings, shown in an `ipywidgets.HTML`.

Why SVG text instead of matplotlib or bqplot: nothing to install, the same chart renders in
JupyterLab, in a Voilà page and in a saved notebook, it redraws in well under a millisecond as a
learner types, and its output is text, so a notebook's committed outputs compare under nbval.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from html import escape

WIDTH = 640
BAR_HEIGHT = 22
LABEL_WIDTH = 150
VALUE_WIDTH = 110
BAR_COLOR = "#4c78a8"
HIGHLIGHT_COLOR = "#f58518"
LINE_COLORS = ("#4c78a8", "#9d9d9d")
BUDGET_COLOR = "#d62728"
ALERT_COLOR = "#ff7f0e"


def _svg(width: int, height: int, body: str, title: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
            f'style="font: 12px sans-serif">{body}</svg>')


def bar_chart(labels: Sequence[str], values: Sequence[Decimal], *, title: str, format_value=str,
              highlight: str | None = None) -> str:
    """Horizontal bars, one per label, scaled to the largest value; `highlight` colours one bar."""
    if len(labels) != len(values):
        raise ValueError("bar_chart needs one value per label")
    top = max((v for v in values if v > 0), default=Decimal(1))
    span = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    rows = [f'<text x="0" y="14" font-weight="bold">{escape(title)}</text>']
    for n, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = 22 + n * BAR_HEIGHT
        length = int(span * max(value, Decimal(0)) / top) if value else 0
        color = HIGHLIGHT_COLOR if label == highlight else BAR_COLOR
        rows.append(
            f'<text x="{LABEL_WIDTH - 6}" y="{y + 15}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y + 3}" width="{max(length, 1)}" height="{BAR_HEIGHT - 6}" '
            f'fill="{color}"><title>{escape(label)}: {escape(format_value(value))}</title></rect>'
            f'<text x="{LABEL_WIDTH + max(length, 1) + 6}" y="{y + 15}">{escape(format_value(value))}</text>'
        )
    return _svg(WIDTH, 30 + len(labels) * BAR_HEIGHT, "".join(rows), title)


def line_chart(series: dict[str, Sequence[Decimal]], *, title: str, lines: dict[str, Decimal | None] | None = None,
               format_value=str, height: int = 260) -> str:
    """Cumulative lines over days 1..N, with labelled horizontal lines (a budget, an alert)."""
    lines = {name: value for name, value in (lines or {}).items() if value is not None}
    days = max((len(points) for points in series.values()), default=0)
    if days == 0:
        return _svg(WIDTH, 40, f'<text x="0" y="20">{escape(title)}: nothing to plot yet</text>', title)
    top = max([*(max(points, default=Decimal(0)) for points in series.values()), *lines.values(), Decimal(0)])
    top = top if top > 0 else Decimal(1)
    left, right, upper, lower = 70, WIDTH - 130, 26, height - 28

    def x(day: int) -> float:
        return left + (right - left) * (day - 1) / max(days - 1, 1)

    def y(value: Decimal) -> float:
        return lower - float((lower - upper) * value / top)

    parts = [f'<text x="0" y="14" font-weight="bold">{escape(title)}</text>',
             f'<line x1="{left}" y1="{lower}" x2="{right}" y2="{lower}" stroke="#888"/>',
             f'<line x1="{left}" y1="{upper}" x2="{left}" y2="{lower}" stroke="#888"/>',
             f'<text x="{left - 6}" y="{lower + 4}" text-anchor="end">{escape(format_value(Decimal(0)))}</text>',
             f'<text x="{left - 6}" y="{upper + 4}" text-anchor="end">{escape(format_value(top))}</text>',
             f'<text x="{left}" y="{lower + 18}">day 1</text>',
             f'<text x="{right}" y="{lower + 18}" text-anchor="end">day {days}</text>']
    for (name, value), color in zip(lines.items(), (BUDGET_COLOR, ALERT_COLOR), strict=False):
        parts.append(f'<line x1="{left}" y1="{y(value):.1f}" x2="{right}" y2="{y(value):.1f}" stroke="{color}" '
                     f'stroke-dasharray="6 4"/><text x="{right + 6}" y="{y(value) + 4:.1f}" fill="{color}">'
                     f'{escape(name)} {escape(format_value(value))}</text>')
    for (name, points), color in zip(series.items(), LINE_COLORS, strict=False):
        path = " ".join(f"{x(day):.1f},{y(value):.1f}" for day, value in enumerate(points, 1))
        parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2">'
                     f'<title>{escape(name)}</title></polyline>')
    return _svg(WIDTH, height, "".join(parts), title)


__all__ = ["bar_chart", "line_chart"]

"""The Usage page's numbers: spend this month per day, per model and per key, and its bar chart.

Read straight from the `usage` table (one row per billed call). The chart is an inline SVG drawn
here, on the server: no JavaScript and no chart library.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from html import escape

from keylab.pricing import format_usd, from_pico
from keylab.sandbox.clock import Clock
from keylab.sandbox.store import Store


def money(usd: Decimal) -> str:
    """Dollars as the dashboard shows them: "$0.00" for nothing, sub-cent amounts to six places."""
    return "$0.00" if usd == 0 else format_usd(usd)


@dataclass(frozen=True)
class Line:
    label: str
    detail: str
    requests: int
    input_tokens: int
    output_tokens: int
    cost: Decimal

    @property
    def cost_text(self) -> str:
        return money(self.cost)


@dataclass(frozen=True)
class UsageReport:
    month: str
    days: list[tuple[dt.date, Decimal, int]]
    by_model: list[Line]
    by_key: list[Line]
    total: Decimal
    requests: int

    @property
    def total_text(self) -> str:
        return money(self.total)


def report(store: Store, clock: Clock, org_id: str, project_id: str | None = None) -> UsageReport:
    start = clock.month_start_s()
    today = clock.today()
    where = "u.org_id = ? AND u.created_at >= ?"
    params: list[object] = [org_id, start]
    if project_id:
        where += " AND u.project_id = ?"
        params.append(project_id)
    per_day = {
        row["day"]: (from_pico(int(row["cost"])), int(row["n"]))
        for row in store.query(
            "SELECT date(u.created_at, 'unixepoch') AS day, SUM(u.cost_pico) AS cost, COUNT(*) AS n"
            f" FROM usage u WHERE {where} GROUP BY day", tuple(params))
    }
    first = dt.date(today.year, today.month, 1)
    days = []
    for offset in range((today - first).days + 1):
        day = first + dt.timedelta(days=offset)
        cost, count = per_day.get(day.isoformat(), (Decimal(0), 0))
        days.append((day, cost, count))
    by_model = [
        Line(row["model"], "", int(row["n"]), int(row["inp"]), int(row["outp"]), from_pico(int(row["cost"])))
        for row in store.query(
            "SELECT u.model, COUNT(*) AS n, SUM(u.input_tokens) AS inp, SUM(u.output_tokens) AS outp,"
            f" SUM(u.cost_pico) AS cost FROM usage u WHERE {where} GROUP BY u.model ORDER BY cost DESC, u.model",
            tuple(params))
    ]
    by_key = [
        Line(row["name"] or row["key_id"], row["redacted"] or "", int(row["n"]), int(row["inp"]),
             int(row["outp"]), from_pico(int(row["cost"])))
        for row in store.query(
            "SELECT u.key_id, k.name, k.redacted, COUNT(*) AS n, SUM(u.input_tokens) AS inp,"
            " SUM(u.output_tokens) AS outp, SUM(u.cost_pico) AS cost FROM usage u"
            f" LEFT JOIN api_keys k ON k.id = u.key_id WHERE {where}"
            " GROUP BY u.key_id ORDER BY cost DESC, u.key_id", tuple(params))
    ]
    total = sum((line.cost for line in by_model), Decimal(0))
    requests = sum(line.requests for line in by_model)
    return UsageReport(today.strftime("%B %Y"), days, by_model, by_key, total, requests)


def bar_chart(days: list[tuple[dt.date, Decimal, int]], width: int = 760, height: int = 200) -> str:
    """Spend per day as an SVG bar chart (a title on each bar gives its exact value)."""
    top = max((cost for _, cost, _ in days), default=Decimal(0))
    left, bottom, pad_top = 64, 28, 12
    plot_w, plot_h = width - left - 8, height - bottom - pad_top
    slot = plot_w / max(len(days), 1)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="Spend per day this month">',
        f'<line x1="{left}" y1="{pad_top + plot_h}" x2="{width - 8}" y2="{pad_top + plot_h}" class="axis"/>',
        f'<text x="{left - 6}" y="{pad_top + 4}" class="tick" text-anchor="end">{escape(money(top))}</text>',
        f'<text x="{left - 6}" y="{pad_top + plot_h}" class="tick" text-anchor="end">$0</text>',
    ]
    for index, (day, cost, count) in enumerate(days):
        bar_h = float(cost / top) * plot_h if top > 0 else 0.0
        if cost > 0:
            bar_h = max(bar_h, 2.0)
        x = left + index * slot + slot * 0.15
        y = pad_top + plot_h - bar_h
        title = f"{day.isoformat()}: {money(cost)}, {count} request{'s' * (count != 1)}"
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{bar_h:.1f}" class="bar">'
            f"<title>{escape(title)}</title></rect>"
        )
        if day.day == 1 or day.day % 5 == 0:
            parts.append(f'<text x="{x + slot * 0.35:.1f}" y="{height - 8}" class="tick" '
                         f'text-anchor="middle">{day.day}</text>')
    parts.append("</svg>")
    return "".join(parts)

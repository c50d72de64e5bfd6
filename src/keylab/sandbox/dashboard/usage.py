"""The Usage page's numbers: spend this month per day, per model and per key, and its bar chart.

Read straight from the `usage` table (one row per billed call). The chart is an inline SVG drawn
here, on the server: no JavaScript and no chart library.
"""

from __future__ import annotations

import calendar
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


def axis_top(value: Decimal) -> Decimal:
    """The chart's top: the smallest 1, 2 or 5 x 10^n (at least a cent) that holds `value`, so the
    gridlines at the top and at half of it fall on round amounts."""
    top = Decimal("0.01")
    while top < value:
        for step in (2, Decimal("2.5"), 2):  # 1 -> 2 -> 5 -> 10
            top *= step
            if top >= value:
                break
    return top


def axis_money(value: Decimal) -> str:
    """An axis amount exactly, with at least cents: "$0", "$0.005", "$0.05", "$2.50", "$1,000.00"."""
    if value == 0:
        return "$0"
    places = max(2, -value.normalize().as_tuple().exponent)  # type: ignore[operator]
    return f"${value:,.{places}f}"


def _label_days(month_days: int) -> list[int]:
    """The days named under the axis: the 1st, every 5th, and the month's last day unless it would
    crowd the 5th before it."""
    days = [1, *range(5, month_days + 1, 5)]
    if month_days - days[-1] >= 3:
        days.append(month_days)
    return days


def bar_chart(days: list[tuple[dt.date, Decimal, int]], width: int = 760, height: int = 220) -> str:
    """Spend per day of the month as an SVG bar chart (a title on each bar gives its exact value).

    The x axis has one slot per day of the whole month, so a day keeps its place as the month goes
    on; each day's label is centred on its bar (both from `center`), and each amount on the y axis
    is centred on its gridline.
    """
    first = days[0][0] if days else dt.date.today().replace(day=1)
    month_days = calendar.monthrange(first.year, first.month)[1]
    top = axis_top(max((cost for _, cost, _ in days), default=Decimal(0)))
    left, right, pad_top, bottom = 72, 12, 14, 30
    plot_w, plot_h = width - left - right, height - pad_top - bottom
    base = pad_top + plot_h
    slot = plot_w / month_days

    def center(day: int) -> float:
        return left + (day - 0.5) * slot

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="Spend per day in {first.strftime("%B %Y")}">',
    ]
    for share in (Decimal(0), Decimal("0.5"), Decimal(1)):
        y = base - float(share) * plot_h
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" '
                     f'class="{"axis" if share == 0 else "grid"}"/>')
        parts.append(f'<text x="{left - 8}" y="{y:.1f}" class="tick amount" text-anchor="end" '
                     f'dominant-baseline="middle">{escape(axis_money(top * share))}</text>')
    bar_w = slot * 0.7
    for day, cost, count in days:
        bar_h = float(cost / top) * plot_h
        if cost > 0:
            bar_h = max(bar_h, 2.0)
        title = f"{day.isoformat()}: {money(cost)}, {count} request{'s' * (count != 1)}"
        parts.append(
            f'<rect data-day="{day.day}" x="{center(day.day) - bar_w / 2:.1f}" y="{base - bar_h:.1f}" '
            f'width="{bar_w:.1f}" height="{bar_h:.1f}" class="bar"><title>{escape(title)}</title></rect>'
        )
    for day_number in _label_days(month_days):
        x = center(day_number)
        parts.append(f'<line x1="{x:.1f}" y1="{base}" x2="{x:.1f}" y2="{base + 4}" class="axis"/>')
        parts.append(f'<text data-day="{day_number}" x="{x:.1f}" y="{base + 18}" class="tick day" '
                     f'text-anchor="middle">{day_number}</text>')
    parts.append("</svg>")
    return "".join(parts)

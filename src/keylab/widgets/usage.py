"""UsageReport: what was really spent (usage and costs APIs, admin key) beside what was estimated."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import ipywidgets as widgets

from keylab.estimate import Estimate
from keylab.spend import SpendReport, fetch_spend
from keylab.widgets._base import money, table
from keylab.widgets.charts import bar_chart


class UsageReport(widgets.VBox):
    """Spend per day, per model and per key over the `days` days up to `today`, read with an admin
    client (`OpenAI(admin_api_key=...)`, sandbox or live). Give it an `estimate` to see the
    prediction beside the bill. `refresh()` (or the button) reads the APIs again; `report` holds
    the last reading.
    """

    def __init__(self, admin: Any, *, days: int = 7, today: dt.date | None = None,
                 estimate: Estimate | None = None) -> None:
        super().__init__()
        if days < 1:
            raise ValueError(f"days must be 1 or more; got {days}")
        self.admin = admin
        self.days = days
        self.today = today
        self.estimate = estimate
        self.report: SpendReport | None = None
        self.button = widgets.Button(description="Refresh", icon="refresh")
        self.button.on_click(lambda _: self.refresh())
        self.summary = widgets.HTML()
        self.charts = widgets.HTML()
        self.children = [widgets.HTML("<b>What did it really cost?</b>"), self.button, self.summary, self.charts]
        self.refresh()

    def refresh(self, today: dt.date | None = None) -> SpendReport:
        today = today or self.today or dt.datetime.now(dt.timezone.utc).date()
        start = today - dt.timedelta(days=self.days - 1)
        self.report = fetch_spend(self.admin, start, today + dt.timedelta(days=1))
        self.summary.value = render_summary(self.report, self.estimate)
        self.charts.value = render_charts(self.report)
        return self.report

    def __repr__(self) -> str:
        r = self.report
        if r is None:
            return "UsageReport(not read yet)"
        # No dates: a notebook's saved output must read the same on any day.
        return f"UsageReport(last {self.days} day(s): {money(r.total)}, {r.requests:,} requests)"


def compare_with_estimate(report: SpendReport, estimate: Estimate) -> list[list[str]]:
    """Rows: what the estimate says the period's requests should cost, and what they did cost."""
    requests = report.requests_per_model.get(estimate.model, 0)
    predicted = estimate.per_request * requests
    actual = report.per_model.get(estimate.model, Decimal(0))
    return [
        [f"{estimate.model}: requests", f"{requests:,}", ""],
        ["estimated at " + money(estimate.per_request) + " each", money(predicted), ""],
        ["billed", money(actual), money(actual - predicted) + " difference"],
    ]


def render_summary(report: SpendReport, estimate: Estimate | None) -> str:
    last = report.end - dt.timedelta(days=1)
    text = (f"<div>{report.start} to {last}: <b>{money(report.total)}</b> for "
            f"{report.requests:,} requests</div>")
    if estimate is not None:
        text += table(["", "", ""], compare_with_estimate(report, estimate), right={1, 2})
    return text


def render_charts(report: SpendReport) -> str:
    days = report.days()
    per_day = bar_chart([d.isoformat() for d in days], [report.per_day.get(d, Decimal(0)) for d in days],
                        title="Spend per day (UTC)", format_value=money)
    models = sorted(report.per_model, key=lambda m: -report.per_model[m])
    per_model = bar_chart(models, [report.per_model[m] for m in models], title="Spend per model",
                          format_value=money)
    keys = sorted(report.per_key, key=lambda k: -report.per_key[k])
    per_key = bar_chart([_short(report.key_label(k)) for k in keys], [report.per_key[k] for k in keys],
                        title="Spend per API key", format_value=money)
    return "<br>".join((per_day, per_model, per_key))


def _short(label: str) -> str:
    return label if len(label) <= 22 else "…" + label[-21:]

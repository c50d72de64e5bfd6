"""SpendProjection: a month of spend against the budget (hard limit) and the alert threshold."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import ipywidgets as widgets
import traitlets

from keylab.estimate import DAYS_PER_MONTH, Projection, project_month
from keylab.pricing import as_usd
from keylab.widgets._base import Count, Money, bind, money
from keylab.widgets.charts import line_chart

_STYLE = {"description_width": "160px"}


class SpendProjection(widgets.VBox):
    """Cumulative spend over a month at `per_day` (after the days in `spent`, if any), with the day
    the alert and the budget are crossed. `projection` holds the numbers."""

    per_day = Money()
    budget_usd = Money(Decimal(10))
    alert_usd = Money(Decimal(8))
    days = Count(DAYS_PER_MONTH, minimum=1)
    spent = traitlets.List()  # dollars spent on each day so far (from a UsageReport, say)
    projection = traitlets.Instance(Projection, read_only=True)

    def __init__(self, **traits: Any) -> None:
        super().__init__(**traits)
        style: dict[str, Any] = {"style": _STYLE}
        controls = {
            "per_day": widgets.BoundedFloatText(description="Spend per day ($)", min=0, max=1e9, step=0.01, **style),
            "budget_usd": widgets.BoundedFloatText(description="Monthly budget ($)", min=0, max=1e9, **style),
            "alert_usd": widgets.BoundedFloatText(description="Alert threshold ($)", min=0, max=1e9, **style),
        }
        for name, control in controls.items():
            bind(self, name, control, to_control=float, from_control=as_usd)
        self.summary = widgets.HTML()
        self.chart = widgets.HTML()
        self.observe(self._recompute, names=[*controls, "days", "spent"])
        self.children = [widgets.HTML("<b>A month of spend</b>"), *controls.values(), self.summary, self.chart]
        self._recompute()

    def _recompute(self, change: dict[str, Any] | None = None) -> None:
        p = project_month(self.per_day, budget_usd=self.budget_usd, alert_usd=self.alert_usd, days=self.days,
                          spent=self.spent)
        self.set_trait("projection", p)
        self.summary.value = "<br>".join(describe(p))
        series = {"spend so far, then projected" if p.actual_days else "projected spend": p.cumulative}
        self.chart.value = line_chart(series, title=f"Cumulative spend over {p.days} days", format_value=money,
                                      lines={"budget": p.budget_usd, "alert": p.alert_usd})

    def __repr__(self) -> str:
        return "SpendProjection(" + "; ".join(describe(self.projection)) + ")"


def describe(p: Projection) -> list[str]:
    """One line per fact: the month's total, then when the alert and the budget are crossed."""
    lines = [f"{p.days} days: {money(p.total)} in all"]
    for name, line, day in (("alert", p.alert_usd, p.alert_day), ("budget", p.budget_usd, p.budget_day)):
        if line is None:
            continue
        lines.append(f"the {name} ({money(line)}) is crossed on day {day}" if day
                     else f"the {name} ({money(line)}) is never reached")
    return lines

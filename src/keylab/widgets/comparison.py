"""ModelComparison: one workload on every current model, as a sorted table and a bar chart."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import traitlets

from keylab.estimate import DAYS_PER_MONTH, Estimate, Workload, comparable_models, compare
from keylab.pricing import TIERS, get_model
from keylab.widgets._base import Count, Share, Tier, bind, money, source_line, table
from keylab.widgets.charts import bar_chart

_STYLE = {"description_width": "160px"}


class ModelComparison(widgets.VBox):
    """The same requests priced on each model, cheapest first. `estimates` holds the sorted list.

    The prompt is a token count here (`input_tokens`): tokenizers differ a little between model
    families, and a comparison is about prices, so every model gets the same count.
    """

    input_tokens = Count(1_000)
    output_tokens = Count(200)
    cached_share = Share(0.0)
    tier = Tier("standard")
    requests_per_day = Count(100)
    days = Count(DAYS_PER_MONTH, minimum=1)
    highlight = traitlets.Unicode("", help="a model to colour in the chart, e.g. the one you use now")
    estimates = traitlets.List(read_only=True)

    def __init__(self, models: list[str] | None = None, **traits: Any) -> None:
        self.models = list(models) if models is not None else comparable_models()
        super().__init__(**traits)
        style: dict[str, Any] = {"style": _STYLE}
        controls = {
            "input_tokens": widgets.BoundedIntText(description="Input tokens", min=0, max=10_000_000, **style),
            "output_tokens": widgets.BoundedIntText(description="Output tokens", min=0, max=10_000_000, **style),
            "cached_share": widgets.FloatSlider(description="Cached share", min=0, max=1, step=0.05,
                                                readout_format=".0%", **style),
            "tier": widgets.Dropdown(options=list(TIERS), description="Tier", **style),
            "requests_per_day": widgets.BoundedIntText(description="Requests per day", min=0,
                                                       max=1_000_000_000, **style),
            "days": widgets.BoundedIntText(description="Days", min=1, max=366, **style),
        }
        for name, control in controls.items():
            bind(self, name, control)
        self.table = widgets.HTML()
        self.chart = widgets.HTML()
        self.observe(self._recompute, names=[*controls, "highlight"])
        self.children = [widgets.HTML("<b>Which model, at what price?</b>"), *controls.values(),
                         self.table, self.chart, widgets.HTML(source_line())]
        self._recompute()

    @property
    def workload(self) -> Workload:
        return Workload(input_tokens=self.input_tokens, output_tokens=self.output_tokens,
                        cached_share=self.cached_share, tier=self.tier, requests_per_day=self.requests_per_day,
                        days=self.days)

    def _recompute(self, change: dict[str, Any] | None = None) -> None:
        results: list[Estimate] = compare(self.workload, self.models)
        self.set_trait("estimates", results)
        cheapest = results[0].per_month if results else None
        rows = [[e.model, money(e.per_request), money(e.per_day), money(e.per_month),
                 f"{e.per_month / cheapest:.1f}×" if cheapest else "–", _shutdown(e.model)] for e in results]
        self.table.value = table(["model", "per request", "per day", f"per {self.days} days", "× cheapest",
                                  "shuts down"], rows, right={1, 2, 3, 4})
        self.chart.value = bar_chart([e.model for e in results], [e.per_month for e in results],
                                     title=f"Cost of {self.days} days, cheapest first", format_value=money,
                                     highlight=self.highlight or None)

    def __repr__(self) -> str:
        if not self.estimates:
            return "ModelComparison(no models)"
        first, last = self.estimates[0], self.estimates[-1]
        return (f"ModelComparison({len(self.estimates)} models per {self.days} days: cheapest {first.model} "
                f"{money(first.per_month)}, dearest {last.model} {money(last.per_month)})")


def _shutdown(model: str) -> str:
    """The model's announced shutdown date, so nobody picks a cheap model that is about to go."""
    row = get_model(model)
    date = row.shutdown_date if row else None
    return "" if date is None else date.isoformat() + (f" (use {row.replacement})" if row.replacement else "")

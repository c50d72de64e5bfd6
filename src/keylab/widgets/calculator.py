"""CostCalculator: one request shape, priced per request, per day and per month as you type."""

from __future__ import annotations

from html import escape
from typing import Any

import ipywidgets as widgets
import traitlets

from keylab.estimate import DAYS_PER_MONTH, Estimate, Workload, comparable_models, estimate
from keylab.pricing import COURSE_MODEL, LONG_CONTEXT_THRESHOLD, TIERS
from keylab.widgets._base import Count, Share, Tier, bind, check_model, money, source_line, table

_WIDE = widgets.Layout(width="520px")
_STYLE = {"description_width": "160px"}


class CostCalculator(widgets.VBox):
    """A cost calculator. Set its traits from code or use its controls: each follows the other.

    `estimate` (a `keylab.estimate.Estimate`) is recomputed on every change: `input_tokens`,
    `per_request`, `per_day` and `per_month`, in exact Decimal USD.
    """

    model = traitlets.Unicode(COURSE_MODEL)
    prompt = traitlets.Unicode("")
    output_tokens = Count(200)
    cached_share = Share(0.0)
    tier = Tier("standard")
    requests_per_day = Count(100)
    days = Count(DAYS_PER_MONTH, minimum=1)
    estimate = traitlets.Instance(Estimate, allow_none=True, read_only=True)

    def __init__(self, models: list[str] | None = None, **traits: Any) -> None:
        self._models = models or comparable_models()
        super().__init__(**traits)
        style: dict[str, Any] = {"style": _STYLE, "layout": _WIDE}
        self.model_control = widgets.Dropdown(options=self._models, description="Model", **style)
        self.prompt_control = widgets.Textarea(description="Prompt", continuous_update=True,
                                               placeholder="Paste or type a typical prompt…",
                                               layout=widgets.Layout(width="520px", height="120px"), style=_STYLE)
        self.tokens_label = widgets.HTML()
        self.output_control = widgets.BoundedIntText(description="Output tokens", min=0, max=10_000_000, **style)
        self.cached_control = widgets.FloatSlider(description="Cached share", min=0, max=1, step=0.05,
                                                  readout_format=".0%", **style)
        self.tier_control = widgets.Dropdown(options=list(TIERS), description="Tier", **style)
        self.requests_control = widgets.BoundedIntText(description="Requests per day", min=0,
                                                       max=1_000_000_000, **style)
        self.days_control = widgets.BoundedIntText(description="Days", min=1, max=366, **style)
        self.result = widgets.HTML()
        for name, control in (("model", self.model_control), ("prompt", self.prompt_control),
                              ("output_tokens", self.output_control), ("cached_share", self.cached_control),
                              ("tier", self.tier_control), ("requests_per_day", self.requests_control),
                              ("days", self.days_control)):
            bind(self, name, control)
        self.observe(self._recompute, names=["model", "prompt", "output_tokens", "cached_share", "tier",
                                             "requests_per_day", "days"])
        self.children = [widgets.HTML("<b>What will it cost?</b>"), self.model_control, self.prompt_control,
                         self.tokens_label, self.output_control, self.cached_control, self.tier_control,
                         self.requests_control, self.days_control, self.result, widgets.HTML(source_line())]
        self.add_class("keylab-cost-calculator")
        self._recompute()

    # --- validation: a refused value keeps the previous one, and says why -----------------------------

    @traitlets.validate("model")
    def _valid_model(self, proposal: dict[str, Any]) -> str:
        name = check_model(proposal["value"])
        if name not in self._models:
            self._models = [*self._models, name]
            if hasattr(self, "model_control"):
                self.model_control.options = self._models
        return name

    # --- the arithmetic lives in keylab.estimate; this only shows it -----------------------------------

    @property
    def workload(self) -> Workload:
        return Workload(model=self.model, prompt=self.prompt, output_tokens=self.output_tokens,
                        requests_per_day=self.requests_per_day, days=self.days, cached_share=self.cached_share,
                        tier=self.tier)

    def _recompute(self, change: dict[str, Any] | None = None) -> None:
        result = estimate(self.workload)
        self.set_trait("estimate", result)
        count = result.token_count
        how = "" if count is None else f" ({escape(count.note)})"
        self.tokens_label.value = f"<span class='keylab-tokens'>{result.input_tokens:,} input tokens{how}</span>"
        self.result.value = render_estimate(result)

    def __repr__(self) -> str:
        e = self.estimate
        return (f"CostCalculator({e.model}, {e.input_tokens:,} input + {e.output_tokens:,} output tokens, "
                f"{self.requests_per_day:,}/day: {money(e.per_request)} per request, {money(e.per_day)} per day, "
                f"{money(e.per_month)} per {self.days} days)")


def render_estimate(result: Estimate) -> str:
    """The estimate as a small table: tokens, the invoice's parts, then request, day and month."""
    cost, work = result.cost, result.workload
    notes = []
    if cost.long_context:
        notes.append(f"more than {LONG_CONTEXT_THRESHOLD:,} input tokens: the whole request bills at the "
                     "long-context rates")
    if cost.tier != "standard":
        notes.append(f"{cost.tier} tier")
    rows = [
        # One request's parts can be tiny: 8 places (a millionth of a cent) keep them visible.
        ["Input (not cached)", f"{result.input_tokens - result.cached_tokens:,}", money(cost.input_usd, 8)],
        ["Cached input", f"{result.cached_tokens:,}", money(cost.cached_usd, 8)],
        ["Output", f"{result.output_tokens:,}", money(cost.output_usd, 8)],
        ["<b>Per request</b>", "", f"<b>{money(result.per_request, 8)}</b>"],
        [f"<b>Per day</b> ({work.requests_per_day:,} requests)", "", f"<b>{money(result.per_day)}</b>"],
        [f"<b>Per month</b> ({work.days} days)", "", f"<b class='keylab-per-month'>{money(result.per_month)}</b>"],
    ]
    note = f"<div>{escape('; '.join(notes))}</div>" if notes else ""
    return table(["", "tokens", "USD"], rows, right={1, 2}) + note

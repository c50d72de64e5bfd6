"""BudgetPlanner: from a monthly budget to how many requests of a given shape it pays for."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import ipywidgets as widgets
import traitlets

from keylab.estimate import DAYS_PER_MONTH, BudgetPlan, Workload, comparable_models, estimate, plan_budget
from keylab.pricing import COURSE_MODEL, TIERS, as_usd
from keylab.widgets._base import Count, Money, Share, Tier, bind, check_model, money

_STYLE = {"description_width": "160px"}


class BudgetPlanner(widgets.VBox):
    """How many requests of `input_tokens` in and `output_tokens` out on `model` fit in `budget_usd`
    over `days` days. `plan` holds the answer."""

    budget_usd = Money(Decimal(10))
    model = traitlets.Unicode(COURSE_MODEL)
    input_tokens = Count(1_000)
    output_tokens = Count(200)
    cached_share = Share(0.0)
    tier = Tier("standard")
    days = Count(DAYS_PER_MONTH, minimum=1)
    plan = traitlets.Instance(BudgetPlan, read_only=True)

    def __init__(self, models: list[str] | None = None, **traits: Any) -> None:
        models = models or comparable_models()
        super().__init__(**traits)
        style: dict[str, Any] = {"style": _STYLE}
        controls = {
            "model": widgets.Dropdown(options=models, description="Model", **style),
            "input_tokens": widgets.BoundedIntText(description="Input tokens", min=0, max=10_000_000, **style),
            "output_tokens": widgets.BoundedIntText(description="Output tokens", min=0, max=10_000_000, **style),
            "cached_share": widgets.FloatSlider(description="Cached share", min=0, max=1, step=0.05,
                                                readout_format=".0%", **style),
            "tier": widgets.Dropdown(options=list(TIERS), description="Tier", **style),
            "days": widgets.BoundedIntText(description="Days", min=1, max=366, **style),
        }
        budget = widgets.BoundedFloatText(description="Monthly budget ($)", min=0, max=1e9, **style)
        bind(self, "budget_usd", budget, to_control=float, from_control=as_usd)
        for name, control in controls.items():
            bind(self, name, control)
        self.answer = widgets.HTML()
        self.observe(self._recompute, names=["budget_usd", *controls])
        self.children = [widgets.HTML("<b>What does a budget buy?</b>"), budget, *controls.values(), self.answer]
        self._recompute()

    @traitlets.validate("model")
    def _valid_model(self, proposal: dict[str, Any]) -> str:
        return check_model(proposal["value"])

    def _recompute(self, change: dict[str, Any] | None = None) -> None:
        shape = Workload(model=self.model, input_tokens=self.input_tokens, output_tokens=self.output_tokens,
                         cached_share=self.cached_share, tier=self.tier, days=self.days)
        plan = plan_budget(self.budget_usd, estimate(shape).per_request, days=self.days)
        self.set_trait("plan", plan)
        self.answer.value = describe(plan)

    def __repr__(self) -> str:
        return f"BudgetPlanner({describe(self.plan)})"


def describe(plan: BudgetPlan) -> str:
    if plan.requests_per_month is None:
        return "These requests cost nothing: no budget runs out."
    return (f"{money(plan.budget_usd)} pays for {plan.requests_per_month:,} requests at "
            f"{money(plan.per_request)} each: about {plan.requests_per_day:,} a day for {plan.days} days "
            f"({money(plan.left_over_usd)} left over)")

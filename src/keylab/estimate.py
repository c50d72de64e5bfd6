"""What a workload will cost, before anything is sent: the arithmetic behind the cost widgets.

Every figure comes from `keylab.pricing.cost_of`, the function the sandbox bills with, so an
estimate and a bill can only differ by the token counts they were given. Money stays `Decimal`
dollars throughout; nothing here rounds until a figure is formatted for display.

    shape = Workload(model="gpt-6-luna", prompt="Summarise this e-mail: ...", output_tokens=200,
                     requests_per_day=1_000)
    estimate(shape).per_month        # Decimal dollars for `days` days of that traffic
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from keylab.pricing import (
    COURSE_MODEL,
    PRICES_AS_OF,
    Cost,
    as_usd,
    cost_of,
    count_text,
    current_models,
    get_model,
)
from keylab.pricing.tokens import TokenCount, encoding_name_for

DAYS_PER_MONTH = 30  # a planning month; pass `days=` for a real calendar month


def _decimal(value: Decimal | str | int | float, name: str) -> Decimal:
    """A Decimal from what a learner types: "0.5", 0.5, 1 (floats go through str, so 0.1 stays 0.1)."""
    try:
        number = as_usd(value)
    except ArithmeticError:
        raise ValueError(f"{name} must be a number, like 0.5; got {value!r}") from None
    if not number.is_finite():
        raise ValueError(f"{name} must be a finite number; got {value!r}")
    return number


def _whole(value: int, name: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be a whole number, {minimum} or more; got {value!r}")
    return value


@dataclass(frozen=True)
class Workload:
    """The shape of one kind of request and how often it is sent.

    The prompt is either its text (`prompt`, counted with the model's tokenizer) or a token count
    (`input_tokens`); a count wins when both are given. `cached_share` is the part of each prompt
    expected to hit the prompt cache (0 to 1); `output_tokens` includes any reasoning tokens.
    """

    model: str = COURSE_MODEL
    prompt: str = ""
    output_tokens: int = 0
    requests_per_day: int = 1
    days: int = DAYS_PER_MONTH
    cached_share: Decimal | str | int | float = 0
    tier: str = "standard"
    input_tokens: int | None = None

    def with_changes(self, **changes: object) -> Workload:
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Estimate:
    """What a workload costs per request, per day and over `days` days (exact Decimal USD)."""

    workload: Workload
    token_count: TokenCount | None  # how the prompt was counted; None when a count was given
    cost: Cost  # one request, split the way an invoice splits it

    @property
    def model(self) -> str:
        return self.cost.model

    @property
    def input_tokens(self) -> int:
        return self.cost.input_tokens

    @property
    def cached_tokens(self) -> int:
        return self.cost.cached_tokens

    @property
    def output_tokens(self) -> int:
        return self.cost.output_tokens

    @property
    def per_request(self) -> Decimal:
        return self.cost.total_usd

    @property
    def per_day(self) -> Decimal:
        return self.per_request * self.workload.requests_per_day

    @property
    def per_month(self) -> Decimal:
        """The cost over the workload's `days` (30 unless told otherwise)."""
        return self.per_day * self.workload.days

    @property
    def exact_count(self) -> bool:
        return self.token_count is None or self.token_count.exact


def estimate(workload: Workload) -> Estimate:
    """Price a workload. Raises ValueError (with what to change) for impossible inputs, and
    `keylab.pricing.UnknownModelError` for a model the price table does not list.

    The prompt's tokens are counted for the model (exact with tiktoken's encoding file at hand,
    else approximate)."""
    return _estimate(workload, None)


def _estimate(workload: Workload, counts: dict[str, TokenCount] | None) -> Estimate:
    """`estimate`, reusing the prompt's counts per encoding in `counts` (filled as it goes)."""
    _whole(workload.output_tokens, "output_tokens")
    _whole(workload.requests_per_day, "requests_per_day")
    _whole(workload.days, "days", minimum=1)
    share = _decimal(workload.cached_share, "cached_share")
    if not 0 <= share <= 1:
        raise ValueError(f"cached_share is a share of the prompt, from 0 to 1 (0.25 = a quarter); got {share}")
    if workload.input_tokens is not None:
        input_tokens, counted = _whole(workload.input_tokens, "input_tokens"), None
    else:
        encoding = encoding_name_for(workload.model)
        counted = counts.get(encoding) if counts is not None else None
        if counted is None:
            counted = count_text(workload.prompt, workload.model)
            if counts is not None:
                counts[encoding] = counted
        input_tokens = counted.tokens
    cached_tokens = int(input_tokens * share)  # whole tokens, rounded down: an estimate never flatters
    cost = cost_of(workload.model, input_tokens, workload.output_tokens, cached_tokens, tier=workload.tier)
    return Estimate(workload, counted, cost)


# --- Comparing models ---------------------------------------------------------------------------

def comparable_models(today: dt.date | None = None) -> list[str]:
    """The models still answering on `today` (default: the price table's date), newest first."""
    return [row.id for row in current_models(today or PRICES_AS_OF)]


def compare(workload: Workload, models: Iterable[str] | None = None) -> list[Estimate]:
    """The same workload on each model, cheapest first (ties keep the table's order).

    A prompt given as text is counted once per tokenizer, not once per model."""
    names = list(models) if models is not None else comparable_models()
    unknown = [name for name in names if get_model(name) is None]
    if unknown:
        raise ValueError(f"no price is known for {', '.join(map(repr, unknown))}; "
                         "see keylab.pricing.MODELS for the models the table lists")
    counts: dict[str, TokenCount] = {}
    estimates = [_estimate(workload.with_changes(model=name), counts) for name in names]
    return sorted(estimates, key=lambda e: e.per_month)


# --- A month of spend against the limits ----------------------------------------------------------

@dataclass(frozen=True)
class Projection:
    """Cumulative spend at the end of each day of a month, and the first day it crosses each line.

    `daily[i]` is day i+1's spend; `actual_days` of them are what was really spent, the rest are
    projected at the estimate's daily rate. A crossing day is None when the line is never reached.
    """

    daily: tuple[Decimal, ...]
    cumulative: tuple[Decimal, ...]
    budget_usd: Decimal | None
    alert_usd: Decimal | None
    actual_days: int = 0

    @property
    def total(self) -> Decimal:
        return self.cumulative[-1] if self.cumulative else Decimal(0)

    @property
    def days(self) -> int:
        return len(self.daily)

    def crossing_day(self, line: Decimal | None) -> int | None:
        """The first day (1-based) whose cumulative spend reaches `line`."""
        if line is None:
            return None
        return next((day for day, total in enumerate(self.cumulative, 1) if total >= line), None)

    @property
    def budget_day(self) -> int | None:
        return self.crossing_day(self.budget_usd)

    @property
    def alert_day(self) -> int | None:
        return self.crossing_day(self.alert_usd)


def project_month(per_day: Decimal | str | int | float, *, budget_usd: Decimal | str | int | float | None = None,
                  alert_usd: Decimal | str | int | float | None = None, days: int = DAYS_PER_MONTH,
                  spent: Sequence[Decimal | str | int | float] = ()) -> Projection:
    """Project a month: the days in `spent` as they happened, then `per_day` for each day left.

    The platform's monthly budget and its notification threshold are the two lines a learner sets;
    the projection says on which day each would be crossed.
    """
    _whole(days, "days", minimum=1)
    rate = _decimal(per_day, "per_day")
    actual = [_decimal(value, "spent") for value in spent]
    if len(actual) > days:
        raise ValueError(f"spent lists {len(actual)} days, more than the {days} days of the month")
    if rate < 0 or any(value < 0 for value in actual):
        raise ValueError("spend cannot be negative")
    budget = _decimal(budget_usd, "budget_usd") if budget_usd is not None else None
    alert = _decimal(alert_usd, "alert_usd") if alert_usd is not None else None
    daily = (*actual, *([rate] * (days - len(actual))))
    cumulative, total = [], Decimal(0)
    for value in daily:
        total += value
        cumulative.append(total)
    return Projection(daily, tuple(cumulative), budget, alert, len(actual))


# --- How much a budget buys -------------------------------------------------------------------------

@dataclass(frozen=True)
class BudgetPlan:
    """How many requests of one shape a monthly budget pays for."""

    budget_usd: Decimal
    per_request: Decimal
    days: int
    requests_per_month: int | None  # None: the requests are free (a budget cannot run out)

    @property
    def requests_per_day(self) -> int | None:
        return None if self.requests_per_month is None else self.requests_per_month // self.days

    @property
    def spent_usd(self) -> Decimal:
        return self.per_request * (self.requests_per_month or 0)

    @property
    def left_over_usd(self) -> Decimal:
        return self.budget_usd - self.spent_usd


def plan_budget(budget_usd: Decimal | str | int | float, per_request: Decimal, *,
                days: int = DAYS_PER_MONTH) -> BudgetPlan:
    """Whole requests of cost `per_request` that fit in `budget_usd` over `days` days."""
    budget = _decimal(budget_usd, "budget_usd")
    if budget < 0:
        raise ValueError(f"budget_usd cannot be negative; got {budget}")
    _whole(days, "days", minimum=1)
    fits = None if per_request <= 0 else int(budget // per_request)  # exact: no rounding before the floor
    return BudgetPlan(budget, per_request, days, fits)


__all__ = [
    "DAYS_PER_MONTH",
    "BudgetPlan",
    "Estimate",
    "Projection",
    "Workload",
    "comparable_models",
    "compare",
    "estimate",
    "plan_budget",
    "project_month",
]

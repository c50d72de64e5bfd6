"""Lab 05: what will it cost? Checkers for `solutions/solution-05-what-will-it-cost.ipynb`.

Every exercise is pure arithmetic on the dated price table, judged against `keylab.pricing.cost_of`
(the function the sandbox bills with) on fixed cases, so the feedback is the same on every run and
costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from keylab.labs.feedback import Feedback, describe, exact_decimal
from keylab.labs.registry import exercise
from keylab.pricing import COURSE_MODEL, cost_of

TITLE = "What will it cost?"

# (model, input tokens, cached tokens, output tokens): each under the long-context threshold.
CACHE_CASES = (
    (COURSE_MODEL, 1_000, 0, 200),
    (COURSE_MODEL, 1_000, 800, 200),
    ("gpt-6-astra", 50_000, 40_000, 2_000),
    ("gpt-5.4-mini", 3_000, 3_000, 0),
)
# (model, input tokens, output tokens, requests per day, days, tier)
MONTH_CASES = (
    (COURSE_MODEL, 1_000, 200, 100, 30, "standard"),
    ("gpt-6-sol", 2_500, 400, 1_000, 31, "standard"),
    ("gpt-6-sol", 2_500, 400, 1_000, 30, "flex"),
    ("gpt-6-astra", 500, 100, 10, 7, "fast"),
)
# (input tokens, output tokens, models, the cheapest): input-heavy and output-heavy shapes differ.
CHEAPEST_CASES = (
    (100_000, 10, ("gpt-4.1-mini", "gpt-5-mini"), "gpt-5-mini"),
    (10, 100_000, ("gpt-4.1-mini", "gpt-5-mini"), "gpt-4.1-mini"),
    (1_000, 200, ("gpt-6-astra", "gpt-6-sol", COURSE_MODEL), COURSE_MODEL),
)


def _exact(fb: Feedback, label: str, got: Any, expected: Decimal) -> None:
    exact_decimal(fb, label, got, expected, not_decimal="return a Decimal (prices in the table are Decimals, "
                  "and float arithmetic loses cents)")


@exercise(
    "05.1",
    names=["cost_with_cache"],
    hint="row = get_model(model); uncached = input_tokens - cached_tokens; "
    "(uncached * row.input + cached_tokens * row.cached_input + output_tokens * row.output) / 1_000_000",
)
def check_cost_with_cache(fb: Feedback, cost_with_cache: Callable[..., Any]) -> None:
    for model, inp, cached, out in CACHE_CASES:
        got = fb.call(cost_with_cache, model, inp, cached, out)
        _exact(fb, f"{model}, {inp:,} in ({cached:,} cached), {out:,} out", got,
               cost_of(model, inp, out, cached).total_usd)


@exercise(
    "05.2",
    names=["month_cost"],
    hint="cost_of(model, input_tokens, output_tokens, tier=tier).total_usd * requests_per_day * days",
)
def check_month_cost(fb: Feedback, month_cost: Callable[..., Any]) -> None:
    for model, inp, out, per_day, days, tier in MONTH_CASES:
        got = fb.call(month_cost, model, inp, out, per_day, days=days, tier=tier)
        expected = cost_of(model, inp, out, tier=tier).total_usd * per_day * days
        _exact(fb, f"{model} {tier}, {per_day:,}/day for {days} days", got, expected)


@exercise(
    "05.3",
    names=["cheapest_model"],
    hint="min(models, key=lambda m: cost_of(m, input_tokens, output_tokens).total_usd)",
)
def check_cheapest_model(fb: Feedback, cheapest_model: Callable[..., Any]) -> None:
    for inp, out, models, expected in CHEAPEST_CASES:
        got = fb.call(cheapest_model, inp, out, list(models))
        label = f"{inp:,} in, {out:,} out among {', '.join(models)}"
        if got == expected:
            fb.ok(f"{label} → {got}")
        else:
            fb.fail(f"{label}: returned {describe(got)}, expected {expected!r}")
            if inp > out:
                fb.hint("with long prompts and short answers, the input price decides")

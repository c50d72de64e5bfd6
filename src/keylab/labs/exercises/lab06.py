"""Lab 06: setting limits. Checkers for `solutions/solution-06-setting-limits.ipynb`.

06.1 gets errors built by the SDK from the catalogue (exactly as the API sends them); 06.2 is
arithmetic on the price table; 06.3 runs the learner's batch loop with a stand-in for a guarded call
that refuses after a set number of calls, so the feedback is the same on every run and costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from keylab.guard import BudgetExceeded
from keylab.labs.feedback import Feedback, describe, exact_decimal
from keylab.labs.registry import exercise
from keylab.lessons.failures import make_error
from keylab.pricing import COURSE_MODEL, cost_of

TITLE = "Setting limits"

# (catalogue case, is it a spend limit?)
ERROR_CASES = (
    ("project_spend_limit_exceeded", True),
    ("organization_spend_limit_exceeded", True),
    ("insufficient_quota", False),
    ("rate_limit_requests", False),
    ("server_error", False),
    ("invalid_api_key", False),
)
# (model, prompt tokens, output cap)
WORST_CASES = (
    (COURSE_MODEL, 1_000, 200),
    ("gpt-6-astra", 3_000, 50),
    ("gpt-6-sol", 0, 4_000),
    (COURSE_MODEL, 300_000, 1_000),  # a long prompt: the long-context rates apply
)


@exercise(
    "06.1",
    names=["is_budget_error"],
    hint="a spend limit is a 429 whose e.code is 'project_spend_limit_exceeded' or "
    "'organization_spend_limit_exceeded'",
)
def check_is_budget_error(fb: Feedback, is_budget_error: Callable[[Any], Any]) -> None:
    for name, expected in ERROR_CASES:
        error = make_error(name)
        got = fb.call(is_budget_error, error)
        label = f"{type(error).__name__} {error.status_code} {error.code}"
        if got is expected:
            fb.ok(f"{label} → {got}")
        else:
            fb.fail(f"{label}: returned {describe(got)}, expected {expected}")
            if name == "insufficient_quota":
                fb.hint("insufficient_quota is an empty balance, not a budget: the fix is credit, not a limit")


@exercise(
    "06.2",
    names=["worst_case_usd"],
    hint="the worst case is the whole output cap used: cost_of(model, prompt_tokens, max_output_tokens).total_usd",
)
def check_worst_case(fb: Feedback, worst_case_usd: Callable[..., Any]) -> None:
    for model, prompt, cap in WORST_CASES:
        got = fb.call(worst_case_usd, model, prompt, cap)
        expected = cost_of(model, prompt, cap).total_usd
        exact_decimal(fb, f"{model}, {prompt:,} prompt tokens, cap {cap:,}", got, expected,
                      not_decimal="return the Decimal from cost_of")


class _Budget:
    """Stands in for a guarded call: answers `allowed` times, then refuses like BudgetGuard does."""

    def __init__(self, allowed: int) -> None:
        self.allowed = allowed
        self.sent: list[str] = []

    def __call__(self, item: str) -> str:
        if len(self.sent) >= self.allowed:
            raise BudgetExceeded(budget_usd=Decimal("0.01"), spent_usd=Decimal("0.0095"), reserved_usd=Decimal(0),
                                 needed_usd=Decimal("0.0007"), what="the lab's stand-in call", period="total")
        self.sent.append(item)
        return f"summary of {item}"


@exercise(
    "06.3",
    names=["run_batch"],
    hint="for number, item in enumerate(items): skip numbers already in results; "
    "try: results[number] = call(item) / except BudgetExceeded: return False; after the loop, return True",
)
def check_run_batch(fb: Feedback, run_batch: Callable[..., Any]) -> None:
    items = [f"ticket {n}" for n in range(1, 8)]
    results: dict[int, str] = {}
    month1 = _Budget(allowed=3)
    try:
        first = run_batch(items, results, month1)
    except BudgetExceeded:
        fb.fail("BudgetExceeded escaped from run_batch: catch it, and return False")
        return
    except NotImplementedError:  # the lab's placeholder body: not attempted yet, no hint
        raise
    except Exception as error:  # noqa: BLE001 - report what the learner's code raised
        fb.fail(f"run_batch raised {type(error).__name__}: {error}")
        return
    fb.expect(first is False, "the first run stops at the budget and returns False",
              f"the first run returned {describe(first)}; return False when the budget stops the batch")
    fb.require(results == {n: f"summary of {items[n]}" for n in range(3)},
               "the 3 answers the budget allowed are kept in results, by item number",
               f"results after the first run: {describe(results)}; expected items 0-2 stored as results[number]")
    month2 = _Budget(allowed=10)
    second = fb.call(run_batch, items, results, month2)
    fb.expect(month2.sent == items[3:], "the second run sends only the 4 items not done yet",
              f"the second run sent {month2.sent}; skip the numbers already in results")
    fb.expect(second is True and len(results) == len(items), "the second run finishes and returns True",
              f"the second run returned {describe(second)} with {len(results)} of {len(items)} results")

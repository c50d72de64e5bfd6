"""keylab.estimate: the arithmetic behind the cost widgets, in exact decimals, table-driven."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from keylab.estimate import Workload, compare, estimate, plan_budget, project_month
from keylab.pricing import MODELS, UnknownModelError, cost_of

D = Decimal


@pytest.mark.parametrize(
    ("workload", "per_request", "per_day", "per_month"),
    [
        # gpt-6-luna: $0.10 in, $0.01 cached, $0.50 out per 1M tokens
        (Workload("gpt-6-luna", input_tokens=1_000, output_tokens=200, requests_per_day=100),
         D("0.0002"), D("0.02"), D("0.6")),
        # half the prompt cached: 500 x 0.10 + 500 x 0.01 + 200 x 0.50, per 1M
        (Workload("gpt-6-luna", input_tokens=1_000, output_tokens=200, cached_share="0.5", requests_per_day=100),
         D("0.000155"), D("0.0155"), D("0.465")),
        # flex halves, fast doubles
        (Workload("gpt-6-luna", input_tokens=1_000, output_tokens=200, tier="flex", requests_per_day=10, days=31),
         D("0.0001"), D("0.001"), D("0.031")),
        (Workload("gpt-6-astra", input_tokens=1_000, output_tokens=1_000, tier="fast", requests_per_day=1, days=1),
         D("0.12"), D("0.12"), D("0.12")),
        # long context: 300K tokens bill whole at 2x input, 1.5x output
        (Workload("gpt-6-luna", input_tokens=300_000, output_tokens=1_000, requests_per_day=1, days=1),
         D("0.06075"), D("0.06075"), D("0.06075")),
        # nothing sent, nothing spent
        (Workload("gpt-6-luna", input_tokens=0, output_tokens=0, requests_per_day=0), D(0), D(0), D(0)),
    ],
)
def test_estimate_is_exact(workload: Workload, per_request: Decimal, per_day: Decimal, per_month: Decimal) -> None:
    result = estimate(workload)
    assert (result.per_request, result.per_day, result.per_month) == (per_request, per_day, per_month)
    assert isinstance(result.per_month, Decimal)


def test_estimate_bills_like_the_sandbox() -> None:
    work = Workload("gpt-5.4", input_tokens=12_345, output_tokens=678, cached_share=0.25, tier="batch")
    result = estimate(work)
    assert result.cached_tokens == 3_086  # rounded down
    assert result.per_request == cost_of("gpt-5.4", 12_345, 678, 3_086, tier="batch").total_usd


def test_estimate_counts_a_prompt_and_says_how() -> None:
    result = estimate(Workload("gpt-6-luna", prompt="Hello world, this is a prompt.", output_tokens=10))
    assert result.input_tokens > 0 and result.token_count is not None
    assert result.token_count.tokens == result.input_tokens
    if result.token_count.exact:
        assert result.token_count.note.startswith("counted with tiktoken")
    else:
        assert result.token_count.note.startswith("approximate (about 4 characters per token)")


def test_compare_counts_a_prompt_once_per_encoding(monkeypatch: pytest.MonkeyPatch) -> None:
    import keylab.estimate
    from keylab.pricing.tokens import encoding_name_for

    counted: list[str] = []
    real = keylab.estimate.count_text

    def count_text(text: str, model: str) -> Any:
        counted.append(model)
        return real(text, model)

    monkeypatch.setattr(keylab.estimate, "count_text", count_text)
    results = compare(Workload(prompt="Summarise this support ticket.", output_tokens=100))
    assert len(counted) == len({encoding_name_for(r.model) for r in results}) < len(results)
    assert {r.input_tokens for r in results} == {real("Summarise this support ticket.", m).tokens for m in counted}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"cached_share": "1.5"}, "from 0 to 1"),
        ({"cached_share": "half"}, "must be a number"),
        ({"output_tokens": -1}, "output_tokens must be a whole number"),
        ({"requests_per_day": 2.5}, "requests_per_day must be a whole number"),
        ({"days": 0}, "days must be a whole number, 1 or more"),
        ({"tier": "cheap"}, "unknown tier"),
    ],
)
def test_bad_input_says_what_to_change(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        estimate(Workload(input_tokens=10).with_changes(**changes))


def test_unknown_model() -> None:
    with pytest.raises(UnknownModelError):
        estimate(Workload("gpt-6-lunar", input_tokens=10))
    with pytest.raises(ValueError, match="gpt-6-lunar"):
        compare(Workload(input_tokens=10), ["gpt-6-luna", "gpt-6-lunar"])


def test_compare_sorts_cheapest_first() -> None:
    results = compare(Workload(input_tokens=2_000, output_tokens=500, requests_per_day=50))
    months = [r.per_month for r in results]
    assert months == sorted(months)
    assert len({r.model for r in results}) == len(results) and set(r.model for r in results) <= set(MODELS)
    assert results[0].model == "gpt-5-nano"  # $0.05 / $0.40: the cheapest row still answering then


@pytest.mark.parametrize(
    ("per_day", "spent", "budget", "alert", "alert_day", "budget_day", "total"),
    [
        ("1", (), "10", "8", 8, 10, D(30)),
        ("0.30", (), "10", "8", 27, None, D("9.00")),
        ("0", (), "10", "8", None, None, D(0)),
        ("1", ("5", "5"), "10", "8", 2, 2, D(38)),  # two expensive days, then the normal rate
        ("0.5", (), None, None, None, None, D(15)),
    ],
)
def test_projection_crossing_days(per_day: str, spent: tuple[str, ...], budget: str | None, alert: str | None,
                                  alert_day: int | None, budget_day: int | None, total: Decimal) -> None:
    p = project_month(per_day, budget_usd=budget, alert_usd=alert, spent=spent)
    assert (p.alert_day, p.budget_day, p.total, p.days, p.actual_days) == (alert_day, budget_day, total, 30,
                                                                           len(spent))
    assert p.cumulative[0] == p.daily[0] and list(p.cumulative) == sorted(p.cumulative)


def test_projection_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="more than the 3 days"):
        project_month("1", days=3, spent=["1"] * 4)
    with pytest.raises(ValueError, match="negative"):
        project_month("-1")


@pytest.mark.parametrize(
    ("budget", "per_request", "fits", "per_day", "left"),
    [
        ("10", D("0.0002"), 50_000, 1_666, D(0)),
        ("1", D("0.3"), 3, 0, D("0.1")),
        ("0", D("0.01"), 0, 0, D(0)),
        ("5", D(0), None, None, D(5)),
    ],
)
def test_plan_budget(budget: str, per_request: Decimal, fits: int | None, per_day: int | None, left: Decimal) -> None:
    plan = plan_budget(budget, per_request)
    assert (plan.requests_per_month, plan.requests_per_day, plan.left_over_usd) == (fits, per_day, left)

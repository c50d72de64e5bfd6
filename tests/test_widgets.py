"""The cost widgets at model level: set traits (or controls), read what they computed. No browser."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
import traitlets
from openai import OpenAI

from keylab.estimate import Workload, estimate
from keylab.pricing import COURSE_MODEL, cost_of
from keylab.widgets import BudgetPlanner, CostCalculator, ModelComparison, SpendProjection, UsageReport

D = Decimal


def test_calculator_traits_drive_the_estimate() -> None:
    calc = CostCalculator(prompt="Summarise this e-mail in one line.", output_tokens=100, requests_per_day=1_000)
    tokens = calc.estimate.input_tokens
    assert tokens > 0
    assert calc.estimate.per_request == cost_of(COURSE_MODEL, tokens, 100).total_usd
    assert calc.estimate.per_day == calc.estimate.per_request * 1_000
    assert calc.estimate.per_month == calc.estimate.per_day * 30
    before = calc.estimate.per_month

    calc.model = "gpt-6-astra"
    assert calc.estimate.model == "gpt-6-astra" and calc.estimate.per_month > before
    calc.days = 31
    assert calc.estimate.per_month == calc.estimate.per_day * 31
    calc.output_tokens = 0
    calc.requests_per_day = 2
    assert calc.estimate.per_day == cost_of("gpt-6-astra", calc.estimate.input_tokens, 0).total_usd * 2


def test_calculator_controls_and_traits_follow_each_other() -> None:
    calc = CostCalculator()
    pairs: list[tuple[str, Any, Any]] = [
        ("model", calc.model_control, "gpt-5.4"), ("prompt", calc.prompt_control, "Hello there"),
        ("output_tokens", calc.output_control, 321), ("requests_per_day", calc.requests_control, 77),
        ("days", calc.days_control, 12), ("tier", calc.tier_control, "flex"),
        ("cached_share", calc.cached_control, 0.5),
    ]
    for name, control, value in pairs:
        control.value = value  # as a learner would, in the browser
        assert getattr(calc, name) == value, name
    assert calc.estimate.workload == Workload("gpt-5.4", "Hello there", 321, 77, 12, 0.5, "flex")
    calc.model, calc.prompt, calc.output_tokens = "gpt-6-luna", "Bye", 9  # and from code
    assert (calc.model_control.value, calc.prompt_control.value, calc.output_control.value) == ("gpt-6-luna", "Bye", 9)


def test_calculator_counts_tokens_as_you_type() -> None:
    calc = CostCalculator()
    calc.prompt_control.value = "one two three"
    first = calc.estimate.input_tokens
    calc.prompt_control.value = "one two three four five six seven eight"
    assert calc.estimate.input_tokens > first
    assert f"{calc.estimate.input_tokens:,} input tokens" in calc.tokens_label.value


def test_calculator_refuses_bad_values_and_keeps_the_last_good_ones() -> None:
    calc = CostCalculator(model="gpt-6-luna")
    with pytest.raises(traitlets.TraitError, match="no price is known for model 'gpt-6-lunar'"):
        calc.model = "gpt-6-lunar"
    with pytest.raises(traitlets.TraitError, match="from 0 to 1"):
        calc.cached_share = 2.0
    with pytest.raises(traitlets.TraitError, match="days must be 1 or more"):
        calc.days = 0
    assert (calc.model, calc.cached_share, calc.days) == ("gpt-6-luna", 0.0, 30)
    assert calc.model_control.value == "gpt-6-luna"


def test_calculator_shows_its_numbers() -> None:
    calc = CostCalculator(prompt="x " * 100, output_tokens=50, requests_per_day=10)
    assert "Per month" in calc.result.value
    # 50 output tokens at $0.50 per 1M, to 8 places (whatever the prompt's count, exact or approximate)
    assert ('<td>Output</td><td style="text-align:right">50</td><td style="text-align:right">$0.00002500</td>'
            in calc.result.value)
    assert "gpt-6-luna" in repr(calc) and "per 30 days" in repr(calc)


def test_comparison_is_sorted_and_follows_its_traits() -> None:
    comparison = ModelComparison(input_tokens=1_000, output_tokens=100, requests_per_day=10)
    months = [e.per_month for e in comparison.estimates]
    assert months == sorted(months) and len(months) > 5
    one = {e.model: e for e in comparison.estimates}[COURSE_MODEL]
    assert one.per_request == cost_of(COURSE_MODEL, 1_000, 100).total_usd
    comparison.output_tokens = 10_000  # output-heavy: the order may change, the sort must hold
    months = [e.per_month for e in comparison.estimates]
    assert months == sorted(months)
    assert comparison.estimates[0].model in comparison.table.value and "<svg" in comparison.chart.value


def test_projection_crossing_days_follow_the_controls() -> None:
    projection = SpendProjection(per_day="1", budget_usd="10", alert_usd="8")
    assert (projection.projection.alert_day, projection.projection.budget_day) == (8, 10)
    assert "crossed on day 10" in projection.summary.value
    projection.per_day = D("0.5")
    assert projection.projection.budget_day == 20
    projection.children[3].value = 5.0  # the alert control, typed in dollars
    assert projection.alert_usd == D(5) and projection.projection.alert_day == 10
    with pytest.raises(traitlets.TraitError):
        projection.budget_usd = "-1"
    assert projection.budget_usd == D(10)


def test_planner_fits_requests_in_a_budget() -> None:
    planner = BudgetPlanner(budget_usd="10", model=COURSE_MODEL, input_tokens=1_000, output_tokens=200)
    assert planner.plan.per_request == D("0.0002")
    assert planner.plan.requests_per_month == 50_000
    planner.model = "gpt-6-astra"  # $10 / $50: 0.02 per request
    assert planner.plan.requests_per_month == 500 and "500 requests" in planner.answer.value


def test_usage_report_reads_the_bill_beside_the_estimate(sandbox: Any, control: Any, account: dict[str, Any],
                                                         client: OpenAI, admin_client: OpenAI) -> None:
    prompt = "Write a haiku about budgets."
    for _ in range(3):
        client.chat.completions.create(model=COURSE_MODEL, messages=[{"role": "user", "content": prompt}],
                                       max_completion_tokens=50)
    guess = estimate(Workload(COURSE_MODEL, input_tokens=20, output_tokens=30))
    today = dt.date.fromisoformat(control.clock()["today"])
    report = UsageReport(admin_client, days=3, today=today, estimate=guess)
    bill = report.report
    assert bill.requests_per_model == {COURSE_MODEL: 3}
    assert bill.total > 0 and bill.per_day[today] == bill.total == bill.per_model[COURSE_MODEL]
    assert sum(bill.per_key.values()) == bill.total and account["api_key_id"] in bill.per_key
    label = bill.key_label(account["api_key_id"])
    assert label.endswith(account["api_key"][-4:] + ")") and account["api_key"] not in label  # redacted, never whole
    assert label in report.charts.value or label[-21:] in report.charts.value
    assert set(bill.per_day) == {today - dt.timedelta(days=n) for n in range(3)}
    assert "3 requests" in report.summary.value and "billed" in report.summary.value
    client.chat.completions.create(model="gpt-6-astra", messages=[{"role": "user", "content": prompt}])
    assert set(report.refresh().per_model) == {COURSE_MODEL, "gpt-6-astra"}


def test_usage_report_follows_pages_over_long_periods(control: Any, client: OpenAI, admin_client: OpenAI) -> None:
    from keylab.spend import fetch_spend

    client.chat.completions.create(model=COURSE_MODEL, messages=[{"role": "user", "content": "hello"}])
    today = dt.date.fromisoformat(control.clock()["today"])
    bill = fetch_spend(admin_client, today - dt.timedelta(days=44), today + dt.timedelta(days=1))  # 2 pages
    assert len(bill.per_day) == 45 and bill.total == bill.per_day[today] > 0
    assert bill.requests == 1
    with pytest.raises(ValueError, match="must come after start"):
        fetch_spend(admin_client, today, today)


@pytest.mark.parametrize("make", [CostCalculator, ModelComparison, BudgetPlanner], ids=lambda w: w.__name__)
@pytest.mark.parametrize(("trait", "bad", "message"), [
    ("tier", "bogus", "unknown tier 'bogus'"),
    ("output_tokens", -1, "output_tokens must be 0 or more"),
    ("cached_share", 1.5, "cached_share is from 0 to 1"),
    ("days", 0, "days must be 1 or more"),
])
def test_every_widget_refuses_what_the_calculator_refuses(make: Any, trait: str, bad: Any, message: str) -> None:
    """The same traits take the same values in every widget; a refused value leaves the old one."""
    widget = make()
    before = getattr(widget, trait)
    with pytest.raises(traitlets.TraitError, match=message):
        setattr(widget, trait, bad)
    assert getattr(widget, trait) == before

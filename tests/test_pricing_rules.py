"""Every rule a bill follows, in exact decimals: tiers, long prompts, cached and reasoning tokens."""

from __future__ import annotations

from decimal import Decimal

import pytest

from keylab.pricing import LONG_CONTEXT_MODELS, MODELS, SOURCES, TIERS, cost_of, resolve_tier
from keylab.pricing.table import TIER_ALIASES

D = Decimal


# (model, input, output, cached, tier, reasoning) -> total USD, worked out by hand from the table:
# gpt-6.1-terra 1.00 / 0.05 / 5.00, gpt-6-luna 0.10 / 0.01 / 0.50, gpt-4.1 2.00 / 0.50 / 8.00 per 1M.
CASES = [
    # 200K input at 1.00 + 1M output at 5.00
    ("standard", "gpt-6.1-terra", 200_000, 1_000_000, 0, "standard", 0, D("5.20")),
    ("default-is-standard", "gpt-6.1-terra", 200_000, 1_000_000, 0, "default", 0, D("5.20")),
    ("none-is-standard", "gpt-6.1-terra", 200_000, 1_000_000, 0, None, 0, D("5.20")),
    ("batch-half", "gpt-6.1-terra", 200_000, 1_000_000, 0, "batch", 0, D("2.60")),
    ("flex-half", "gpt-6.1-terra", 200_000, 1_000_000, 0, "flex", 0, D("2.60")),
    ("fast-double", "gpt-6.1-terra", 200_000, 1_000_000, 0, "fast", 0, D("10.40")),
    ("priority-old-name", "gpt-6.1-terra", 200_000, 1_000_000, 0, "priority", 0, D("10.40")),
    # 120K uncached at 0.50 + 80K cached at 0.025 (flex halves the cached rate too)
    ("flex-cached", "gpt-6.1-terra", 200_000, 0, 80_000, "flex", 0, D("0.062")),
    # 1M input and 1M output on gpt-6-luna: long context, 0.10*2 + 0.50*1.5
    ("million-is-long", "gpt-6-luna", 1_000_000, 1_000_000, 0, "standard", 0, D("0.95")),
    ("at-272K-not-long", "gpt-6.1-terra", 272_000, 0, 0, "standard", 0, D("0.272")),
    # 272,001 input at 2.00 + 1,000 output at 7.50
    ("long-context", "gpt-6.1-terra", 272_001, 1_000, 0, "standard", 0, D("0.551502")),
    # 172,001 uncached at 2.00 + 100,000 cached at 0.10 + 1,000 output at 7.50
    ("long-context-cached", "gpt-6.1-terra", 272_001, 1_000, 100_000, "standard", 0, D("0.361502")),
    # 300K at 0.10*2*2 + 1,000 at 0.50*1.5*2: the tier applies on top of the long-context rates
    ("long-context-fast", "gpt-6-luna", 300_000, 1_000, 0, "fast", 0, D("0.1215")),
    ("long-context-batch", "gpt-6-luna", 300_000, 1_000, 0, "batch", 0, D("0.030375")),
    # gpt-4.1 takes 1M-token prompts at its flat price: the rule does not apply to it
    ("no-rule-on-gpt-4.1", "gpt-4.1", 300_000, 1_000, 0, "standard", 0, D("0.608")),
    # 100 input at 0.10 + 1,000 output (800 of them reasoning) at 0.50
    ("reasoning-is-output", "gpt-6-luna", 100, 1_000, 0, "standard", 800, D("0.00051")),
    ("tiny-fast", "gpt-6-luna", 1, 1, 0, "fast", 0, D("0.0000012")),
]


@pytest.mark.parametrize(("model", "inp", "out", "cached", "tier", "reasoning", "expected"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_rule(model: str, inp: int, out: int, cached: int, tier: str | None, reasoning: int, expected: Decimal) -> None:
    cost = cost_of(model, inp, out, cached, tier=tier, reasoning_tokens=reasoning)
    assert isinstance(cost.total_usd, Decimal)
    assert cost.total_usd == expected
    assert cost.total_pico == int(expected * 10**12)


def test_cost_reports_its_rules() -> None:
    cost = cost_of("gpt-6.1-terra", 300_000, 1_000, tier="priority", reasoning_tokens=400)
    assert cost.tier == "fast" and cost.long_context
    assert cost.reasoning_tokens == 400
    assert cost.reasoning_usd == D(400) * D("5.00") * 2 * D("1.5") / 1_000_000
    assert cost.reasoning_usd < cost.output_usd
    assert not cost_of("gpt-6.1-terra", 10, 10).long_context


@pytest.mark.parametrize("tier", [*TIERS, *TIER_ALIASES])
@pytest.mark.parametrize("model", sorted(MODELS))
def test_a_tier_scales_every_part_of_every_row(model: str, tier: str) -> None:
    """The tier multiplies input, cached input and output alike, exactly, on every model."""
    base = cost_of(model, 12_345, 6_789, 2_345)
    scaled = cost_of(model, 12_345, 6_789, 2_345, tier=tier)
    factor = resolve_tier(tier).multiplier
    assert (scaled.input_usd, scaled.cached_usd, scaled.output_usd) == (
        base.input_usd * factor, base.cached_usd * factor, base.output_usd * factor)


@pytest.mark.parametrize("model", sorted(MODELS))
def test_long_context_applies_exactly_to_its_models(model: str) -> None:
    short = cost_of(model, 272_000, 1_000, 1_000)
    long = cost_of(model, 272_001, 1_000, 1_000)
    per_token = D(MODELS[model].input) / 1_000_000
    if model in LONG_CONTEXT_MODELS:
        assert long.long_context and MODELS[model].context_window > 272_000
        assert long.input_usd == (short.input_usd + per_token) * 2
        assert long.cached_usd == short.cached_usd * 2
        assert long.output_usd == short.output_usd * D("1.5")
    else:
        assert not long.long_context
        assert long.total_usd == short.total_usd + per_token


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"tier": "turbo"}, "unknown tier 'turbo'"),
    ({"tier": "auto"}, "unknown tier"),
    ({"reasoning_tokens": 11}, "part of output_tokens"),
    ({"reasoning_tokens": -1}, "reasoning_tokens must be"),
], ids=["unknown-tier", "auto-is-not-a-price", "reasoning-above-output", "negative"])
def test_bad_input_says_what_to_do(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cost_of("gpt-6-luna", 10, 10, **kwargs)


def test_negative_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="input_tokens must be"):
        cost_of("gpt-6-luna", -1, 10)


def test_tiers_are_dated_and_sourced() -> None:
    assert resolve_tier("priority") is TIERS["fast"] and resolve_tier("default") is TIERS["standard"]
    assert TIERS["fast"].service_tier == "priority"  # what a response echoes for fast mode
    for tier in TIERS.values():
        for name in tier.source.split("; "):
            assert name in SOURCES, name
    for row in MODELS.values():
        for name in row.source.split("; "):
            assert name.split(" (")[0] in SOURCES, (row.id, name)
    assert all(url.startswith("https://") for url in SOURCES.values())

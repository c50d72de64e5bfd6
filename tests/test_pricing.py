"""keylab.pricing: exact decimal costs, the dated table, and honest token counts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from keylab.pricing import (
    COURSE_MODEL,
    MODELS,
    UnknownModelError,
    cost_of,
    count_messages,
    count_text,
    current_models,
    format_usd,
    from_pico,
    get_model,
    to_pico,
)
from keylab.pricing.tokens import encoding_name_for

SHARED_CACHE = Path(__file__).resolve().parents[1].parent / "shared" / "tiktoken-cache"


@pytest.mark.parametrize(("model", "inp", "out", "cached", "expected"), [
    ("gpt-6-luna", 200_000, 1_000_000, 0, Decimal("0.52")),  # 200K at 0.10 + 1M at 0.50
    ("gpt-6-luna", 1, 1, 0, Decimal("0.0000006")),
    ("gpt-6.1-terra", 1000, 500, 400, Decimal("0.00312")),  # 600*1.00 + 400*0.05 + 500*5.00, per 1M
    ("gpt-4o-mini", 3, 7, 0, Decimal("0.00000465")),
    ("gpt-4-turbo", 10, 0, 10, Decimal("0.0001")),  # no cached price: cached tokens bill at input
], ids=["luna-1M-out", "luna-1-token", "terra-cached", "4o-mini-tiny", "no-cached-rate"])
def test_cost_is_exact_decimal(model: str, inp: int, out: int, cached: int, expected: Decimal) -> None:
    """Costs are Decimal, never float: tiny calls do not round to zero and sums stay exact."""
    cost = cost_of(model, inp, out, cached_tokens=cached)
    assert isinstance(cost.total_usd, Decimal)
    assert cost.total_usd == expected
    assert from_pico(cost.total_pico) == expected


def test_pico_sums_are_exact() -> None:
    """200,000 one-token calls cost exactly 200,000 times one (no float drift)."""
    one = cost_of("gpt-6-luna", 1, 0).total_pico
    assert one * 200_000 == to_pico(cost_of("gpt-6-luna", 200_000, 0).total_usd)


def test_cached_tokens_cannot_exceed_input() -> None:
    assert cost_of("gpt-6-luna", 10, 0, cached_tokens=50).cached_tokens == 10


def test_unknown_model_raises() -> None:
    with pytest.raises(UnknownModelError, match="no price is known"):
        cost_of("gpt-nope", 1, 1)


@pytest.mark.parametrize(("amount", "text"), [
    (Decimal("0.000125"), "$0.000125"),
    (Decimal("0.0000004"), "$0.000000"),
    (Decimal("1234.5"), "$1,234.50"),
    (Decimal("5"), "$5.00"),
    (Decimal("0.1234565"), "$0.123457"),
], ids=["micro", "below-display", "thousands", "whole", "half-up"])
def test_format_usd(amount: Decimal, text: str) -> None:
    assert format_usd(amount) == text


@pytest.mark.parametrize(("name", "family"), [
    ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
    ("gpt-6-luna", "gpt-6-luna"),
    ("gpt-5.4-2026-03-05", "gpt-5.4"),
], ids=["snapshot", "family", "dotted-family"])
def test_snapshots_map_to_their_family(name: str, family: str) -> None:
    row = get_model(name)
    assert row is not None and row.id == family


@pytest.mark.parametrize("name", ["gpt-nope", "gpt-4o-mini-latest", "", "gpt-4o-mini-2024-7-18"])
def test_unknown_names(name: str) -> None:
    assert get_model(name) is None


def test_shut_down_models() -> None:
    """Models past their shutdown date leave the listing; the day before, they are still there."""
    o1 = MODELS["o1"]
    assert o1.shutdown_date == dt.date(2026, 10, 23)
    assert o1.is_shut_down(dt.date(2026, 10, 23)) and not o1.is_shut_down(dt.date(2026, 10, 22))
    ids_today = {m.id for m in current_models(dt.date(2026, 11, 28))}
    assert "o1" not in ids_today and "gpt-6-luna" in ids_today and "gpt-5" in ids_today
    assert "gpt-5" not in {m.id for m in current_models(dt.date(2026, 12, 11))}


def test_every_row_is_consistent() -> None:
    for row in MODELS.values():
        assert row.input > 0 and row.output >= row.input
        assert row.cached_input is None or row.cached_input <= row.input
        assert row.replacement is None or row.replacement in MODELS


def test_counts_are_exact_with_the_encoding_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    if not (SHARED_CACHE / "fb374d419588a4632f3f557e76b4b70aebbca790").is_file():
        pytest.skip(f"no offline tiktoken cache at {SHARED_CACHE}")
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(SHARED_CACHE))
    counted = count_text("hello world", "gpt-4o")
    assert counted.exact and counted.tokens == 2 and counted.encoding == "o200k_base"
    assert "tiktoken" in counted.note
    # cookbook: 3 per message + content tokens + 3 reply priming
    messages = count_messages([{"role": "user", "content": "hello world"}], "gpt-4o")
    assert messages.exact and messages.tokens == 3 + 1 + 2 + 3


def test_counts_are_approximate_without_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """With an empty cache dir nothing is downloaded: the count is ~4 characters per token, and says so."""
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    counted = count_text("x" * 41, "gpt-6-luna")
    assert not counted.exact and counted.tokens == 11
    assert "approximate" in counted.note
    assert list(tmp_path.iterdir()) == [], "nothing may be fetched into the cache"


@pytest.mark.parametrize(("model", "encoding"), [
    ("gpt-4o", "o200k_base"), ("gpt-4.1-mini", "o200k_base"), ("gpt-4-turbo", "cl100k_base"),
    ("gpt-3.5-turbo", "cl100k_base"), ("gpt-6-luna", "o200k_base"), ("o1", "o200k_base"),
])
def test_encoding_for_model(model: str, encoding: str) -> None:
    assert encoding_name_for(model) == encoding


def test_the_course_model_does_not_retire_soon() -> None:
    """Lessons and tests call COURSE_MODEL through the sandbox, whose clock is real time: a course
    model with a shutdown date would turn every lesson into a 404 on that day."""
    assert MODELS[COURSE_MODEL].shutdown_date is None

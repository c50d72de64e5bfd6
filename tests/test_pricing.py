"""keylab.pricing: exact decimal costs, the dated table, and honest token counts."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
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
    encodings,
    format_usd,
    from_pico,
    get_model,
    to_pico,
    tokens,
)
from keylab.pricing.tokens import encoding_name_for

ENCODINGS = ("o200k_base", "cl100k_base")


def _bundle_installs_here() -> bool:
    """requirements.txt's marker for bpe-openai, which has wheels for some platforms only. Where the
    marker holds, the bundle must be installed: these tests fail rather than skip."""
    from packaging.requirements import Requirement

    text = (Path(__file__).resolve().parents[1] / "requirements.txt").read_text()
    line = next(line for line in text.splitlines() if line.startswith("bpe-openai"))
    marker = Requirement(line.split("#")[0].strip()).marker
    return marker is None or marker.evaluate()


needs_bundle = pytest.mark.skipif(not _bundle_installs_here(),
                                  reason="bpe-openai has no wheel for this platform: counts are approximate here")


@pytest.fixture
def fresh_encodings():
    """Forget loaded encodings and file checks before and after a test that changes where they come from."""
    def clear() -> None:
        for cached in (tokens._load_encoding, tokens._load_encoding_unlocked, encodings.bundle_verified):
            cached.cache_clear()
    clear()
    yield
    clear()


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


@pytest.mark.parametrize(("amount", "text"), [
    (Decimal("0.00000001"), "$0.00000001"),
    (Decimal("0.00000012"), "$0.00000012"),
    (Decimal("0"), "$0.00000000"),
], ids=["one-hundred-millionth", "two-digits", "zero"])
def test_format_usd_at_eight_places_has_no_exponent(amount: Decimal, text: str) -> None:
    assert format_usd(amount, places=8) == text


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


@needs_bundle
def test_counts_are_exact_out_of_the_box(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fresh_encodings) -> None:
    """No TIKTOKEN_CACHE_DIR, an empty tiktoken cache: the encodings bundled with bpe-openai load."""
    monkeypatch.delenv("DATA_GYM_CACHE_DIR", raising=False)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    for name in ENCODINGS:
        assert encodings.source(name) == "bpe-openai"
    counted = count_text("hello world", "gpt-4o")
    assert counted.exact and counted.tokens == 2 and counted.encoding == "o200k_base"
    assert "tiktoken" in counted.note
    assert count_text("hello world", "gpt-4-turbo") == (2, "cl100k_base", True)
    # cookbook: 3 per message + content tokens + 3 reply priming
    messages = count_messages([{"role": "user", "content": "hello world"}], "gpt-4o")
    assert messages.exact and messages.tokens == 3 + 1 + 2 + 3
    assert list(tmp_path.iterdir()) == [], "nothing may be fetched into tiktoken's cache"


@pytest.mark.parametrize("name", ENCODINGS)
@needs_bundle
def test_bundled_files_are_the_ones_tiktoken_expects(name: str) -> None:
    wanted = encodings.recipe_file(name)
    assert wanted.url.endswith(f"/{name}.tiktoken") and len(wanted.sha256) == 64
    data = encodings.bundled_ranks_file(name)
    assert data is not None and hashlib.sha256(data).hexdigest() == wanted.sha256


@pytest.mark.parametrize("name", ENCODINGS)
@needs_bundle
def test_bundled_encoding_is_tiktokens_own(name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The encoding keylab builds matches the one tiktoken builds through its own (hash-checked) cache."""
    import tiktoken

    wanted = encodings.recipe_file(name)
    (tmp_path / hashlib.sha1(wanted.url.encode()).hexdigest()).write_bytes(encodings.bundled_ranks_file(name))
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    theirs, ours = tiktoken.get_encoding(name), encodings.load(name)
    assert (ours.name, ours.n_vocab, ours._pat_str, ours._special_tokens) == (
        theirs.name, theirs.n_vocab, theirs._pat_str, theirs._special_tokens)
    samples = ["hello world", "Grüße, 東京! sk-proj-abc123 <tab>\t\n  ", "def f(x):\n    return x**2\n" * 3,
               "🙂 emoji and numbers 1234567890", "<|endoftext|> is special"]
    for text in samples:
        assert ours.encode(text, disallowed_special=()) == theirs.encode(text, disallowed_special=())
    assert ours.encode("<|endoftext|>", allowed_special="all") == theirs.encode("<|endoftext|>", allowed_special="all")


@needs_bundle
def test_a_tampered_bundle_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fresh_encodings) -> None:
    """A bundled file whose sha256 is not tiktoken's expected one is never used: counts turn approximate."""
    original = encodings.bundled_ranks_file("o200k_base")
    tampered = tmp_path / "o200k_base.tiktoken.gz"
    tampered.write_bytes(gzip.compress(original.replace(b" 0\n", b" 1\n", 1)))
    monkeypatch.setattr(encodings, "bundled_path", lambda name: tampered)
    encodings.bundle_verified.cache_clear()
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "empty"))
    assert encodings.source("o200k_base") is None
    counted = count_text("x" * 41, "gpt-4o")
    assert not counted.exact and counted.tokens == 11


def test_counts_are_approximate_without_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fresh_encodings) -> None:
    """No bundle and an empty cache dir: nothing is downloaded, the count is ~4 characters per token, and says so."""
    monkeypatch.setattr(encodings, "bundled_path", lambda name: None)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    counted = count_text("x" * 41, "gpt-6-luna")
    assert not counted.exact and counted.tokens == 11
    assert "approximate" in counted.note and "bpe-openai" in counted.note
    assert list(tmp_path.iterdir()) == [], "nothing may be fetched into the cache"


@needs_bundle
def test_tiktokens_own_cache_still_counts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fresh_encodings) -> None:
    """Without the bundle, an encoding tiktoken downloaded before (its cache) gives exact counts."""
    wanted = encodings.recipe_file("o200k_base")
    (tmp_path / hashlib.sha1(wanted.url.encode()).hexdigest()).write_bytes(encodings.bundled_ranks_file("o200k_base"))
    monkeypatch.setattr(encodings, "bundled_path", lambda name: None)
    encodings.bundle_verified.cache_clear()
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    assert encodings.source("o200k_base") == "tiktoken cache"
    assert count_text("hello world", "gpt-4o") == (2, "o200k_base", True)


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


def test_lifecycle_marks_shut_down_and_soon_retiring_models_from_the_dated_table() -> None:
    """Lesson 01's price table: o1 was shown without saying it was already gone."""
    import datetime as dt

    from keylab.pricing.table import MODELS, PRICES_AS_OF, RETIRING_SOON_DAYS

    o1 = MODELS["o1"]
    assert o1.lifecycle(PRICES_AS_OF) == f"SHUT DOWN since {o1.shutdown_date} (use {o1.replacement})"
    assert MODELS["gpt-6-luna"].lifecycle(PRICES_AS_OF) == "no shutdown date"
    gpt5 = MODELS["gpt-5"]
    days = (gpt5.shutdown_date - PRICES_AS_OF).days
    assert 0 < days <= RETIRING_SOON_DAYS
    assert gpt5.lifecycle(PRICES_AS_OF) == f"RETIRES {gpt5.shutdown_date}, in {days} days (use gpt-6.1-sol)"
    far = MODELS["gpt-4o"]
    assert far.lifecycle(PRICES_AS_OF) == f"shutdown {far.shutdown_date}"
    assert far.retires_soon(far.shutdown_date - dt.timedelta(days=RETIRING_SOON_DAYS))
    assert not far.retires_soon(far.shutdown_date - dt.timedelta(days=RETIRING_SOON_DAYS + 1))
    assert far.lifecycle(far.shutdown_date).startswith("SHUT DOWN")
    assert far.lifecycle(far.shutdown_date - dt.timedelta(days=1)).endswith("in 1 day (use gpt-6-luna)")


def test_as_usd_keeps_what_was_typed() -> None:
    from decimal import InvalidOperation

    from keylab.pricing import as_usd

    assert as_usd(0.1) == Decimal("0.1") and as_usd("2.50") == Decimal("2.50") and as_usd(3) == Decimal(3)
    amount = Decimal("1.25")
    assert as_usd(amount) is amount
    with pytest.raises(InvalidOperation):
        as_usd("five")

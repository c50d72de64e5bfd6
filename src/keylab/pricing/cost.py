"""What a call costs, in exact decimal arithmetic, from the dated price table and its rules.

The sandbox debits with `cost_of`; the widgets, the budget guard and the lessons estimate with it,
so a prediction and a bill can only differ by the token counts they were given. Money is kept as
`Decimal` dollars; the sandbox stores it as whole picodollars (1e-12 USD) so that sums in SQLite
stay exact: every price per 1M tokens with up to six decimals is a whole number of picodollars
per token.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from keylab.pricing.table import (
    LONG_CONTEXT_INPUT_MULTIPLIER,
    LONG_CONTEXT_MODELS,
    LONG_CONTEXT_OUTPUT_MULTIPLIER,
    LONG_CONTEXT_THRESHOLD,
    ModelPrice,
    get_model,
    resolve_tier,
)

PER_MILLION = Decimal(1_000_000)
PICO_PER_USD = 10**12


@dataclass(frozen=True)
class Cost:
    """The price of one call, split the way an invoice splits it.

    `input_usd` is the uncached input, `cached_usd` the cached part; `output_usd` includes the
    reasoning tokens (`reasoning_usd` says how much of it they are). `tier` is the tier's current
    name ("standard", "batch", "flex", "fast"); `long_context` says whether the whole request was
    billed at the long-prompt rates.
    """

    model: str
    input_tokens: int
    cached_tokens: int
    output_tokens: int
    input_usd: Decimal
    cached_usd: Decimal
    output_usd: Decimal
    tier: str = "standard"
    long_context: bool = False
    reasoning_tokens: int = 0
    reasoning_usd: Decimal = Decimal(0)

    @property
    def total_usd(self) -> Decimal:
        return self.input_usd + self.cached_usd + self.output_usd

    # Whole picodollars, as the sandbox stores them: each part and the total rounded on its own.
    # Cached: a Cost never changes, and the sandbox reads these several times per billed call.
    @functools.cached_property
    def input_pico(self) -> int:
        return to_pico(self.input_usd)

    @functools.cached_property
    def cached_pico(self) -> int:
        return to_pico(self.cached_usd)

    @functools.cached_property
    def output_pico(self) -> int:
        return to_pico(self.output_usd)

    @functools.cached_property
    def total_pico(self) -> int:
        return to_pico(self.total_usd)


class UnknownModelError(KeyError):
    """A model the price table does not list."""

    def __str__(self) -> str:
        return f"no price is known for model {self.args[0]!r}; see keylab.pricing.MODELS for the list"


def cost_of(
    model: str | ModelPrice, input_tokens: int, output_tokens: int, cached_tokens: int = 0, *,
    tier: str | None = "standard", reasoning_tokens: int = 0,
) -> Cost:
    """What a call costs, counted the way the API's `usage` counts it.

    - `input_tokens` includes `cached_tokens`, which bill at the cached rate (more cached tokens
      than input tokens count as all input cached).
    - `output_tokens` includes `reasoning_tokens`: reasoning bills as output, and the split is only
      reported (`Cost.reasoning_usd`).
    - `tier`: "standard", "batch" or "flex" (half price), "fast" (twice; "priority", its old name,
      and "default", the response's name for standard, are accepted too, so a response's
      `service_tier` can be passed as it is; None is standard).
    - More than 272K input tokens on a model with the long-context rule bills the whole request
      at 2x input and cached input and 1.5x output; the tier applies on top.

    Raises `UnknownModelError` for a model the table lacks and `ValueError` for an unknown tier or
    impossible counts.
    """
    row = model if isinstance(model, ModelPrice) else get_model(model)
    if row is None:
        raise UnknownModelError(model)
    rule = resolve_tier(tier)
    for name, count in (("input_tokens", input_tokens), ("output_tokens", output_tokens),
                        ("cached_tokens", cached_tokens), ("reasoning_tokens", reasoning_tokens)):
        if not isinstance(count, int) or count < 0:
            raise ValueError(f"{name} must be a whole number of tokens, 0 or more; got {count!r}")
    if reasoning_tokens > output_tokens:
        raise ValueError(
            f"reasoning_tokens ({reasoning_tokens}) are part of output_tokens ({output_tokens}): "
            "pass the output including reasoning, as usage.output_tokens reports it"
        )
    cached_tokens = min(cached_tokens, input_tokens)
    long_context = input_tokens > LONG_CONTEXT_THRESHOLD and row.id in LONG_CONTEXT_MODELS
    input_scale = output_scale = rule.multiplier
    if long_context:
        input_scale *= LONG_CONTEXT_INPUT_MULTIPLIER
        output_scale *= LONG_CONTEXT_OUTPUT_MULTIPLIER
    cached_rate = row.cached_input if row.cached_input is not None else row.input
    output_rate = row.output * output_scale
    return Cost(
        model=row.id,
        input_tokens=input_tokens,
        cached_tokens=cached_tokens,
        output_tokens=output_tokens,
        input_usd=row.input * input_scale * (input_tokens - cached_tokens) / PER_MILLION,
        cached_usd=cached_rate * input_scale * cached_tokens / PER_MILLION,
        output_usd=output_rate * output_tokens / PER_MILLION,
        tier=rule.name,
        long_context=long_context,
        reasoning_tokens=reasoning_tokens,
        reasoning_usd=output_rate * reasoning_tokens / PER_MILLION,
    )


def as_usd(value: Any) -> Decimal:
    """Exact Decimal dollars from what a person, a control or an API gives: a Decimal as it is; an
    int, a float (through its shortest text, so 0.1 stays 0.1) or a numeric str.

    Raises `decimal.InvalidOperation` for anything else; callers say what they expected. The
    result may be negative, NaN or infinite: callers check what they need."""
    return value if isinstance(value, Decimal) else Decimal(str(value))


def to_pico(usd: Decimal) -> int:
    return int((usd * PICO_PER_USD).to_integral_value(rounding=ROUND_HALF_UP))


def from_pico(pico: int) -> Decimal:
    return Decimal(pico) / PICO_PER_USD


def format_usd(usd: Decimal, places: int = 6) -> str:
    """`$0.000125`-style text; cents for amounts of a dollar or more."""
    if abs(usd) >= 1:
        places = 2
    quantum = Decimal(1).scaleb(-places)
    # ",f": plain digits at any number of places ("{:,}" turns to "1E-8" from 7 places on).
    return f"${usd.quantize(quantum, rounding=ROUND_HALF_UP):,f}"


def format_usd_cents(usd: Decimal) -> str:
    """Money as the platform's billing pages and e-mails show it: cents ("$5.00", "$0.04"), and more
    places only for a non-zero amount under a cent ("$0.000125"), trailing zeros dropped."""
    if usd == 0 or abs(usd) >= Decimal("0.01"):
        return format_usd(usd, places=2)
    text = format_usd(usd, places=6).rstrip("0")
    return text if not text.endswith(".") else format_usd(usd, places=2)

"""What a call costs, in exact decimal arithmetic, from the dated price table.

The sandbox debits with `cost_of`; the widgets and lessons estimate with it. Money is kept as
`Decimal` dollars; the sandbox stores it as whole picodollars (1e-12 USD) so that sums in SQLite
stay exact: every price per 1M tokens with up to six decimals is a whole number of picodollars
per token.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from keylab.pricing.table import ModelPrice, get_model

PER_MILLION = Decimal(1_000_000)
PICO_PER_USD = 10**12


@dataclass(frozen=True)
class Cost:
    """The price of one call, split the way an invoice splits it."""

    model: str
    input_tokens: int
    cached_tokens: int
    output_tokens: int
    input_usd: Decimal
    cached_usd: Decimal
    output_usd: Decimal

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


def cost_of(model: str | ModelPrice, input_tokens: int, output_tokens: int, cached_tokens: int = 0) -> Cost:
    """Cost of a call: `input_tokens` includes `cached_tokens`, which bill at the cached rate."""
    row = model if isinstance(model, ModelPrice) else get_model(model)
    if row is None:
        raise UnknownModelError(model)
    cached_tokens = min(cached_tokens, input_tokens)
    cached_rate = row.cached_input if row.cached_input is not None else row.input
    return Cost(
        model=row.id,
        input_tokens=input_tokens,
        cached_tokens=cached_tokens,
        output_tokens=output_tokens,
        input_usd=row.input * (input_tokens - cached_tokens) / PER_MILLION,
        cached_usd=cached_rate * cached_tokens / PER_MILLION,
        output_usd=row.output * output_tokens / PER_MILLION,
    )


def to_pico(usd: Decimal) -> int:
    return int((usd * PICO_PER_USD).to_integral_value(rounding=ROUND_HALF_UP))


def from_pico(pico: int) -> Decimal:
    return Decimal(pico) / PICO_PER_USD


def format_usd(usd: Decimal, places: int = 6) -> str:
    """`$0.000125`-style text; cents for amounts of a dollar or more."""
    if abs(usd) >= 1:
        places = 2
    quantum = Decimal(1).scaleb(-places)
    return f"${usd.quantize(quantum, rounding=ROUND_HALF_UP):,}"


def format_usd_cents(usd: Decimal) -> str:
    """Money as the platform's billing pages and e-mails show it: cents ("$5.00", "$0.04"), and more
    places only for a non-zero amount under a cent ("$0.000125"), trailing zeros dropped."""
    if usd == 0 or abs(usd) >= Decimal("0.01"):
        return format_usd(usd, places=2)
    text = format_usd(usd, places=6).rstrip("0")
    return text if not text.endswith(".") else format_usd(usd, places=2)

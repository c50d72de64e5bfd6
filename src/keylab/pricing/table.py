"""The dated price table: the one place in keylab that says what a model costs.

The sandbox bills from it, the widgets estimate from it, and the lessons import it. Prices are
USD per 1M tokens, Standard tier, prompts up to 272K input tokens, as OpenAI listed them on the
date in `PRICES_AS_OF`. The rules that change a bill (service tiers, long prompts) are dated and
sourced here too. Each row names its sources; `SOURCES` gives the public address behind each short
name (also listed in docs/sources.md). Re-check before relying on a price: `keylab prices` says when
this table is getting old.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal

PRICES_AS_OF = dt.date(2026, 11, 28)
PRICING_URL = "https://developers.openai.com/api/docs/pricing"
DEPRECATIONS_URL = "https://developers.openai.com/api/docs/deprecations"

# The model the lessons use: the cheapest current general model on PRICES_AS_OF.
COURSE_MODEL = "gpt-6-luna"
# A model this close to its shutdown date is marked as retiring in the lessons' tables.
RETIRING_SOON_DAYS = 30

_D = Decimal

# Public addresses behind the short source names used in the rows and rules below.
SOURCES: dict[str, str] = {
    "OpenAI pricing": PRICING_URL,
    "OpenAI deprecations": DEPRECATIONS_URL,
    "OpenAI model pages": "https://developers.openai.com/api/docs/models",
    "OpenAI Fast mode": "https://openai.com/api-fast-mode",
    "OpenAI Flex processing": "https://developers.openai.com/api/docs/guides/flex-processing",
    "OpenAI Batch API": "https://developers.openai.com/api/docs/guides/batch",
    "LiteLLM": "https://github.com/BerriAI/litellm/blob/main/model_prices_and_context_window.json",
    "genai-prices": "https://github.com/pydantic/genai-prices",
    "tokencost": "https://github.com/AgentOps-AI/tokencost",
    "GPT-6.2 launch notes": "https://github.com/BerriAI/litellm/discussions/52347",
}


@dataclass(frozen=True)
class ModelPrice:
    """One model's Standard-tier price per 1M tokens and its life cycle."""

    id: str
    input: Decimal
    cached_input: Decimal | None
    output: Decimal
    context_window: int
    max_output_tokens: int
    released: dt.date
    shutdown_date: dt.date | None = None
    replacement: str | None = None
    source: str = "LiteLLM; genai-prices"
    note: str = ""

    def is_shut_down(self, today: dt.date) -> bool:
        return self.shutdown_date is not None and today >= self.shutdown_date

    def retires_soon(self, today: dt.date, days: int = RETIRING_SOON_DAYS) -> bool:
        """Still answering on `today`, but shut down within `days` days."""
        return (self.shutdown_date is not None and not self.is_shut_down(today)
                and (self.shutdown_date - today).days <= days)

    def lifecycle(self, today: dt.date) -> str:
        """Where the model stands on `today`, in words, from its dated shutdown: "SHUT DOWN since
        2026-10-23 (use gpt-5.6-sol)", "RETIRES 2026-12-11, in 13 days", "shutdown 2027-01-14" or
        "no shutdown date". Lessons pass PRICES_AS_OF, the table's own date, so the words stay true
        for that date and a notebook's saved output stays the same on every run."""
        instead = f" (use {self.replacement})" if self.replacement else ""
        if self.shutdown_date is None:
            return "no shutdown date"
        if self.is_shut_down(today):
            return f"SHUT DOWN since {self.shutdown_date}{instead}"
        left = (self.shutdown_date - today).days
        if self.retires_soon(today):
            return f"RETIRES {self.shutdown_date}, in {left} day{'' if left == 1 else 's'}{instead}"
        return f"shutdown {self.shutdown_date}"

    @property
    def created(self) -> int:
        """Unix time of the release date, as `GET /v1/models` reports `created`."""
        return int(dt.datetime.combine(self.released, dt.time(), dt.timezone.utc).timestamp())


def _m(
    model_id: str, inp: str, cached: str | None, out: str, ctx: int, max_out: int, released: str,
    shutdown: str | None = None, replacement: str | None = None, source: str = "LiteLLM; genai-prices",
    note: str = "",
) -> ModelPrice:
    return ModelPrice(
        id=model_id, input=_D(inp), cached_input=_D(cached) if cached is not None else None, output=_D(out),
        context_window=ctx, max_output_tokens=max_out, released=dt.date.fromisoformat(released),
        shutdown_date=dt.date.fromisoformat(shutdown) if shutdown else None,
        replacement=replacement, source=source, note=note,
    )


_ROWS = (
    _m("gpt-6.2-astra", "8.00", "0.40", "40.00", 1_050_000, 128_000, "2026-11-17", source="GPT-6.2 launch notes (2026-11-18)"),
    _m("gpt-6.2-sol", "2.00", "0.10", "10.00", 1_050_000, 128_000, "2026-11-17", source="GPT-6.2 launch notes (2026-11-18)"),
    _m("gpt-6-astra", "10.00", "1.00", "50.00", 1_050_000, 128_000, "2026-09-03"),
    _m("gpt-6.1-sol", "2.00", "0.10", "10.00", 1_050_000, 128_000, "2026-09-29"),
    _m("gpt-6.1-terra", "1.00", "0.05", "5.00", 1_050_000, 128_000, "2026-10-26",
       source="LiteLLM; genai-prices (2026-10-26); OpenAI model pages"),
    _m("gpt-6-sol", "2.00", "0.20", "10.00", 1_050_000, 128_000, "2026-09-22"),
    _m("gpt-6-luna", "0.10", "0.01", "0.50", 1_050_000, 128_000, "2026-09-22"),
    _m("gpt-5.6-sol", "4.00", "0.40", "20.00", 1_050_000, 128_000, "2026-07-09",
       note="promotional price from 2026-08-21 (list $5/$30); sources disagree after 2026-11-21"),
    _m("gpt-5.6-terra", "2.00", "0.20", "12.00", 1_050_000, 128_000, "2026-07-09", note="cut on 2026-07-30"),
    _m("gpt-5.6-luna", "0.20", "0.02", "1.20", 1_050_000, 128_000, "2026-07-09", note="cut on 2026-07-30"),
    _m("gpt-5.5", "5.00", "0.50", "30.00", 1_050_000, 128_000, "2026-04-23"),
    _m("gpt-5.4", "2.50", "0.25", "15.00", 1_050_000, 128_000, "2026-03-05"),
    _m("gpt-5.4-mini", "0.75", "0.075", "4.50", 400_000, 128_000, "2026-03-17"),
    _m("gpt-5.4-nano", "0.20", "0.02", "1.25", 400_000, 128_000, "2026-03-17", shutdown="2027-04-01"),
    _m("gpt-5.2", "1.75", "0.175", "14.00", 400_000, 128_000, "2025-12-11"),
    _m("gpt-5.1", "1.25", "0.125", "10.00", 400_000, 128_000, "2025-11-13", shutdown="2027-04-01"),
    _m("gpt-5", "1.25", "0.125", "10.00", 400_000, 128_000, "2025-08-07", shutdown="2026-12-11",
       replacement="gpt-6.1-sol"),
    _m("gpt-5-mini", "0.25", "0.025", "2.00", 400_000, 128_000, "2025-08-07", shutdown="2026-12-11",
       replacement="gpt-6.1-terra"),
    _m("gpt-5-nano", "0.05", "0.005", "0.40", 400_000, 128_000, "2025-08-07", shutdown="2026-12-11",
       replacement="gpt-6-luna"),
    _m("gpt-4.1", "2.00", "0.50", "8.00", 1_047_576, 32_768, "2025-04-14", shutdown="2027-01-14"),
    _m("gpt-4.1-mini", "0.40", "0.10", "1.60", 1_047_576, 32_768, "2025-04-14", shutdown="2027-01-14"),
    _m("gpt-4o", "2.50", "1.25", "10.00", 128_000, 16_384, "2024-05-13", shutdown="2027-01-14",
       replacement="gpt-6-luna"),
    _m("gpt-4o-mini", "0.15", "0.075", "0.60", 128_000, 16_384, "2024-07-18", shutdown="2027-01-14",
       replacement="gpt-6-luna", source="LiteLLM; tokencost; OpenAI model pages (2026-10-04)"),
    _m("o3", "2.00", "0.50", "8.00", 200_000, 100_000, "2025-04-16", shutdown="2026-12-11"),
    _m("o4-mini", "1.10", "0.275", "4.40", 200_000, 100_000, "2025-04-16", shutdown="2026-10-23",
       source="LiteLLM; OpenAI deprecations"),
    _m("o3-mini", "1.10", "0.55", "4.40", 200_000, 100_000, "2025-01-31", shutdown="2026-10-23"),
    _m("o1", "15.00", "7.50", "60.00", 200_000, 100_000, "2024-12-17", shutdown="2026-10-23",
       replacement="gpt-5.6-sol", source="LiteLLM; tokencost; OpenAI deprecations"),
    _m("gpt-4-turbo", "10.00", None, "30.00", 128_000, 4_096, "2024-04-09", shutdown="2026-10-23"),
    _m("gpt-3.5-turbo", "0.50", None, "1.50", 16_385, 4_096, "2023-03-01", shutdown="2026-10-23"),
)

MODELS: dict[str, ModelPrice] = {row.id: row for row in _ROWS}


# --- Rules that change a bill ---------------------------------------------------------------------

@dataclass(frozen=True)
class Tier:
    """A way of processing a request, and what it does to every price of the row.

    `service_tier` is what a Chat Completions or Responses response says when this tier served it,
    and what the usage API groups by (`None`: Batch is its own API, not a `service_tier`). A call
    asks for a tier with `service_tier=<name>` ("fast" or "priority" for fast). `as_of`: the date the
    rule was read, like the prices.
    """

    name: str
    multiplier: Decimal
    service_tier: str | None
    description: str
    as_of: dt.date
    source: str


TIERS: dict[str, Tier] = {tier.name: tier for tier in (
    Tier("standard", _D(1), "default", "the list price; what a call gets unless it asks for another tier",
         PRICES_AS_OF, "OpenAI pricing"),
    Tier("batch", _D("0.5"), None, "half price for jobs sent through the Batch API (answers within 24 h)",
         PRICES_AS_OF, "OpenAI Batch API; LiteLLM; genai-prices"),
    Tier("flex", _D("0.5"), "flex", "half price, slower answers and 429s when capacity is short",
         PRICES_AS_OF, "OpenAI Flex processing; genai-prices"),
    Tier("fast", _D(2), "priority", "twice the price for faster answers (Priority processing until "
         "2026-07-30: \"priority\" still works, and responses say it)",
         PRICES_AS_OF, "OpenAI Fast mode; genai-prices"),
)}
# Other names a tier goes by: its old name, and the `service_tier` values a response shows.
TIER_ALIASES: dict[str, str] = {"priority": "fast", "default": "standard"}

# Long prompts: a request with more than this many input tokens is billed *whole* at higher rates,
# on the models in LONG_CONTEXT_MODELS (the ones that accept such prompts at all).
LONG_CONTEXT_THRESHOLD = 272_000
LONG_CONTEXT_INPUT_MULTIPLIER = _D(2)  # input and cached input
LONG_CONTEXT_OUTPUT_MULTIPLIER = _D("1.5")
LONG_CONTEXT_SOURCE = "OpenAI pricing; OpenAI model pages (gpt-6.1-terra); LiteLLM (prices above 272K tokens)"
LONG_CONTEXT_MODELS = frozenset(
    row.id for row in _ROWS if row.context_window == 1_050_000  # the 1.05M-token GPT-5.4+ models
)

# Reasoning models think in tokens the answer never shows; the API reports them inside the output
# tokens (usage.completion_tokens_details.reasoning_tokens) and they bill at the output price.


def resolve_tier(name: str | None) -> Tier:
    """The tier called `name` (its current name, its old one, or a response's `service_tier`;
    None, as a response without `service_tier` has it, is standard)."""
    if name is None:
        return TIERS["standard"]
    tier = TIERS.get(TIER_ALIASES.get(name, name)) if isinstance(name, str) else None
    if tier is None:
        names = ", ".join(repr(n) for n in (*TIERS, *TIER_ALIASES))
        raise ValueError(f"unknown tier {name!r}: use one of {names}")
    return tier


def table_age_days(today: dt.date) -> int:
    """How many days old the table is on `today`."""
    return (today - PRICES_AS_OF).days


STALE_AFTER_DAYS = 60
_SNAPSHOT = re.compile(r"(.+)-\d{4}-\d{2}-\d{2}")


def get_model(model_id: str) -> ModelPrice | None:
    """The row for a model id; dated snapshots such as `gpt-4o-mini-2024-07-18` map to their family."""
    if model_id in MODELS:
        return MODELS[model_id]
    snapshot = _SNAPSHOT.fullmatch(model_id)
    return MODELS.get(snapshot.group(1)) if snapshot else None


def current_models(today: dt.date) -> list[ModelPrice]:
    """Models that still answer on `today`, newest first."""
    return [m for m in _ROWS if not m.is_shut_down(today)]


__all__ = [
    "COURSE_MODEL",
    "DEPRECATIONS_URL",
    "LONG_CONTEXT_INPUT_MULTIPLIER",
    "LONG_CONTEXT_MODELS",
    "LONG_CONTEXT_OUTPUT_MULTIPLIER",
    "LONG_CONTEXT_SOURCE",
    "LONG_CONTEXT_THRESHOLD",
    "MODELS",
    "PRICES_AS_OF",
    "PRICING_URL",
    "RETIRING_SOON_DAYS",
    "SOURCES",
    "STALE_AFTER_DAYS",
    "TIERS",
    "TIER_ALIASES",
    "ModelPrice",
    "Tier",
    "current_models",
    "get_model",
    "resolve_tier",
    "table_age_days",
]

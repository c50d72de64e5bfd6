"""A call's worst case before it is sent, and its real cost from `usage` after.

Worst case = every prompt token plus the output cap (times `n` choices), at the dated price of the
tier asked for, with `cost_of`: the same function the sandbox bills with. Prompt tokens are counted
with tiktoken; where its encoding file is missing, with an upper bound (every token is at least one
byte) rather than the usual four-characters estimate, so the worst case is never too low.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from keylab.pricing import Cost, cost_of, count_messages
from keylab.pricing.table import TIER_ALIASES, TIERS
from keylab.pricing.tokens import REPLY_PRIMING_TOKENS, TOKENS_PER_MESSAGE

# The output cap the guard sets on a call that sets none (and says so).
DEFAULT_OUTPUT_CAP = 1024

# `service_tier` values a request may send -> the tier the guard reserves at. "auto" uses the
# project's default tier, which is Standard unless changed in the project's settings.
_REQUEST_TIERS = {None: "standard", "auto": "standard", "scale": "standard",
                  **{name: name for name, tier in TIERS.items() if tier.service_tier}, **TIER_ALIASES}
# Request fields other than the messages that reach the model as prompt tokens.
_PROMPT_EXTRAS = ("tools", "functions", "response_format", "text", "prediction")


@dataclass(frozen=True)
class WorstCase:
    model: str
    prompt_tokens: int
    output_cap: int  # all choices together
    tier: str
    cost: Cost
    cap_applied: bool

    def describe(self) -> str:
        tier = "" if self.tier == "standard" else f", {self.tier} tier"
        return (f"{self.prompt_tokens:,} prompt tokens + {self.output_cap:,} output tokens on "
                f"{self.model}{tier}")


def request_tier(kwargs: Mapping[str, Any]) -> str:
    value = kwargs.get("service_tier")
    tier = _REQUEST_TIERS.get(value) if value is None or isinstance(value, str) else None
    if tier is None:
        known = ", ".join(repr(name) for name in _REQUEST_TIERS if name)
        raise ValueError(f"the budget guard cannot price service_tier={value!r}; use one of {known}")
    return tier


def _as_json(value: Any) -> Any:
    """What the SDK sends for a value JSON cannot hold: a pydantic model class becomes its schema."""
    schema = getattr(value, "model_json_schema", None)
    return schema() if isinstance(value, type) and callable(schema) else str(value)


def count_prompt(messages: list[Mapping[str, Any]], model: str, extras: Mapping[str, Any]) -> int:
    """Prompt tokens of `messages` plus any tool or format definitions, never less than the truth."""
    extra_text = json.dumps({k: v for k, v in extras.items() if k in _PROMPT_EXTRAS and v is not None},
                            default=_as_json) if any(extras.get(k) is not None for k in _PROMPT_EXTRAS) else ""
    counted = count_messages(messages, model)
    if counted.exact:
        extra = count_messages([{"role": "system", "content": extra_text}], model).tokens if extra_text else 0
        return counted.tokens + extra
    # No encoding at hand: bound it by bytes, since every token is at least one byte.
    text = json.dumps(list(messages), default=_as_json, ensure_ascii=False) + extra_text
    return len(text.encode("utf-8")) + TOKENS_PER_MESSAGE * (len(messages) + 1) + REPLY_PRIMING_TOKENS


def responses_messages(kwargs: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The Responses API's `instructions` and `input` as chat-style messages, for counting."""
    messages: list[dict[str, Any]] = []
    if kwargs.get("instructions"):
        messages.append({"role": "developer", "content": kwargs["instructions"]})
    given = kwargs.get("input")
    if isinstance(given, str):
        messages.append({"role": "user", "content": given})
    elif isinstance(given, list):
        for item in given:
            if isinstance(item, Mapping) and "content" in item:
                messages.append({"role": str(item.get("role", "user")), "content": item["content"]})
            else:  # tool outputs, references: count their whole text
                messages.append({"role": "user", "content": json.dumps(item, default=str)})
    return messages


def worst_case(model: str, prompt_tokens: int, output_cap: int, tier: str, cap_applied: bool) -> WorstCase:
    return WorstCase(model, prompt_tokens, output_cap, tier,
                     cost_of(model, prompt_tokens, output_cap, tier=tier), cap_applied)


def _field(obj: Any, *path: str) -> int:
    for name in path:
        obj = getattr(obj, name, None) if not isinstance(obj, Mapping) else obj.get(name)
        if obj is None:
            return 0
    return int(obj)


def real_cost(model: str, usage: Any, service_tier: str | None, requested_tier: str, *, chat: bool) -> Decimal:
    """A finished call's cost from the `usage` it reported, at the tier that served it."""
    if chat:
        prompt, output = _field(usage, "prompt_tokens"), _field(usage, "completion_tokens")
        cached = _field(usage, "prompt_tokens_details", "cached_tokens")
        reasoning = _field(usage, "completion_tokens_details", "reasoning_tokens")
    else:
        prompt, output = _field(usage, "input_tokens"), _field(usage, "output_tokens")
        cached = _field(usage, "input_tokens_details", "cached_tokens")
        reasoning = _field(usage, "output_tokens_details", "reasoning_tokens")
    tier = _REQUEST_TIERS.get(service_tier, requested_tier) if service_tier else requested_tier
    return cost_of(model, prompt, output, cached, tier=tier, reasoning_tokens=min(reasoning, output)).total_usd

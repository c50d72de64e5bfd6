"""Metering a model call: rate limits and credit before it runs, the bill after.

Chat Completions and Responses share this, so both count, limit and bill the same way.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from keylab.pricing import Cost, ModelPrice, cost_of
from keylab.sandbox.api.common import Call, describe_type
from keylab.sandbox.billing import Reservation
from keylab.sandbox.errors import ApiError
from keylab.sandbox.ratelimit import Grant, Limits

# `service_tier` a request may send -> the tier that serves it, which the response echoes, the usage
# row records and `cost_of` prices ("default" is standard, "priority" is fast mode). As the API
# does: "auto" (the project default) is "default"; "fast" is echoed by its old name "priority";
# "scale" and "ultrafast" need contracts or access the sandbox's accounts never have, so they are
# served (and echoed) as "default", as the API may serve a tier other than the one asked for.
CHAT_TIERS: dict[str, str] = {
    "auto": "default", "default": "default", "flex": "flex", "scale": "default",
    "priority": "priority", "fast": "priority",
}
RESPONSES_TIERS: dict[str, str] = {**CHAT_TIERS, "ultrafast": "default"}


def served_tier(body: dict[str, Any], tiers: dict[str, str]) -> str:
    """The tier that serves this request, or the 400 the API answers for a value it does not know."""
    requested = body.get("service_tier")
    if requested is None:
        return "default"
    served = tiers.get(requested) if isinstance(requested, str) else None
    if served is None:
        if not isinstance(requested, str):
            raise ApiError("invalid_type", param="service_tier", expected="a string", got=describe_type(requested))
        raise ApiError("invalid_value", param="service_tier", value=requested,
                       supported=", ".join(f"'{name}'" for name in tiers))
    return served


# Costs and limits depend only on their arguments (all immutable): computed once per distinct call
# shape rather than with Decimal arithmetic and dataclass construction on every request.
# Keyed by model id: a str hashes far faster than a ModelPrice (a dataclass of Decimals and dates).
@functools.lru_cache(maxsize=4096)
def _cost_of(model_id: str, input_tokens: int, output_tokens: int, service_tier: str) -> Cost:
    return cost_of(model_id, input_tokens, output_tokens, tier=service_tier)  # a Cost caches its pico amounts


@functools.lru_cache(maxsize=4096)
def _key_limits(project: Limits, rpm: int | None, tpm: int | None) -> Limits:
    """A key's own bucket: its limits, or the project's where it sets none."""
    return Limits(rpm or project.rpm, tpm or project.tpm)


@dataclass(slots=True)
class Admission:
    model: ModelPrice
    prompt_tokens: int
    grant: Grant
    reservation: Reservation
    service_tier: str


def admit(call: Call, model: ModelPrice, prompt_tokens: int, max_output_tokens: int,
          service_tier: str, output_tokens: int) -> Admission:
    """Check rate limits (project, then key) and reserve the call's cost at the tier that serves it
    (see `served_tier`), or raise a 429.

    The rate limits count `max_output_tokens`, as the real API estimates a request. The credit
    reservation is the call's cost: its prompt plus `output_tokens`, the answer the sandbox
    simulated before admitting it (a stream cut short can only cost less).
    A reservation is exact, not a guess, so a burst is refused only when the credit or budget is
    really spent, and the guarantee holds: spend passes a limit by at most the cost of the one call
    admitted last (see keylab.sandbox.billing).
    """
    assert call.key is not None
    key = call.key
    state = call.state
    project_id = key.project_id or ""
    project_limits = state.project_limits(project_id, model.id)
    # The key's own bucket always counts (so a limit set on a busy key applies at once); without
    # a key limit it has the project's limits and can never be the one that refuses.
    checks = [("project", project_id, project_limits),
              ("key", key.id, _key_limits(project_limits, key.rpm_limit, key.tpm_limit))]
    grant = state.limiter.acquire(
        now=state.clock.now(), model=model.id, org_id=key.org_id, checks=checks, tokens=prompt_tokens + max_output_tokens
    )
    call.headers.update(grant.snapshot.headers())
    reservation = state.billing.reserve(
        key, _cost_of(model.id, prompt_tokens, output_tokens, service_tier).total_pico)
    return Admission(model, prompt_tokens, grant, reservation, service_tier)


def _real_cost(call: Call, admission: Admission, output_tokens: int) -> Cost:
    """The call's real cost; the rate-limit window gets its real token count."""
    assert call.key is not None
    admission.grant.settle(now=call.state.clock.now(), actual=admission.prompt_tokens + output_tokens)
    return _cost_of(admission.model.id, admission.prompt_tokens, output_tokens, admission.service_tier)


def bill(call: Call, admission: Admission, *, output_tokens: int, endpoint: str) -> Cost:
    """Settle the real cost: one usage row and the debit, committed before this returns."""
    cost = _real_cost(call, admission, output_tokens)
    call.state.billing.settle(admission.reservation, key=call.key, request_id=call.request_id,
                              endpoint=endpoint, cost=cost)
    return cost


async def bill_async(call: Call, admission: Admission, *, output_tokens: int, endpoint: str) -> Cost:
    """`bill`, with the usage row group-committed with concurrent calls (durable when this returns)."""
    cost = _real_cost(call, admission, output_tokens)
    await call.state.billing.settle_async(admission.reservation, key=call.key, request_id=call.request_id,
                                          endpoint=endpoint, cost=cost)
    return cost


def release(call: Call, admission: Admission) -> None:
    """A call that failed before it finished costs nothing."""
    call.state.billing.release(admission.reservation)

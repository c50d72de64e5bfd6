"""Requests- and tokens-per-minute limits, per project and model and per key, as the real API counts them.

Buckets are kept in memory (a restart forgets them, as a minute would). Every
response carries the `x-ratelimit-*` headers of the project's limit for the model; a request over
a limit gets 429 `rate_limit_exceeded` with `Retry-After` and the Go-style "Please try again in 20s".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

from keylab.sandbox.errors import ApiError

WINDOW_S = 60.0
# Defaults close to usage tier 1 (facts.md §4); projects.rate_limits and the control plane change them.
DEFAULT_RPM = 500
DEFAULT_TPM = 200_000


def go_duration(seconds: float) -> str:
    """Format like Go's time.Duration, as the API does: 0s, 644ms, 9.816s, 20s, 6m0s."""
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        return f"{max(1, round(seconds * 1000))}ms"
    if seconds < 60:
        text = f"{seconds:.3f}".rstrip("0").rstrip(".")
        return f"{text}s"
    minutes, rest = divmod(int(math.ceil(seconds)), 60)
    return f"{minutes}m{rest}s"


@dataclass(slots=True)
class _Bucket:
    """Requests and tokens used, draining continuously at limit/60 per second (a leaky bucket).

    That is how the real API's numbers behave: with RPM 3 and 3 used, the next request fits in 20s,
    and `x-ratelimit-reset-*` is the time until the bucket is empty again.
    """

    requests: float = 0.0
    tokens: float = 0.0
    at: float = 0.0

    def drain(self, now: float, limits: Limits) -> None:
        elapsed = max(0.0, now - self.at)
        self.requests = max(0.0, self.requests - elapsed * limits.rpm / WINDOW_S)
        self.tokens = max(0.0, self.tokens - elapsed * limits.tpm / WINDOW_S)
        self.at = now


class Limits(NamedTuple):  # NamedTuple: hashed and built on every request, far cheaper than a frozen dataclass
    rpm: int
    tpm: int


class Snapshot(NamedTuple):
    """What the x-ratelimit-* headers say after a request."""

    limits: Limits
    requests: float
    tokens: float

    def headers(self) -> dict[str, str]:
        (rpm, tpm), requests, tokens = self
        left_requests, left_tokens = rpm - requests, tpm - tokens  # whole numbers left, rounded down
        return {
            "x-ratelimit-limit-requests": str(rpm),
            "x-ratelimit-limit-tokens": str(tpm),
            "x-ratelimit-remaining-requests": str(int(left_requests)) if left_requests > 0 else "0",
            "x-ratelimit-remaining-tokens": str(int(left_tokens)) if left_tokens > 0 else "0",
            "x-ratelimit-reset-requests": go_duration(requests * WINDOW_S / rpm),
            "x-ratelimit-reset-tokens": go_duration(tokens * WINDOW_S / tpm),
        }


class Grant(NamedTuple):
    """A request `acquire` admitted: the buckets it counts in (settled afterwards) and its headers."""

    buckets: list[tuple[_Bucket, Limits]]
    tokens: int
    snapshot: Snapshot

    def settle(self, *, now: float, actual: int) -> None:
        """Replace the request's estimated tokens with what it really used.

        Used never exceeds estimated, so the tokens come off without draining first: two
        subtractions clamped at zero give the same result in either order."""
        unused = self.tokens - actual
        for bucket, limits in self.buckets:
            if unused < 0:  # more than estimated (not expected): count it after draining
                bucket.drain(now, limits)
            bucket.tokens = max(0.0, bucket.tokens - unused)


class RateLimiter:
    """One bucket per (scope, id, model); scope is "project" or "key"."""

    def __init__(self) -> None:
        self._buckets: dict[tuple[str, str, str], _Bucket] = {}

    def reset(self) -> None:
        self._buckets.clear()

    def acquire(
        self, *, now: float, model: str, org_id: str, checks: list[tuple[str, str, Limits]], tokens: int
    ) -> Grant:
        """Admit one request of `tokens` against every (scope, id, limits) or raise ApiError 429.

        Written flat (no helper calls per bucket): it runs on every model call."""
        buckets: list[tuple[_Bucket, Limits]] = []
        for scope, ident, limits in checks:
            key = (scope, ident, model)
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(at=now)
            bucket.drain(now, limits)
            if tokens > limits.tpm:
                raise ApiError("request_too_large", model=model, org=org_id, limit=limits.tpm, requested=tokens)
            if bucket.requests + 1 > limits.rpm:
                wait = (bucket.requests + 1 - limits.rpm) * WINDOW_S / limits.rpm
                raise ApiError(
                    "rate_limit_requests", model=model, org=org_id, limit=limits.rpm,
                    used=math.ceil(bucket.requests), wait=go_duration(wait),
                    headers=_retry_headers(wait, Snapshot(limits, bucket.requests, bucket.tokens)),
                )
            if bucket.tokens + tokens > limits.tpm:
                wait = (bucket.tokens + tokens - limits.tpm) * WINDOW_S / limits.tpm
                raise ApiError(
                    "rate_limit_tokens", model=model, org=org_id, limit=limits.tpm, used=math.ceil(bucket.tokens),
                    requested=tokens, wait=go_duration(wait),
                    headers=_retry_headers(wait, Snapshot(limits, bucket.requests, bucket.tokens)),
                )
            buckets.append((bucket, limits))
        # Count the request in every bucket; the headers describe the tightest of the limits that
        # apply (a key limit below the project's): least room for requests, then for tokens.
        tightest: tuple[float, float] | None = None
        for bucket, limits in buckets:
            bucket.requests += 1
            bucket.tokens += tokens
            room = (limits.rpm - bucket.requests, limits.tpm - bucket.tokens)
            if tightest is None or room < tightest:
                tightest, snapshot = room, Snapshot(limits, bucket.requests, bucket.tokens)
        return Grant(buckets, tokens, snapshot)


def idle_headers(rpm: int | None = None, tpm: int | None = None) -> dict[str, str]:
    """x-ratelimit-* for a request that counted against no model's limit (listing models, a 400)."""
    return Snapshot(Limits(rpm or DEFAULT_RPM, tpm or DEFAULT_TPM), 0.0, 0.0).headers()


def _retry_headers(wait: float, snapshot: Snapshot) -> dict[str, str]:
    headers = snapshot.headers()
    headers["retry-after"] = str(max(1, math.ceil(wait)))
    return headers

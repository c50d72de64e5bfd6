"""Helpers shared by the platform services: scopes, cursor pages, argument checks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from keylab.sandbox.errors import ApiError

SCOPES = ("organization", "project")


def check_scope(scope: str) -> None:
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}, not {scope!r}")


def cursor_page(
    items: Sequence[Any], *, after: str | None = None, before: str | None = None,
    limit: int | None = 20, order: str = "asc", kind: str = "Object",
) -> dict[str, Any]:
    """`{object: "list", data, first_id, last_id, has_more}` over items given in ascending order
    (dicts, or database rows to turn into objects after paging: anything with an "id").

    `after`/`before` are ids of items in the list (an unknown id answers 404, as a stale cursor would).
    """
    ordered = list(items) if order == "asc" else list(reversed(items))
    ids = [item["id"] for item in ordered]
    start, stop = 0, len(ordered)
    if after:
        if after not in ids:
            raise ApiError("admin_object_not_found", kind=kind, id=after)
        start = ids.index(after) + 1
    if before:
        if before not in ids:
            raise ApiError("admin_object_not_found", kind=kind, id=before)
        stop = ids.index(before)
    window = ordered[start:stop]
    if limit is not None and before and not after:
        data = window[-limit:] if limit else []
        has_more = len(window) > len(data)
    else:
        data = window[:limit] if limit is not None else window
        has_more = len(window) > len(data)
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": has_more,
    }


INT64_MAX = 2**63 - 1  # SQLite's largest integer: no stored or compared value may pass it
MAX_CENTS = 100_000_000  # $1,000,000: thresholds in cents; times picodollars-per-cent still fits int64
MAX_UNIX_TIME = 253_402_300_799  # 9999-12-31T23:59:59Z
MAX_RATE_LIMIT = 1_000_000_000


def check_int(value: Any, param: str, *, minimum: int | None = None, maximum: int | None = INT64_MAX) -> int:
    """A JSON integer parameter, or the real API's 400 for the wrong type or range (never past
    INT64_MAX, which SQLite cannot store)."""
    from keylab.sandbox.api.common import describe_type

    if not isinstance(value, int) or isinstance(value, bool):
        raise ApiError("invalid_type", param=param, expected="an integer", got=describe_type(value))
    if minimum is not None and value < minimum:
        raise ApiError("integer_below_minimum", param=param, minimum=minimum, got=value)
    if maximum is not None and value > maximum:
        raise ApiError("integer_above_maximum", param=param, maximum=maximum, got=value)
    return value


def check_choice(value: Any, param: str, supported: Sequence[str]) -> str:
    from keylab.sandbox.api.common import describe_type

    if not isinstance(value, str):
        raise ApiError("invalid_type", param=param, expected="a string", got=describe_type(value))
    if value not in supported:
        raise ApiError("invalid_value", param=param, value=value,
                       supported=", ".join(f"'{s}'" for s in supported))
    return value

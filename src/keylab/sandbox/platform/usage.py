"""`/organization/usage/completions` and `/organization/costs`, computed from the usage rows.

Every billed call wrote one `usage` row (tokens, the service tier that served it, and the cost
split into input, cached input and output, in picodollars, at that tier's rates). These functions bucket them by time as the Usage API does: buckets are
aligned to whole minutes/hours/UTC days, empty buckets are listed with `results: []`, `limit`
buckets make a page and `next_page` continues. Costs come in 1-day buckets only, in dollars.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Sequence
from typing import Any

from keylab.sandbox.clock import Clock
from keylab.sandbox.errors import ApiError
from keylab.sandbox.platform._common import MAX_UNIX_TIME, check_choice, check_int
from keylab.sandbox.store import Store

WIDTHS = {"1m": 60, "1h": 3600, "1d": 86400}
# bucket_width -> (default limit, max limit), from the SDK's docstring of usage.completions.
BUCKET_LIMITS = {"1m": (60, 1440), "1h": (24, 168), "1d": (7, 31)}
COSTS_LIMITS = (7, 180)
COMPLETIONS_GROUPS = ("project_id", "user_id", "api_key_id", "model", "batch", "service_tier", "api_source")
COSTS_GROUPS = ("project_id", "user_id", "line_item", "api_key_id", "api_source")
# Calls billed under other usage endpoints (embeddings, images, audio, moderations) are not "completions".
NOT_COMPLETIONS = ("/v1/embeddings", "/v1/moderations", "/v1/images", "/v1/audio")
# Line items, as the SDK's `line_items` docstring spells them ("gpt-6-astra, input_tokens").
LINE_ITEMS = (("input_tokens", "input_pico"), ("cached_input_tokens", "cached_pico"),
              ("output_tokens", "output_pico"))


def line_item(model: str, part: str) -> str:
    return f"{model}, {part}"


def _encode_page(start: int) -> str:
    return "page_" + base64.urlsafe_b64encode(struct.pack(">q", start)).decode()


def _decode_page(page: str) -> int:
    try:
        if not page.startswith("page_"):
            raise ValueError
        return struct.unpack(">q", base64.urlsafe_b64decode(page[5:].encode()))[0]
    except (ValueError, struct.error):
        raise ApiError("admin_invalid_request", message=f"Invalid page cursor: '{page}'.") from None


def _windows(clock: Clock, start_time: Any, end_time: Any, width_name: str, limit: Any, page: str | None,
             limits: tuple[int, int]) -> tuple[list[tuple[int, int]], int, str | None]:
    """The page's buckets [(start, end)], the query's exclusive end, and the next page cursor."""
    start_time = check_int(start_time, "start_time", minimum=0, maximum=MAX_UNIX_TIME)
    # Without end_time the query runs to now, this second's calls included.
    end = check_int(end_time, "end_time", minimum=0, maximum=MAX_UNIX_TIME) if end_time is not None else clock.now_s() + 1
    width = WIDTHS[width_name]
    default, maximum = limits
    count = check_int(limit, "limit", minimum=1, maximum=maximum) if limit is not None else default
    first = start_time - start_time % width
    if page:
        first = max(first, _decode_page(page))
    windows = []
    cursor = first
    while cursor < end and len(windows) < count:
        windows.append((cursor, cursor + width))
        cursor += width
    return windows, end, _encode_page(cursor) if cursor < end else None


def _rows(store: Store, org_id: str, start: int, end: int) -> list[Any]:
    return store.query(
        "SELECT u.*, CASE WHEN k.owner_type = 'user' THEN k.owner_id END AS user_id FROM usage u"
        " LEFT JOIN api_keys k ON k.id = u.key_id WHERE u.org_id = ? AND u.created_at >= ? AND u.created_at < ?"
        " ORDER BY u.created_at, u.id", (org_id, start, end))


def _groups(group_by: Sequence[str] | None, allowed: Sequence[str]) -> list[str]:
    groups = list(group_by or [])
    for name in groups:
        check_choice(name, "group_by", allowed)
    return groups


def _dimension(row: Any, name: str) -> Any:
    if name == "api_key_id":
        return row["key_id"]
    if name == "batch":
        return False
    if name == "api_source":
        return "unlabeled"
    return row[name]


def _page(buckets: list[dict[str, Any]], next_page: str | None) -> dict[str, Any]:
    return {"object": "page", "data": buckets, "has_more": next_page is not None, "next_page": next_page}


def _by_window(windows: list[tuple[int, int]], rows: list[Any]) -> list[tuple[int, int, list[Any]]]:
    """Each window (start, end) with its rows, in one pass (windows are consecutive and of one width,
    and `_rows` read only rows inside them)."""
    found: dict[int, list[Any]] = {}
    if windows:
        first, width = windows[0][0], windows[0][1] - windows[0][0]
        for row in rows:
            found.setdefault(first + (row["created_at"] - first) // width * width, []).append(row)
    return [(lo, hi, found.get(lo, [])) for lo, hi in windows]


def _in_order(totals: dict[tuple[Any, ...], dict[str, Any]]) -> list[dict[str, Any]]:
    """A bucket's results, ordered by their group values."""
    return [totals[key] for key in sorted(totals, key=lambda k: tuple(str(v) for v in k))]


def completions_usage(
    store: Store, clock: Clock, org_id: str, *, start_time: int, end_time: int | None = None,
    bucket_width: str = "1d", group_by: Sequence[str] | None = None, project_ids: Sequence[str] | None = None,
    user_ids: Sequence[str] | None = None, api_key_ids: Sequence[str] | None = None,
    models: Sequence[str] | None = None, batch: bool | None = None, limit: int | None = None,
    page: str | None = None,
) -> dict[str, Any]:
    """`UsageCompletionsResponse`: tokens and requests per bucket (and per group)."""
    check_choice(bucket_width, "bucket_width", tuple(WIDTHS))
    groups = _groups(group_by, COMPLETIONS_GROUPS)
    windows, end, next_page = _windows(clock, start_time, end_time, bucket_width, limit, page,
                                       BUCKET_LIMITS[bucket_width])
    rows = _rows(store, org_id, windows[0][0], min(end, windows[-1][1])) if windows and batch is not True else []
    if rows:
        rows = [r for r in rows if not r["endpoint"].startswith(NOT_COMPLETIONS)
                and (not project_ids or r["project_id"] in project_ids)
                and (not user_ids or r["user_id"] in user_ids)
                and (not api_key_ids or r["key_id"] in api_key_ids)
                and (not models or r["model"] in models)]
    buckets = []
    for lo, hi, in_bucket in _by_window(windows, rows):
        totals: dict[tuple[Any, ...], dict[str, Any]] = {}
        for row in in_bucket:
            key = tuple(_dimension(row, name) for name in groups)
            result = totals.setdefault(key, {
                "object": "organization.usage.completions.result",
                "input_tokens": 0, "output_tokens": 0, "num_model_requests": 0,
                "input_cached_tokens": 0, "input_uncached_tokens": 0, "input_text_tokens": 0,
                "output_text_tokens": 0, "input_audio_tokens": 0, "output_audio_tokens": 0,
                **{name: None for name in COMPLETIONS_GROUPS},
                **dict(zip(groups, key, strict=True)),
            })
            result["input_tokens"] += row["input_tokens"]
            result["output_tokens"] += row["output_tokens"]
            result["num_model_requests"] += 1
            result["input_cached_tokens"] += row["cached_tokens"]
            result["input_uncached_tokens"] += row["input_tokens"] - row["cached_tokens"]
            result["input_text_tokens"] += row["input_tokens"] - row["cached_tokens"]
            result["output_text_tokens"] += row["output_tokens"]
        buckets.append({"object": "bucket", "start_time": lo, "end_time": hi, "results": _in_order(totals)})
    return _page(buckets, next_page)


def costs(
    store: Store, clock: Clock, org_id: str, *, start_time: int, end_time: int | None = None,
    bucket_width: str = "1d", group_by: Sequence[str] | None = None, project_ids: Sequence[str] | None = None,
    api_key_ids: Sequence[str] | None = None, line_items: Sequence[str] | None = None,
    limit: int | None = None, page: str | None = None,
) -> dict[str, Any]:
    """`UsageCostsResponse`: dollars per 1-day bucket (and per project, key or line item)."""
    check_choice(bucket_width, "bucket_width", ("1d",))
    groups = _groups(group_by, COSTS_GROUPS)
    windows, end, next_page = _windows(clock, start_time, end_time, "1d", limit, page, COSTS_LIMITS)
    rows = _rows(store, org_id, windows[0][0], min(end, windows[-1][1])) if windows else []
    rows = [r for r in rows if (not project_ids or r["project_id"] in project_ids)
            and (not api_key_ids or r["key_id"] in api_key_ids)]
    by_line = "line_item" in groups
    buckets = []
    for lo, hi, in_bucket in _by_window(windows, rows):
        totals: dict[tuple[Any, ...], dict[str, Any]] = {}
        for row in in_bucket:
            quantities = {"input_tokens": row["input_tokens"] - row["cached_tokens"],
                          "cached_input_tokens": row["cached_tokens"], "output_tokens": row["output_tokens"]}
            for part, pico_column in LINE_ITEMS:
                item = line_item(row["model"], part)
                if line_items and item not in line_items:
                    continue
                if part == "cached_input_tokens" and not row["cached_tokens"]:
                    continue
                key = tuple(item if name == "line_item" else _dimension(row, name) for name in groups)
                result = totals.setdefault(key, {
                    "object": "organization.costs.result", "pico": 0, "quantity": 0,
                    "line_item": None, "project_id": None, "api_key_id": None, "user_id": None,
                    "api_source": None, **dict(zip(groups, key, strict=True)),
                })
                result["pico"] += row[pico_column]
                result["quantity"] += quantities[part]
        results = []
        for result in _in_order(totals):
            pico = result.pop("pico")
            quantity = result.pop("quantity")
            results.append({
                **result,
                "amount": {"value": pico / 10**12, "currency": "usd"},
                "quantity": quantity if by_line else None,
                "quantity_unit": "tokens" if by_line else None,
            })
        buckets.append({"object": "bucket", "start_time": lo, "end_time": hi, "results": results})
    return _page(buckets, next_page)

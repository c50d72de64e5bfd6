"""Monthly hard spend limits (`/organization/spend_limit`, `/organization/projects/{id}/spend_limit`).

The limits live in the `spend_limits` table, which `keylab.sandbox.billing.Billing.reserve` reads
before every billed call: a call is refused with 429 `organization_spend_limit_exceeded` /
`project_spend_limit_exceeded` once the month's spend (plus calls in flight) reaches the limit.
Amounts are in cents, as in the real API.
"""

from __future__ import annotations

from typing import Any

from keylab.sandbox.clock import Clock
from keylab.sandbox.platform._common import check_scope
from keylab.sandbox.store import Store

PICO_PER_CENT = 10**10
# The 429 `code` a call gets once a scope's budget is reached (billing) and the budget e-mail names.
LIMIT_ERRORS = {"organization": "organization_spend_limit_exceeded", "project": "project_spend_limit_exceeded"}


def _object(scope: str) -> str:
    return "organization.spend_limit" if scope == "organization" else "project.spend_limit"


def get_spend_limit(store: Store, scope: str, scope_id: str) -> dict[str, Any] | None:
    """The limit as the API shows it (`OrganizationSpendLimit` / `ProjectSpendLimit`), or None."""
    check_scope(scope)
    row = store.query_one(
        "SELECT threshold_cents, currency, interval FROM spend_limits WHERE scope = ? AND scope_id = ?",
        (scope, scope_id),
    )
    if row is None:
        return None
    return {
        "object": _object(scope),
        "threshold_amount": int(row["threshold_cents"]),
        "currency": row["currency"],
        "interval": row["interval"],
        "enforcement": {"status": "enforcing"},
    }


def no_spend_limit(scope: str) -> dict[str, Any]:
    """What GET answers when no limit is set (keylab's choice: threshold 0, enforcement inactive)."""
    check_scope(scope)
    return {"object": _object(scope), "threshold_amount": 0, "currency": "USD", "interval": "month",
            "enforcement": {"status": "inactive"}}


def set_spend_limit(store: Store, clock: Clock, scope: str, scope_id: str, threshold_cents: int, *,
                    currency: str = "USD", interval: str = "month", site_url: str | None = None) -> dict[str, Any]:
    """Create or replace the limit; returns it as `get_spend_limit` does.

    A limit at or below this month's spend is reached at once: its e-mail goes out now (links to
    `site_url`, the dashboard), not after the next call, which the limit refuses.
    """
    check_scope(scope)
    if isinstance(threshold_cents, bool) or not isinstance(threshold_cents, int) or threshold_cents < 1:
        raise ValueError("threshold_cents must be a whole number of cents >= 1")
    with store.transaction() as db:
        db.execute(
            "INSERT INTO spend_limits (scope, scope_id, threshold_cents, currency, interval, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(scope, scope_id) DO UPDATE SET"
            " threshold_cents = excluded.threshold_cents, currency = excluded.currency,"
            " interval = excluded.interval",
            (scope, scope_id, threshold_cents, currency, interval, clock.now_s()),
        )
    result = get_spend_limit(store, scope, scope_id)
    assert result is not None
    from keylab.sandbox.platform.limit_notices import notify_if_reached  # it imports this module

    notify_if_reached(store, clock, scope, scope_id, site_url)
    return result


def delete_spend_limit(store: Store, scope: str, scope_id: str) -> bool:
    """Remove the limit; True if there was one."""
    check_scope(scope)
    with store.transaction() as db:
        return db.execute("DELETE FROM spend_limits WHERE scope = ? AND scope_id = ?",
                          (scope, scope_id)).rowcount > 0


def month_spend_pico(store: Store, clock: Clock, scope: str, scope_id: str) -> int:
    """What the scope has spent this (UTC) month, in picodollars, from the usage rows."""
    check_scope(scope)
    column = "org_id" if scope == "organization" else "project_id"
    row = store.query_one(
        f"SELECT COALESCE(SUM(cost_pico), 0) FROM usage WHERE {column} = ? AND created_at >= ?",
        (scope_id, clock.month_start_s()),
    )
    return int(row[0]) if row else 0

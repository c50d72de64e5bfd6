"""Spend alerts: an email when a month's spend crosses a threshold. They notify; they never block.

`check_alerts` is a `Billing` listener (registered where `SandboxState` is built). After each billed
call it compares the month's spend of the call's organization and project with their alerts and
sends ONE email per alert per month: the `spend_alert_deliveries` row (primary key alert, month) and
the outbox message are written in one transaction, so concurrent calls cannot send twice.
Amounts are shown in cents, as the platform shows them; links go to this sandbox's dashboard.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from keylab.pricing import format_usd_cents, from_pico
from keylab.sandbox.accounts import new_id
from keylab.sandbox.billing import Settled
from keylab.sandbox.clock import Clock
from keylab.sandbox.errors import ApiError
from keylab.sandbox.platform._common import check_scope, cursor_page
from keylab.sandbox.platform.limits import PICO_PER_CENT, month_spend_pico
from keylab.sandbox.platform.outbox import insert_message
from keylab.sandbox.state import DEFAULT_SITE_URL
from keylab.sandbox.store import Store

log = logging.getLogger("keylab.sandbox")


def _object(scope: str) -> str:
    return "organization.spend_alert" if scope == "organization" else "project.spend_alert"


def _as_api(row: Any) -> dict[str, Any]:
    channel: dict[str, Any] = {"type": row["channel_type"], "recipients": json.loads(row["recipients"])}
    if row["subject_prefix"] is not None:
        channel["subject_prefix"] = row["subject_prefix"]
    return {
        "id": row["id"],
        "object": _object(row["scope"]),
        "threshold_amount": int(row["threshold_cents"]),
        "currency": row["currency"],
        "interval": row["interval"],
        "notification_channel": channel,
    }


def _check(threshold_cents: int, recipients: Sequence[str]) -> list[str]:
    if isinstance(threshold_cents, bool) or not isinstance(threshold_cents, int) or threshold_cents < 0:
        raise ValueError("threshold_cents must be a whole number of cents >= 0")
    listed = [recipients] if isinstance(recipients, str) else list(recipients)
    if not listed or not all(isinstance(r, str) and r for r in listed):
        raise ValueError("an alert needs at least one recipient")
    return listed


def create_alert(store: Store, clock: Clock, scope: str, scope_id: str, *, threshold_cents: int,
                 recipients: Sequence[str], subject_prefix: str | None = None, currency: str = "USD",
                 interval: str = "month") -> dict[str, Any]:
    check_scope(scope)
    listed = _check(threshold_cents, recipients)
    alert_id = new_id("alert_")
    with store.transaction() as db:
        db.execute(
            "INSERT INTO spend_alerts (id, scope, scope_id, threshold_cents, currency, interval, channel_type,"
            " recipients, subject_prefix, created_at) VALUES (?, ?, ?, ?, ?, ?, 'email', ?, ?, ?)",
            (alert_id, scope, scope_id, threshold_cents, currency, interval, json.dumps(listed), subject_prefix,
             clock.now_s()),
        )
    return get_alert(store, clock, scope, scope_id, alert_id)


def _rows(store: Store, scope: str, scope_id: str) -> list[Any]:
    return store.query("SELECT * FROM spend_alerts WHERE scope = ? AND scope_id = ? ORDER BY created_at, rowid",
                       (scope, scope_id))


def list_alerts(store: Store, clock: Clock, scope: str, scope_id: str, *, after: str | None = None,
                before: str | None = None, limit: int | None = 20, order: str = "asc") -> dict[str, Any]:
    """A page `{object: "list", data, first_id, last_id, has_more}`, oldest first unless order="desc"."""
    check_scope(scope)
    items = [_as_api(row) for row in _rows(store, scope, scope_id)]
    return cursor_page(items, after=after, before=before, limit=limit, order=order, kind="Spend alert")


def get_alert(store: Store, clock: Clock, scope: str, scope_id: str, alert_id: str) -> dict[str, Any]:
    check_scope(scope)
    row = store.query_one("SELECT * FROM spend_alerts WHERE id = ? AND scope = ? AND scope_id = ?",
                          (alert_id, scope, scope_id))
    if row is None:
        raise ApiError("admin_object_not_found", kind="Spend alert", id=alert_id)
    return _as_api(row)


def update_alert(store: Store, clock: Clock, scope: str, scope_id: str, alert_id: str, *,
                 threshold_cents: int, recipients: Sequence[str], subject_prefix: str | None = None,
                 currency: str = "USD", interval: str = "month") -> dict[str, Any]:
    """Replace the alert's settings (the API's update takes the whole alert)."""
    get_alert(store, clock, scope, scope_id, alert_id)
    listed = _check(threshold_cents, recipients)
    with store.transaction() as db:
        db.execute(
            "UPDATE spend_alerts SET threshold_cents = ?, currency = ?, interval = ?, recipients = ?,"
            " subject_prefix = ? WHERE id = ?",
            (threshold_cents, currency, interval, json.dumps(listed), subject_prefix, alert_id),
        )
    return get_alert(store, clock, scope, scope_id, alert_id)


def delete_alert(store: Store, clock: Clock, scope: str, scope_id: str, alert_id: str) -> dict[str, Any]:
    get_alert(store, clock, scope, scope_id, alert_id)
    with store.transaction() as db:
        db.execute("DELETE FROM spend_alerts WHERE id = ?", (alert_id,))
        db.execute("DELETE FROM spend_alert_deliveries WHERE alert_id = ?", (alert_id,))
    return {"id": alert_id, "object": _object(scope) + ".deleted", "deleted": True}


def period_of(clock: Clock) -> str:
    """The alert month, 'YYYY-MM' in UTC (spend limits and alerts are monthly)."""
    today = clock.today()
    return f"{today.year:04d}-{today.month:02d}"


def list_deliveries(store: Store, alert_id: str) -> list[dict[str, Any]]:
    """When an alert fired: one row per month, with the outbox message it sent."""
    return [dict(row) for row in store.query(
        "SELECT alert_id, period, spend_pico, message_id, delivered_at FROM spend_alert_deliveries"
        " WHERE alert_id = ? ORDER BY period", (alert_id,))]


def month_name(period: str) -> str:
    """'2026-12' → 'December 2026'."""
    return dt.date(int(period[:4]), int(period[5:]), 1).strftime("%B %Y")


def _email(row: Any, scope_name: str, spend_pico: int, period: str, site_url: str) -> tuple[str, str]:
    threshold = format_usd_cents(Decimal(int(row["threshold_cents"])) / 100)
    spent = format_usd_cents(from_pico(spend_pico))
    prefix = f"{row['subject_prefix']} " if row["subject_prefix"] else ""
    subject = f"{prefix}Your {scope_name} spend has reached {threshold} this month"
    body = (
        f"Your {scope_name} has spent {spent} in {month_name(period)}, passing the spend alert of {threshold} "
        f"(alert {row['id']}).\n\n"
        "Spend alerts only notify: API calls keep working until a hard spend limit is reached or the "
        "credit balance runs out.\n\n"
        f"See your usage: {site_url}/usage\nManage limits and alerts: {site_url}/limits\n\n"
        "(Sent by the keylab sandbox: this message never left your computer.)"
    )
    return subject, body


def check_alerts(store: Store, clock: Clock, settled: Settled,
                 site_url: str = DEFAULT_SITE_URL) -> list[dict[str, Any]]:
    """Billing listener: send the alerts this call's spend crossed (once per alert per month).

    Returns the messages sent (usually none).
    """
    period = period_of(clock)
    due = store.query(
        "SELECT a.* FROM spend_alerts a WHERE ((a.scope = 'organization' AND a.scope_id = ?)"
        " OR (a.scope = 'project' AND a.scope_id = ?)) AND NOT EXISTS (SELECT 1 FROM spend_alert_deliveries d"
        " WHERE d.alert_id = a.id AND d.period = ?) ORDER BY a.created_at, a.rowid",
        (settled.org_id, settled.project_id, period),
    )
    if not due:
        return []
    idents = {"organization": settled.org_id, "project": settled.project_id}
    spend = {scope: month_spend_pico(store, clock, scope, idents[scope]) for scope in {row["scope"] for row in due}}
    sent = []
    now = clock.now_s()
    for row in due:
        spent = spend[row["scope"]]
        if spent < int(row["threshold_cents"]) * PICO_PER_CENT:
            continue
        scope_name = "organization" if row["scope"] == "organization" else f"project {row['scope_id']}"
        subject, body = _email(row, scope_name, spent, period, site_url)
        with store.transaction() as db:
            claimed = db.execute(
                "INSERT OR IGNORE INTO spend_alert_deliveries (alert_id, period, spend_pico, delivered_at)"
                " VALUES (?, ?, ?, ?)", (row["id"], period, spent, now),
            ).rowcount
            if not claimed:
                continue
            message = insert_message(db, now, to=json.loads(row["recipients"]), subject=subject, body=body,
                                     org_id=settled.org_id)
            db.execute("UPDATE spend_alert_deliveries SET message_id = ? WHERE alert_id = ? AND period = ?",
                       (message["id"], row["id"], period))
        sent.append(message)
    return sent


def listener(store: Store, clock: Clock, site_url: str = DEFAULT_SITE_URL) -> Callable[[Settled], None]:
    """The `Billing` listener for one sandbox: `check_alerts`, never failing the call it follows."""

    def on_settled(settled: Settled) -> None:
        try:
            check_alerts(store, clock, settled, site_url)
        except Exception:  # an alert must never turn a billed, answered call into an error
            log.exception("spend alert check failed for %s", settled)

    return on_settled

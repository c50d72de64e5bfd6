"""The e-mail that says a monthly spend limit (a budget) was reached, as the platform sends one.

Once an organization's or a project's spend this month reaches its hard limit, calls fail with 429
(`keylab.sandbox.billing`), and the organization's owner gets ONE e-mail about it per scope, month
and limit amount: the `spend_limit_notices` row and the outbox message are written in one
transaction. It is checked after each billed call (a `Billing` listener, registered in
`SandboxState` only for organizations that have a limit) and when a limit is set, since a limit set
below this month's spend is reached at once. The wording is the sandbox's own: the real e-mail's
text is not published.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from keylab.pricing import format_usd_cents, from_pico
from keylab.sandbox.billing import Settled
from keylab.sandbox.clock import Clock
from keylab.sandbox.platform.alerts import month_name, period_of
from keylab.sandbox.platform.limits import LIMIT_ERRORS, PICO_PER_CENT, month_spend_pico
from keylab.sandbox.platform.outbox import insert_message
from keylab.sandbox.state import DEFAULT_SITE_URL
from keylab.sandbox.store import Store

log = logging.getLogger("keylab.sandbox")

def _owner_and_names(store: Store, scope: str, scope_id: str) -> Any:
    """(owner email, organization name, project name or None) of a scope, or None if it has no owner."""
    if scope == "organization":
        return store.query_one(
            "SELECT u.email, o.id AS org_id, o.name AS org_name, NULL AS project_name FROM organizations o"
            " JOIN users u ON u.id = o.owner_user_id WHERE o.id = ?", (scope_id,))
    return store.query_one(
        "SELECT u.email, o.id AS org_id, o.name AS org_name, p.name AS project_name FROM projects p"
        " JOIN organizations o ON o.id = p.org_id JOIN users u ON u.id = o.owner_user_id WHERE p.id = ?",
        (scope_id,))


def _email(scope: str, names: Any, threshold_cents: int, spend_pico: int, period: str,
           site_url: str) -> tuple[str, str]:
    budget = format_usd_cents(Decimal(threshold_cents) / 100)
    spent = format_usd_cents(from_pico(spend_pico))
    who = (f"Your organization {names['org_name']}" if scope == "organization"
           else f"Your project {names['project_name']} (organization {names['org_name']})")
    subject = (f"Your organization has reached its monthly budget of {budget}" if scope == "organization"
               else f"Your project {names['project_name']} has reached its monthly budget of {budget}")
    body = (
        f"{who} has spent {spent} in {month_name(period)} and reached its monthly budget "
        f"(hard spend limit) of {budget}.\n\n"
        f"API requests {'of the organization' if scope == 'organization' else 'of this project'} now fail with "
        f"429 {LIMIT_ERRORS[scope]} until the month ends (budgets reset on the 1st, UTC) or you raise or "
        "remove the budget.\n\n"
        f"Raise or remove the budget: {site_url}/limits\nSee your usage: {site_url}/usage\n\n"
        "(Sent by the keylab sandbox: this message never left your computer.)"
    )
    return subject, body


def notify_if_reached(store: Store, clock: Clock, scope: str, scope_id: str,
                      site_url: str | None = None) -> dict[str, Any] | None:
    """Send the budget-reached e-mail for one scope if its limit is reached this month and that
    e-mail was not sent yet (for this month and this limit). Returns the message sent, if any.
    `site_url`: the dashboard's address, for the e-mail's links."""
    period = period_of(clock)
    row = store.query_one(
        "SELECT l.threshold_cents FROM spend_limits l WHERE l.scope = ? AND l.scope_id = ? AND NOT EXISTS"
        " (SELECT 1 FROM spend_limit_notices n WHERE n.scope = l.scope AND n.scope_id = l.scope_id"
        " AND n.period = ? AND n.threshold_cents = l.threshold_cents)", (scope, scope_id, period))
    if row is None:
        return None
    cents = int(row["threshold_cents"])
    spent = month_spend_pico(store, clock, scope, scope_id)
    if spent < cents * PICO_PER_CENT:
        return None
    names = _owner_and_names(store, scope, scope_id)
    if names is None:
        return None
    subject, body = _email(scope, names, cents, spent, period, (site_url or DEFAULT_SITE_URL).rstrip("/"))
    now = clock.now_s()
    with store.transaction() as db:
        claimed = db.execute(
            "INSERT OR IGNORE INTO spend_limit_notices (scope, scope_id, period, threshold_cents, spend_pico,"
            " delivered_at) VALUES (?, ?, ?, ?, ?, ?)", (scope, scope_id, period, cents, spent, now),
        ).rowcount
        if not claimed:
            return None
        message = insert_message(db, now, to=names["email"], subject=subject, body=body, org_id=names["org_id"])
        db.execute("UPDATE spend_limit_notices SET message_id = ? WHERE scope = ? AND scope_id = ? AND period = ?"
                   " AND threshold_cents = ?", (message["id"], scope, scope_id, period, cents))
    return message


def check_limits(store: Store, clock: Clock, settled: Settled,
                 site_url: str = DEFAULT_SITE_URL) -> list[dict[str, Any]]:
    """Billing listener: the budget-reached e-mails this call's spend made due (usually none)."""
    sent = [notify_if_reached(store, clock, "organization", settled.org_id, site_url)]
    if settled.project_id:
        sent.append(notify_if_reached(store, clock, "project", settled.project_id, site_url))
    return [message for message in sent if message is not None]


def listener(store: Store, clock: Clock, site_url: str = DEFAULT_SITE_URL) -> Callable[[Settled], None]:
    """The `Billing` listener for one sandbox: `check_limits`, never failing the call it follows."""

    def on_settled(settled: Settled) -> None:
        try:
            check_limits(store, clock, settled, site_url)
        except Exception:  # an e-mail must never turn a billed, answered call into an error
            log.exception("spend limit notice failed for %s", settled)

    return on_settled


def list_notices(store: Store, scope: str, scope_id: str) -> list[dict[str, Any]]:
    """The budget-reached e-mails sent for a scope, oldest first."""
    return [dict(row) for row in store.query(
        "SELECT scope, scope_id, period, threshold_cents, spend_pico, message_id, delivered_at"
        " FROM spend_limit_notices WHERE scope = ? AND scope_id = ? ORDER BY delivered_at, period",
        (scope, scope_id))]

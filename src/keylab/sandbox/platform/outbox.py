"""The outbox: every email or text message the platform sends, kept in the database, never sent.

Spend alerts, verification codes and key-leak notices land here; lessons and the dashboard read
them as the learner would read their mailbox.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from keylab.sandbox.accounts import new_id
from keylab.sandbox.clock import Clock
from keylab.sandbox.store import Store

KINDS = ("email", "sms")


def _recipients(to: str | Sequence[str]) -> list[str]:
    recipients = [to] if isinstance(to, str) else list(to)
    if not recipients or not all(isinstance(r, str) and r for r in recipients):
        raise ValueError("a message needs at least one recipient")
    return recipients


def insert_message(db: sqlite3.Connection, now_s: int, *, to: str | Sequence[str], subject: str, body: str,
                   kind: str = "email", user_id: str | None = None, org_id: str | None = None) -> dict[str, Any]:
    """Write one message inside the caller's transaction (used where sending must be atomic).

    user_id: the user the message is for when it carries their secret (a verification link or
    code): the dashboard shows it to that user only, whoever else claims the address.
    org_id: the organization whose spending the message is about (a spend alert): on a class
    sandbox a student's control plane lists only the messages about their own organizations.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    message = {"id": new_id("msg_"), "kind": kind, "to": _recipients(to), "subject": subject, "body": body,
               "created_at": now_s}
    db.execute(
        "INSERT INTO outbox (id, kind, recipients, subject, body, created_at, user_id, org_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (message["id"], kind, json.dumps(message["to"]), subject, body, now_s, user_id, org_id),
    )
    return message


def send(store: Store, clock: Clock, *, to: str | Sequence[str], subject: str, body: str,
         kind: str = "email", user_id: str | None = None) -> dict[str, Any]:
    """Send (store) one message to one or more recipients; returns it as a dict."""
    with store.transaction() as db:
        return insert_message(db, clock.now_s(), to=to, subject=subject, body=body, kind=kind, user_id=user_id)


def _row(row: sqlite3.Row) -> dict[str, Any]:
    return {"id": row["id"], "kind": row["kind"], "to": json.loads(row["recipients"]), "subject": row["subject"],
            "body": row["body"], "created_at": row["created_at"]}


def list_messages(store: Store, to: str | None = None, *, kind: str | None = None,
                  limit: int | None = None, tenant: str | None = None) -> list[dict[str, Any]]:
    """Messages, newest first; `to` keeps those addressed to that recipient (case-insensitive),
    `tenant` those about the organizations of one class student (clock.py says what a tenant is)."""
    sql = "SELECT * FROM outbox o WHERE 1 = 1"
    params: list[Any] = []
    if tenant is not None:
        sql += " AND o.org_id IN (SELECT id FROM organizations WHERE tenant_id = ?)"
        params.append(tenant)
    if to is not None:
        sql += " AND EXISTS (SELECT 1 FROM json_each(o.recipients) r WHERE lower(r.value) = lower(?))"
        params.append(to)
    if kind is not None:
        sql += " AND kind = ?"
        params.append(kind)
    sql += " ORDER BY created_at DESC, rowid DESC"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(int(limit))
    return [_row(row) for row in store.query(sql, tuple(params))]


def messages_of_user(store: Store, user_id: str, verified_email: str | None, *, limit: int = 200
                     ) -> list[dict[str, Any]]:
    """A user's mailbox, newest first: the messages sent for them (verification links and codes),
    and mail to their verified email address that is for no one user in particular (spend alerts).

    Nothing else: a phone number or an address someone merely typed gives no access to its mail.
    """
    sql = "SELECT * FROM outbox o WHERE o.user_id = ?"
    params: list[Any] = [user_id]
    if verified_email:
        sql += (" OR (o.user_id IS NULL AND o.kind = 'email' AND EXISTS (SELECT 1 FROM json_each(o.recipients) r"
                " WHERE lower(r.value) = lower(?)))")
        params.append(verified_email)
    sql += " ORDER BY created_at DESC, rowid DESC LIMIT ?"
    params.append(int(limit))
    return [_row(row) for row in store.query(sql, tuple(params))]


def get_message(store: Store, message_id: str) -> dict[str, Any] | None:
    row = store.query_one("SELECT * FROM outbox WHERE id = ?", (message_id,))
    return _row(row) if row else None

"""Making and resetting the students of a class sandbox.

Each student gets what a real class should give each person instead of a shared organization
key: an organization of their own (so balance, monthly spend and rate-limit buckets are theirs),
prepaid credit, a hard monthly spend limit (the budget), and a project key with its own rate limit.
The full keys exist only in the returned `NewStudent` objects; the database keeps their hashes.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from decimal import Decimal

from keylab.pricing import to_pico
from keylab.sandbox.accounts import create_account, create_key
from keylab.sandbox.classroom.roster import RosterEntry
from keylab.sandbox.clock import Clock
from keylab.sandbox.platform.limits import set_spend_limit
from keylab.sandbox.store import Store

DEFAULT_RPM = 60  # a learner's lessons make a few calls a minute; a runaway loop stops at this
DEFAULT_TPM = 60_000
KEY_NAME = "classroom"


class ClassroomError(ValueError):
    """A class operation that cannot go ahead; the message says what to do instead."""


@dataclass(frozen=True)
class NewStudent:
    """One student's account as created; the only object that holds their full key."""

    name: str
    email: str
    organization_id: str
    project_id: str
    api_key: str

    def env_lines(self, base_url: str) -> list[str]:
        return [f"OPENAI_API_KEY={self.api_key}", f"OPENAI_BASE_URL={base_url}"]

    def as_json(self) -> dict[str, str]:
        return {"name": self.name, "email": self.email, "api_key": self.api_key,
                "organization_id": self.organization_id, "project_id": self.project_id}


def budget_cents(budget_usd: Decimal) -> int:
    """The budget as the spend limit's whole cents (at least one cent: the platform's minimum)."""
    cents = int((budget_usd * 100).to_integral_value())
    if not budget_usd.is_finite() or cents < 1:
        raise ClassroomError(f"The budget must be at least $0.01 per student, not {budget_usd}.")
    return cents


def create_class(store: Store, clock: Clock, roster: list[RosterEntry], *, budget_usd: Decimal,
                 credits_usd: Decimal | None = None, rpm: int = DEFAULT_RPM, tpm: int = DEFAULT_TPM) -> list[NewStudent]:
    """One account per roster entry. Refuses (creating nothing) if any email already has an account."""
    cents = budget_cents(budget_usd)
    credit = budget_usd if credits_usd is None else credits_usd
    if rpm < 1 or tpm < 1:
        raise ClassroomError("The rate limits must be whole numbers >= 1.")
    taken = [entry.email for entry in roster
             if store.query_one("SELECT 1 FROM users WHERE lower(email) = ?", (entry.email,))]
    if taken:
        raise ClassroomError(
            f"{len(taken)} email(s) of the roster already have an account in this sandbox ({', '.join(taken[:5])}"
            f"{', …' if len(taken) > 5 else ''}). Nothing was created. Remove them from the roster (they keep "
            "their keys), or use `keylab classroom reset` for a student who needs a fresh start."
        )
    created = []
    for entry in roster:
        account = create_account(store, clock, email=entry.email, credits_usd=credit)
        with store.transaction() as db:
            db.execute("UPDATE users SET name = ? WHERE id = ?", (entry.name, account.user_id))
            # The student's organization is a tenant: the lessons they stage move only their clock (clock.py).
            db.execute("UPDATE organizations SET name = ?, tenant_id = id WHERE id = ?",
                       (entry.name, account.organization_id))
            # The admin key is the instructor's business, not the student's: revoke it at once.
            db.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ?", (clock.now_s(), account.admin_key_id))
            db.execute("UPDATE api_keys SET name = ?, rpm_limit = ?, tpm_limit = ? WHERE id = ?",
                       (KEY_NAME, rpm, tpm, account.api_key_id))
            db.execute(
                "INSERT INTO classroom_students (email, name, user_id, org_id, project_id, key_id, budget_cents,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (entry.email, entry.name, account.user_id, account.organization_id, account.project_id,
                 account.api_key_id, cents, clock.now_s()),
            )
        set_spend_limit(store, clock, "organization", account.organization_id, cents)
        created.append(NewStudent(entry.name, entry.email, account.organization_id, account.project_id,
                                  account.api_key))
    return created


def student_row(store: Store, email: str) -> sqlite3.Row:
    """The class record of the student with `email`, or a ClassroomError naming the fix."""
    row = store.query_one("SELECT * FROM classroom_students WHERE email = ?", (email.strip().lower(),))
    if row is None:
        raise ClassroomError(f"No student with the email {email} in this class sandbox. "
                             "`keylab classroom report` lists the class.")
    return row


def reset_student(store: Store, clock: Clock, email: str, *, new_key: bool = False) -> str | None:
    """Give a student a fresh start: their usage, errors and lab progress are forgotten, their
    credit is back to the budget, their clock back on the sandbox's time, and the practice accounts
    they made are closed (their keys revoked) and no longer count against their number. With new_key the old key is revoked and the new one returned
    (for a key that leaked or was lost); otherwise the student keeps their key and None is returned.
    """
    row = student_row(store, email)
    org_id = row["org_id"]
    budget_pico = to_pico(Decimal(row["budget_cents"]) / 100)
    with store.transaction() as db:
        for table in ("usage", "api_error_counts", "lab_progress"):
            db.execute(f"DELETE FROM {table} WHERE org_id = ?", (org_id,))
        balance = db.execute("SELECT balance_pico FROM organizations WHERE id = ?", (org_id,)).fetchone()[0]
        if balance != budget_pico:
            db.execute("INSERT INTO credit_grants (org_id, amount_pico, created_at, source) VALUES (?, ?, ?, ?)",
                       (org_id, budget_pico - balance, clock.now_s(), "classroom reset"))
            db.execute("UPDATE organizations SET balance_pico = ? WHERE id = ?", (budget_pico, org_id))
        practice = "SELECT id FROM organizations WHERE tenant_id = ? AND id != ?"
        db.execute(f"UPDATE api_keys SET revoked_at = ? WHERE revoked_at IS NULL AND org_id IN ({practice})",
                   (clock.now_s(), org_id, org_id))
        db.execute(f"UPDATE organizations SET tenant_id = NULL WHERE id IN ({practice})", (org_id, org_id))
    clock.reset(org_id)  # the student's organization is their tenant (clock.py)
    if not new_key:
        return None
    old = store.query_one("SELECT rpm_limit, tpm_limit FROM api_keys WHERE id = ?", (row["key_id"],))
    key_id, full_key = create_key(store, clock, org_id=org_id, project_id=row["project_id"], name=KEY_NAME,
                                  owner_id=row["user_id"])
    with store.transaction() as db:
        db.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ?", (clock.now_s(), row["key_id"]))
        db.execute("UPDATE api_keys SET rpm_limit = ?, tpm_limit = ? WHERE id = ?",
                   (old["rpm_limit"] if old else DEFAULT_RPM, old["tpm_limit"] if old else DEFAULT_TPM, key_id))
        db.execute("UPDATE classroom_students SET key_id = ? WHERE email = ?", (key_id, row["email"]))
    return full_key


__all__ = ["ClassroomError", "NewStudent", "create_class", "reset_student", "student_row"]

"""Organizations, projects and keys: created here, looked up by hash, never stored in full.

A key exists in full exactly once: in the return value of the function that created it. The
database keeps its HMAC (see `Store.hash_key`) and its redacted form (`sk-proj-...abcd`).
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass
from decimal import Decimal

from keylab.keys import generate_sandbox_key, mask
from keylab.pricing import to_pico
from keylab.sandbox import randomness
from keylab.sandbox.clock import Clock
from keylab.sandbox.store import Store

_ALNUM = string.ascii_letters + string.digits
_ALNUM_BYTES = bytes(ord(_ALNUM[byte % 62]) for byte in range(256))  # byte -> _ALNUM[byte % 62]

# Permission presets of the "Create new secret key" dialog (help.openai.com 8867743; facts.md §4).
PERMISSIONS = ("all", "restricted", "read_only")
READ_ONLY_SCOPES = ["api.all.read"]


def new_id(prefix: str, length: int = 24) -> str:
    """`prefix` + `length` random letters and digits (one urandom read, not one per character:
    ids are made on every request). The tiny modulo bias does not matter for ids."""
    return prefix + randomness.token_bytes(length).translate(_ALNUM_BYTES).decode("ascii")


@dataclass(frozen=True)
class KeyRecord:
    """What the server knows about the key of the request in hand (never the key itself)."""

    id: str
    kind: str
    org_id: str
    project_id: str | None
    name: str
    redacted: str
    permission: str
    scopes: tuple[str, ...]
    rpm_limit: int | None
    tpm_limit: int | None
    tenant_id: str | None = None  # a class student's organization: whose clock and faults apply (clock.py)

    @property
    def clock_tenant(self) -> str | None:
        """Whose clock this key's calls read: a class student's, for their practice accounts; the
        sandbox's for everyone else, the account the class gave the student included (its monthly
        budget is the instructor's, and follows the sandbox's month)."""
        return self.tenant_id if self.tenant_id != self.org_id else None

    def has_scope(self, *needed: str) -> bool:
        """All-permission keys have every scope; read-only keys read; restricted keys list theirs."""
        if self.permission == "all" or self.kind == "admin":
            return True
        if self.permission == "read_only":
            return all(scope.endswith(".read") for scope in needed)
        return any(scope in self.scopes for scope in needed)


@dataclass(frozen=True)
class NewAccount:
    """The result of `create_account`: the only object that ever holds the two full keys."""

    organization_id: str
    project_id: str
    user_id: str
    email: str
    api_key: str
    api_key_id: str
    admin_key: str
    admin_key_id: str
    credits_usd: Decimal

    def as_json(self) -> dict[str, str]:
        return {
            "organization_id": self.organization_id,
            "project_id": self.project_id,
            "user_id": self.user_id,
            "email": self.email,
            "api_key": self.api_key,
            "api_key_id": self.api_key_id,
            "admin_key": self.admin_key,
            "admin_key_id": self.admin_key_id,
            "credits_usd": str(self.credits_usd),
        }


def create_organization(store: Store, clock: Clock, *, name: str, owner_user_id: str | None,
                        tenant_id: str | None = None) -> tuple[str, str]:
    """A new organization with its Default project; returns (org_id, project_id).
    tenant_id: the class student whose practice account this is (clock.py)."""
    org_id = new_id("org-")
    project_id = new_id("proj_")
    now = clock.now_s()
    with store.transaction() as db:
        db.execute(
            "INSERT INTO organizations (id, name, owner_user_id, created_at, tenant_id) VALUES (?, ?, ?, ?, ?)",
            (org_id, name, owner_user_id, now, tenant_id),
        )
        db.execute(
            "INSERT INTO projects (id, org_id, name, created_at, is_default) VALUES (?, ?, ?, ?, 1)",
            (project_id, org_id, "Default project", now),
        )
    return org_id, project_id


def create_key(
    store: Store,
    clock: Clock,
    *,
    org_id: str,
    project_id: str | None,
    name: str,
    kind: str = "project",
    permission: str = "all",
    scopes: list[str] | None = None,
    owner_type: str = "user",
    owner_id: str | None = None,
    expires_at: int | None = None,
) -> tuple[str, str]:
    """Create a key and return (key_id, full_key). The full key is not kept anywhere."""
    if permission not in PERMISSIONS:
        raise ValueError(f"permission must be one of {PERMISSIONS}, not {permission!r}")
    prefix = {"project": "sk-proj-", "admin": "sk-admin-", "service_account": "sk-svcacct-"}[kind]
    full_key = generate_sandbox_key(prefix)
    key_id = new_id("key_", 16)
    if permission == "read_only":
        scopes = READ_ONLY_SCOPES
    with store.transaction() as db:
        db.execute(
            "INSERT INTO api_keys (id, kind, org_id, project_id, name, hash, redacted, scopes, permission,"
            " owner_type, owner_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                key_id, kind, org_id, project_id, name, store.hash_key(full_key), mask(full_key),
                json.dumps(scopes or []), permission, owner_type, owner_id, clock.now_s(), expires_at,
            ),
        )
    return key_id, full_key


def grant_credit(store: Store, clock: Clock, org_id: str, amount_usd: Decimal, source: str) -> None:
    """Add prepaid credit (a test-card purchase, an instructor's grant)."""
    pico = to_pico(amount_usd)
    with store.transaction() as db:
        db.execute(
            "INSERT INTO credit_grants (org_id, amount_pico, created_at, source) VALUES (?, ?, ?, ?)",
            (org_id, pico, clock.now_s(), source),
        )
        db.execute("UPDATE organizations SET balance_pico = balance_pico + ? WHERE id = ?", (pico, org_id))


def balance_pico(store: Store, org_id: str) -> int:
    """An organization's prepaid balance in picodollars, as the database holds it (0 if unknown)."""
    row = store.query_one("SELECT balance_pico FROM organizations WHERE id = ?", (org_id,))
    return int(row[0]) if row else 0


def create_account(
    store: Store, clock: Clock, *, email: str | None = None, credits_usd: Decimal = Decimal(0),
    tenant_id: str | None = None,
) -> NewAccount:
    """The instructor's shortcut: a verified user and organization, a funded balance, two keys.
    tenant_id: the class student whose practice account this is (clock.py)."""
    user_id = new_id("user-")
    email = email or f"learner-{user_id[-6:].lower()}@example.com"
    now = clock.now_s()
    with store.transaction() as db:
        db.execute(
            "INSERT INTO users (id, email, name, email_verified_at, phone_verified_at, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (user_id, email, email.split("@")[0], now, now, now),
        )
    org_id, project_id = create_organization(store, clock, name="Personal", owner_user_id=user_id,
                                             tenant_id=tenant_id)
    if credits_usd > 0:
        grant_credit(store, clock, org_id, credits_usd, "keylab sandbox account create")
    api_key_id, api_key = create_key(
        store, clock, org_id=org_id, project_id=project_id, name="Development_Testing", owner_id=user_id
    )
    admin_key_id, admin_key = create_key(
        store, clock, org_id=org_id, project_id=None, name="Admin key", kind="admin", owner_id=user_id
    )
    return NewAccount(
        organization_id=org_id, project_id=project_id, user_id=user_id, email=email,
        api_key=api_key, api_key_id=api_key_id, admin_key=admin_key, admin_key_id=admin_key_id,
        credits_usd=credits_usd,
    )


def find_key(store: Store, clock: Clock, full_key: str) -> KeyRecord | None:
    """The live key record for a presented key, or None (unknown, revoked, expired).

    Looked up once per configuration change: `Store.cache` is emptied by any write that could
    revoke, archive or change a key (in this process or another one), so a revocation applies at
    the next request. Expiry is checked against the clock on every call.
    """
    digest = store.hash_key(full_key)
    cache = store.cache()
    entry = cache.get(("key", digest), _MISSING)
    if entry is _MISSING:
        entry = _load_key(store, digest)
        cache[("key", digest)] = entry
    if entry is None:
        return None
    record, expires_at = entry  # type: ignore[misc]
    if expires_at is not None and expires_at <= clock.now_for(record.clock_tenant):
        return None
    return record


_MISSING = object()


def _load_key(store: Store, digest: str) -> tuple[KeyRecord, int | None] | None:
    row = store.query_one(
        "SELECT k.*, p.archived_at AS project_archived, o.tenant_id FROM api_keys k"
        " LEFT JOIN projects p ON p.id = k.project_id JOIN organizations o ON o.id = k.org_id WHERE k.hash = ?",
        (digest,),
    )
    if row is None or row["revoked_at"] is not None or row["project_archived"] is not None:
        return None
    record = KeyRecord(
        id=row["id"], kind=row["kind"], org_id=row["org_id"], project_id=row["project_id"], name=row["name"],
        redacted=row["redacted"], permission=row["permission"], scopes=tuple(json.loads(row["scopes"])),
        rpm_limit=row["rpm_limit"], tpm_limit=row["tpm_limit"], tenant_id=row["tenant_id"],
    )
    return record, row["expires_at"]

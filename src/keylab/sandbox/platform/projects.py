"""Projects, their keys, service accounts, admin keys and project rate limits.

Every function takes the organization it acts for (`org_id`) and refuses objects of another
organization with the same 404 as an unknown one. Keys are made by `keylab.sandbox.accounts.create_key`:
the full key appears once, in the return value of the function that created it (`value`), and is
never stored. Deleting a key revokes it (`revoked_at`); it stops working at once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from keylab.pricing import current_models
from keylab.sandbox.accounts import READ_ONLY_SCOPES, create_key, new_id
from keylab.sandbox.clock import Clock
from keylab.sandbox.errors import ApiError
from keylab.sandbox.platform._common import cursor_page
from keylab.sandbox.ratelimit import DEFAULT_RPM, DEFAULT_TPM
from keylab.sandbox.store import Store

SERVICE_ACCOUNT_KEY_NAME = "Secret Key"
RATE_LIMIT_FIELDS = (
    "max_requests_per_1_minute", "max_tokens_per_1_minute", "max_requests_per_1_day",
    "max_images_per_1_minute", "max_audio_megabytes_per_1_minute", "batch_1_day_max_input_tokens",
)


# ---------------------------------------------------------------- projects

def _project(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "object": "organization.project",
        "name": row["name"],
        "created_at": row["created_at"],
        "archived_at": row["archived_at"],
        "status": "archived" if row["archived_at"] is not None else "active",
        "external_key_id": row["external_key_id"],
    }


def _project_row(store: Store, org_id: str, project_id: str) -> Any:
    row = store.query_one("SELECT * FROM projects WHERE id = ? AND org_id = ?", (project_id, org_id))
    if row is None:
        raise ApiError("project_not_found", project_id=project_id)
    return row


def create_project(store: Store, clock: Clock, org_id: str, *, name: str,
                   external_key_id: str | None = None) -> dict[str, Any]:
    if not isinstance(name, str) or not name.strip():
        raise ApiError("missing_required_parameter", param="name")
    project_id = new_id("proj_")
    with store.transaction() as db:
        db.execute("INSERT INTO projects (id, org_id, name, created_at, external_key_id) VALUES (?, ?, ?, ?, ?)",
                   (project_id, org_id, name, clock.now_s(), external_key_id))
    return get_project(store, org_id, project_id)


def list_projects(store: Store, org_id: str, *, after: str | None = None, limit: int | None = 20,
                  include_archived: bool = False) -> dict[str, Any]:
    sql = "SELECT * FROM projects WHERE org_id = ?"
    if not include_archived:
        sql += " AND archived_at IS NULL"
    items = [_project(row) for row in store.query(sql + " ORDER BY created_at, rowid", (org_id,))]
    return cursor_page(items, after=after, limit=limit, kind="Project")


def get_project(store: Store, org_id: str, project_id: str) -> dict[str, Any]:
    return _project(_project_row(store, org_id, project_id))


def update_project(store: Store, org_id: str, project_id: str, *, name: str | None = None,
                   external_key_id: str | None = None) -> dict[str, Any]:
    _project_row(store, org_id, project_id)
    with store.transaction() as db:
        if name is not None:
            db.execute("UPDATE projects SET name = ? WHERE id = ?", (name, project_id))
        if external_key_id is not None:
            db.execute("UPDATE projects SET external_key_id = ? WHERE id = ?", (external_key_id, project_id))
    return get_project(store, org_id, project_id)


def archive_project(store: Store, clock: Clock, org_id: str, project_id: str) -> dict[str, Any]:
    """Archive a project: its keys stop working at once (the default project cannot be archived)."""
    row = _project_row(store, org_id, project_id)
    if row["is_default"]:
        raise ApiError("admin_invalid_request", message="The default project cannot be archived.")
    if row["archived_at"] is None:
        with store.transaction() as db:
            db.execute("UPDATE projects SET archived_at = ? WHERE id = ?", (clock.now_s(), project_id))
    return get_project(store, org_id, project_id)


# ---------------------------------------------------------------- project keys

def _owner_user(store: Store, org_id: str, user_id: str | None) -> dict[str, Any]:
    row = None
    if user_id:
        row = store.query_one("SELECT * FROM users WHERE id = ?", (user_id,))
    if row is None:
        row = store.query_one("SELECT u.* FROM users u JOIN organizations o ON o.owner_user_id = u.id"
                              " WHERE o.id = ?", (org_id,))
    if row is None:
        return {"id": user_id or "user-unknown", "email": "", "name": "", "created_at": 0, "role": "owner"}
    return {"id": row["id"], "email": row["email"], "name": row["name"], "created_at": row["created_at"],
            "role": "owner"}


def _service_account(row: Any) -> dict[str, Any]:
    return {"id": row["id"], "object": "organization.project.service_account", "name": row["name"],
            "role": row["role"], "created_at": row["created_at"]}


def _project_key(store: Store, row: Any) -> dict[str, Any]:
    if row["owner_type"] == "service_account":
        sa = store.query_one("SELECT * FROM service_accounts WHERE id = ?", (row["owner_id"],))
        account = {"id": row["owner_id"], "name": sa["name"] if sa else "", "role": sa["role"] if sa else "member",
                   "created_at": sa["created_at"] if sa else row["created_at"]}
        owner: dict[str, Any] = {"type": "service_account", "service_account": account}
    else:
        owner = {"type": "user", "user": _owner_user(store, row["org_id"], row["owner_id"])}
    return {
        "id": row["id"],
        "object": "organization.project.api_key",
        "name": row["name"],
        "redacted_value": row["redacted"],
        "created_at": row["created_at"],
        "last_used_at": row["last_used_at"],
        "expires_at": row["expires_at"],
        "owner_project_access": "active",
        "owner": owner,
    }


def _key_row(store: Store, org_id: str, project_id: str, key_id: str) -> Any:
    _project_row(store, org_id, project_id)
    row = store.query_one(
        "SELECT * FROM api_keys WHERE id = ? AND org_id = ? AND project_id = ? AND kind != 'admin'"
        " AND revoked_at IS NULL", (key_id, org_id, project_id))
    if row is None:
        raise ApiError("admin_object_not_found", kind="API key", id=key_id)
    return row


def create_project_key(store: Store, clock: Clock, org_id: str, project_id: str, *, name: str,
                       permission: str = "all", scopes: Sequence[str] | None = None,
                       owner_user_id: str | None = None, expires_in_seconds: int | None = None) -> dict[str, Any]:
    """A user's project key (the dashboard's "Create new secret key"; the API has no such endpoint).

    Returns the key object plus `value`, the full key, shown this once.
    """
    row = _project_row(store, org_id, project_id)
    if row["archived_at"] is not None:
        raise ApiError("admin_invalid_request", message="Keys cannot be created in an archived project.")
    expires_at = clock.now_s() + expires_in_seconds if expires_in_seconds else None
    key_id, value = create_key(store, clock, org_id=org_id, project_id=project_id, name=name, permission=permission,
                               scopes=list(scopes or []), owner_id=owner_user_id, expires_at=expires_at)
    return {**get_project_key(store, org_id, project_id, key_id), "value": value}


def list_project_keys(store: Store, org_id: str, project_id: str, *, after: str | None = None,
                      limit: int | None = 20, owner_project_access: str | None = None) -> dict[str, Any]:
    _project_row(store, org_id, project_id)
    rows = store.query(
        "SELECT * FROM api_keys WHERE org_id = ? AND project_id = ? AND kind != 'admin' AND revoked_at IS NULL"
        " ORDER BY created_at, rowid", (org_id, project_id))
    if owner_project_access == "inactive":
        rows = []  # every key's owner has access to its project here ("owner_project_access": "active")
    page = cursor_page(rows, after=after, limit=limit, kind="API key")
    page["data"] = [_project_key(store, row) for row in page["data"]]  # only the page's keys: 1-2 queries each
    return page


def get_project_key(store: Store, org_id: str, project_id: str, key_id: str) -> dict[str, Any]:
    return _project_key(store, _key_row(store, org_id, project_id, key_id))


def scopes_to_permission(scopes: Sequence[str]) -> tuple[str, list[str]]:
    """[] = All; ["api.all.read"] = Read only; anything else = Restricted to those scopes."""
    listed = list(scopes)
    if not listed:
        return "all", []
    if listed == READ_ONLY_SCOPES:
        return "read_only", listed
    return "restricted", listed


def update_project_key(store: Store, clock: Clock, org_id: str, project_id: str, key_id: str, *,
                       scopes: Sequence[str] | None = None, expires_in_seconds: int | None = None) -> dict[str, Any]:
    """Replace a key's scopes and/or set its expiry (seconds from now)."""
    row = _key_row(store, org_id, project_id, key_id)
    now = clock.now_s()
    if row["expires_at"] is not None and row["expires_at"] <= now:
        raise ApiError("admin_invalid_request", message="Expired keys cannot be updated.")
    with store.transaction() as db:
        if scopes is not None:
            permission, listed = scopes_to_permission(scopes)
            db.execute("UPDATE api_keys SET permission = ?, scopes = ? WHERE id = ?",
                       (permission, json.dumps(listed), key_id))
        if expires_in_seconds is not None:
            db.execute("UPDATE api_keys SET expires_at = ? WHERE id = ?", (now + expires_in_seconds, key_id))
    return get_project_key(store, org_id, project_id, key_id)


def delete_project_key(store: Store, clock: Clock, org_id: str, project_id: str, key_id: str) -> dict[str, Any]:
    """Revoke a key (it stops working at once; its usage rows stay)."""
    _key_row(store, org_id, project_id, key_id)
    with store.transaction() as db:
        db.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ?", (clock.now_s(), key_id))
    return {"id": key_id, "object": "organization.project.api_key.deleted", "deleted": True}


# ---------------------------------------------------------------- service accounts

def _sa_row(store: Store, org_id: str, project_id: str, service_account_id: str) -> Any:
    _project_row(store, org_id, project_id)
    row = store.query_one("SELECT * FROM service_accounts WHERE id = ? AND project_id = ? AND org_id = ?"
                          " AND deleted_at IS NULL", (service_account_id, project_id, org_id))
    if row is None:
        raise ApiError("admin_object_not_found", kind="Service account", id=service_account_id)
    return row


def create_service_account_key(store: Store, clock: Clock, org_id: str, project_id: str, service_account_id: str,
                               *, name: str | None = None, scopes: Sequence[str] | None = None,
                               expires_in_seconds: int | None = None) -> dict[str, Any]:
    """A new `sk-svcacct-` key for a service account; `value` is the full key, shown this once."""
    _sa_row(store, org_id, project_id, service_account_id)
    permission, listed = scopes_to_permission(scopes or [])
    expires_at = clock.now_s() + expires_in_seconds if expires_in_seconds else None
    key_id, value = create_key(
        store, clock, org_id=org_id, project_id=project_id, name=name or SERVICE_ACCOUNT_KEY_NAME,
        kind="service_account", permission=permission, scopes=listed, owner_type="service_account",
        owner_id=service_account_id, expires_at=expires_at,
    )
    row = store.query_one("SELECT * FROM api_keys WHERE id = ?", (key_id,))
    return {"object": "organization.project.service_account.api_key", "id": key_id, "name": row["name"],
            "created_at": row["created_at"], "expires_at": row["expires_at"], "value": value}


def create_service_account(store: Store, clock: Clock, org_id: str, project_id: str, *, name: str,
                           create_service_account_only: bool = False,
                           expires_in_seconds: int | None = None) -> dict[str, Any]:
    """A service account (role member) with its first key, or none (role none) if `create_service_account_only`."""
    row = _project_row(store, org_id, project_id)
    if row["archived_at"] is not None:
        raise ApiError("admin_invalid_request", message="Service accounts cannot be added to an archived project.")
    if create_service_account_only and expires_in_seconds is not None:
        raise ApiError("admin_invalid_request",
                       message="expires_in_seconds cannot be used when create_service_account_only is true.")
    sa_id = new_id("svc_acct_")
    role = "none" if create_service_account_only else "member"
    with store.transaction() as db:
        db.execute("INSERT INTO service_accounts (id, org_id, project_id, name, role, created_at)"
                   " VALUES (?, ?, ?, ?, ?, ?)", (sa_id, org_id, project_id, name, role, clock.now_s()))
    result = get_service_account(store, org_id, project_id, sa_id)
    result["api_key"] = None
    if not create_service_account_only:
        result["api_key"] = create_service_account_key(store, clock, org_id, project_id, sa_id,
                                                       expires_in_seconds=expires_in_seconds)
    return result


def list_service_accounts(store: Store, org_id: str, project_id: str, *, after: str | None = None,
                          limit: int | None = 20) -> dict[str, Any]:
    _project_row(store, org_id, project_id)
    rows = store.query("SELECT * FROM service_accounts WHERE project_id = ? AND org_id = ? AND deleted_at IS NULL"
                       " ORDER BY created_at, rowid", (project_id, org_id))
    return cursor_page([_service_account(row) for row in rows], after=after, limit=limit, kind="Service account")


def get_service_account(store: Store, org_id: str, project_id: str, service_account_id: str) -> dict[str, Any]:
    return _service_account(_sa_row(store, org_id, project_id, service_account_id))


def update_service_account(store: Store, org_id: str, project_id: str, service_account_id: str, *,
                           name: str | None = None, role: str | None = None) -> dict[str, Any]:
    _sa_row(store, org_id, project_id, service_account_id)
    with store.transaction() as db:
        if name is not None:
            db.execute("UPDATE service_accounts SET name = ? WHERE id = ?", (name, service_account_id))
        if role is not None:
            db.execute("UPDATE service_accounts SET role = ? WHERE id = ?", (role, service_account_id))
    return get_service_account(store, org_id, project_id, service_account_id)


def delete_service_account(store: Store, clock: Clock, org_id: str, project_id: str,
                           service_account_id: str) -> dict[str, Any]:
    """Delete a service account and revoke its keys."""
    _sa_row(store, org_id, project_id, service_account_id)
    now = clock.now_s()
    with store.transaction() as db:
        db.execute("UPDATE service_accounts SET deleted_at = ? WHERE id = ?", (now, service_account_id))
        db.execute("UPDATE api_keys SET revoked_at = ? WHERE owner_type = 'service_account' AND owner_id = ?"
                   " AND revoked_at IS NULL", (now, service_account_id))
    return {"id": service_account_id, "object": "organization.project.service_account.deleted", "deleted": True}


# ---------------------------------------------------------------- admin keys

def _admin_key(store: Store, row: Any) -> dict[str, Any]:
    user = _owner_user(store, row["org_id"], row["owner_id"])
    return {
        "id": row["id"],
        "object": "organization.admin_api_key",
        "name": row["name"],
        "redacted_value": row["redacted"],
        "created_at": row["created_at"],
        "expires_at": row["expires_at"],
        "last_used_at": row["last_used_at"],
        "owner": {"type": "user", "object": "organization.user", "id": user["id"], "name": user["name"],
                  "created_at": user["created_at"], "role": "owner"},
    }


def _admin_row(store: Store, org_id: str, key_id: str) -> Any:
    row = store.query_one("SELECT * FROM api_keys WHERE id = ? AND org_id = ? AND kind = 'admin'"
                          " AND revoked_at IS NULL", (key_id, org_id))
    if row is None:
        raise ApiError("admin_object_not_found", kind="Admin API key", id=key_id)
    return row


def create_admin_key(store: Store, clock: Clock, org_id: str, *, name: str, expires_in_seconds: int | None = None,
                     owner_user_id: str | None = None) -> dict[str, Any]:
    """A new `sk-admin-` key; `value` is the full key, shown this once."""
    owner = owner_user_id or _owner_user(store, org_id, None)["id"]
    expires_at = clock.now_s() + expires_in_seconds if expires_in_seconds else None
    key_id, value = create_key(store, clock, org_id=org_id, project_id=None, name=name, kind="admin",
                               owner_id=owner, expires_at=expires_at)
    return {**get_admin_key(store, org_id, key_id), "value": value}


def list_admin_keys(store: Store, org_id: str, *, after: str | None = None, limit: int | None = 20,
                    order: str = "asc") -> dict[str, Any]:
    rows = store.query("SELECT * FROM api_keys WHERE org_id = ? AND kind = 'admin' AND revoked_at IS NULL"
                       " ORDER BY created_at, rowid", (org_id,))
    page = cursor_page(rows, after=after, limit=limit, order=order, kind="Admin API key")
    page["data"] = [_admin_key(store, row) for row in page["data"]]  # only the page's keys (a query each)
    return page


def get_admin_key(store: Store, org_id: str, key_id: str) -> dict[str, Any]:
    return _admin_key(store, _admin_row(store, org_id, key_id))


def delete_admin_key(store: Store, clock: Clock, org_id: str, key_id: str) -> dict[str, Any]:
    _admin_row(store, org_id, key_id)
    with store.transaction() as db:
        db.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ?", (clock.now_s(), key_id))
    return {"id": key_id, "object": "organization.admin_api_key.deleted", "deleted": True}


# ---------------------------------------------------------------- project rate limits

def rate_limit_id(model: str) -> str:
    return f"rl-{model}"


def _rate_limit(model: str, row: Any | None) -> dict[str, Any]:
    limit: dict[str, Any] = {"object": "project.rate_limit", "id": rate_limit_id(model), "model": model,
                             "max_requests_per_1_minute": DEFAULT_RPM, "max_tokens_per_1_minute": DEFAULT_TPM}
    if row is not None:
        for name in RATE_LIMIT_FIELDS:
            if row[name] is not None:
                limit[name] = row[name]
    return limit


def list_rate_limits(store: Store, clock: Clock, org_id: str, project_id: str, *, after: str | None = None,
                     before: str | None = None, limit: int | None = 100) -> dict[str, Any]:
    """One limit per current model: the defaults, merged with the project's overrides."""
    _project_row(store, org_id, project_id)
    overrides = {row["model"]: row for row in store.query(
        "SELECT * FROM project_rate_limits WHERE project_id = ?", (project_id,))}
    items = [_rate_limit(m.id, overrides.get(m.id)) for m in current_models(clock.today())]
    return cursor_page(items, after=after, before=before, limit=limit, kind="Rate limit")


def update_rate_limit(store: Store, clock: Clock, org_id: str, project_id: str, rate_limit: str,
                      **values: int) -> dict[str, Any]:
    """Change some of a model's limits for the project (enforced from the next request)."""
    _project_row(store, org_id, project_id)
    models = {rate_limit_id(m.id): m.id for m in current_models(clock.today())}
    if rate_limit not in models:
        raise ApiError("admin_object_not_found", kind="Rate limit", id=rate_limit)
    unknown = set(values) - set(RATE_LIMIT_FIELDS)
    if unknown:
        raise ApiError("unknown_parameter", param=sorted(unknown)[0])
    model = models[rate_limit]
    with store.transaction() as db:
        row = db.execute("SELECT * FROM project_rate_limits WHERE project_id = ? AND model = ?",
                         (project_id, model)).fetchone()
        merged = _rate_limit(model, row)
        merged.update({k: v for k, v in values.items() if v is not None})
        db.execute(
            "INSERT INTO project_rate_limits (project_id, model, " + ", ".join(RATE_LIMIT_FIELDS) + ")"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(project_id, model) DO UPDATE SET "
            + ", ".join(f"{name} = excluded.{name}" for name in RATE_LIMIT_FIELDS),
            (project_id, model, *[merged.get(name) for name in RATE_LIMIT_FIELDS]),
        )
        row = db.execute("SELECT * FROM project_rate_limits WHERE project_id = ? AND model = ?",
                         (project_id, model)).fetchone()
    return _rate_limit(model, row)

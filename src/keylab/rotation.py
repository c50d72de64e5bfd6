"""Key rotation through the admin API: make the new key, prove it works, put it in `.env`, then revoke.

The order is the point. At every step `.env` holds a key that works: the old one until the new one
has answered a request and been written (atomically, with a backup, mode 600), the new one after.
The admin API cannot create keys owned by a person, so the replacement belongs to a service account
in the same project (platform_facts.ADMIN_API_CANNOT_CREATE_USER_KEYS). Nothing here prints a full key.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from keylab.environment import ADMIN_KEY_VAR, BASE_URL_VAR, KEY_VAR
from keylab.files import atomic_write
from keylab.keys import mask
from keylab.platform_facts import ADMIN_KEYS_URL, API_KEYS_URL

_KEY_LINE = re.compile(rf"^(?P<lead>\s*(?:export\s+)?{KEY_VAR}\s*=\s*)(?P<value>.*)$")


class RotationError(Exception):
    """Rotation stopped. The message says what state things are in and what to do next."""


@dataclass(frozen=True)
class OldKey:
    project_id: str
    key_id: str
    name: str
    redacted: str
    owner_type: str
    service_account_id: str | None


@dataclass
class Plan:
    """What `rotate` will do, printable with `--dry-run`."""

    env_file: Path
    base_url: str | None
    old: OldKey
    new_name: str
    scopes: list[str] | None = None
    expires_in_seconds: int | None = None

    def lines(self) -> list[str]:
        where = self.base_url or "the OpenAI API (live)"
        owner = (f"service account {self.old.service_account_id}" if self.old.service_account_id
                 else "a new service account (the admin API cannot create keys owned by a person)")
        access = "the permissions you gave with --scope" if self.scopes else "All permissions"
        return [
            f"Rotate {self.old.redacted} (key {self.old.key_id}, project {self.old.project_id}) on {where}:",
            f"  1. create a new key {self.new_name!r} for {owner}, with {access}"
            + (f", expiring in {self.expires_in_seconds // 86400} days" if self.expires_in_seconds else ""),
            "  2. check that the new key works (list models)",
            f"  3. write it into {self.env_file} (backup in {backup_path(self.env_file).name}, mode 600)",
            f"  4. revoke the old key {self.old.redacted}",
        ]


@dataclass
class Result:
    new_key_id: str
    new_masked: str
    backup: Path


def backup_path(env_file: Path) -> Path:
    return env_file.with_name(env_file.name + ".bak")


def read_settings(env_file: Path, environ: Mapping[str, str]) -> tuple[str, str, str | None]:
    """(current key, admin key, base URL) from `.env`, the environment filling gaps."""
    if not env_file.is_file():
        raise RotationError(f"{env_file} does not exist: rotation replaces the key in a .env file. "
                            "Pass --env-file PATH, or create .env first.")
    values = {k: v for k, v in dotenv_values(env_file).items() if v}
    key = values.get(KEY_VAR) or ""
    if not key:
        raise RotationError(f"{env_file} has no {KEY_VAR}: there is no key to rotate.")
    admin = environ.get(ADMIN_KEY_VAR) or values.get(ADMIN_KEY_VAR) or ""
    if not admin:
        raise RotationError(f"no admin key: set {ADMIN_KEY_VAR} in the environment or in {env_file.name}. "
                            f"Create one at {ADMIN_KEYS_URL} (or `keylab sandbox account create` prints a "
                            "sandbox one). Keep it out of the project's code and history.")
    return key, admin, values.get(BASE_URL_VAR) or environ.get(BASE_URL_VAR) or None


def _matches(redacted: str, key: str) -> bool:
    head, _, tail = redacted.partition("...")
    return bool(tail) and key.startswith(head) and key.endswith(tail)


def find_old_key(admin: Any, key: str, *, project_id: str | None = None, key_id: str | None = None) -> OldKey:
    """The admin API's record of `key`, found by its redacted form (`sk-proj-...abcd`)."""
    org = admin.admin.organization
    projects = [project_id] if project_id else [p.id for p in org.projects.list()]
    found = []
    for pid in projects:
        for item in org.projects.api_keys.list(pid, owner_project_access="any"):
            if (key_id and item.id == key_id) or (not key_id and _matches(item.redacted_value, key)):
                owner = item.owner
                sa = owner.service_account.id if owner and owner.type == "service_account" and owner.service_account else None
                found.append(OldKey(pid, item.id, item.name or "", item.redacted_value,
                                    owner.type if owner else "user", sa))
    if not found:
        raise RotationError(f"the key {mask(key)} is not among the project keys this admin key can see. "
                            "Is the admin key from the same organization? Pass --project and --key-id "
                            f"(the ids are on {API_KEYS_URL}).")
    if len(found) > 1:
        ids = ", ".join(f"{k.key_id} in {k.project_id}" for k in found)
        raise RotationError(f"more than one key looks like {mask(key)} ({ids}): pass --key-id to choose.")
    return found[0]


def make_plan(admin: Any, env_file: Path, key: str, base_url: str | None, *, project_id: str | None = None,
              key_id: str | None = None, scopes: Sequence[str] | None = None,
              expires_in_days: int | None = None, today: dt.date | None = None) -> Plan:
    """The plan to replace `key` (and `base_url`), as read_settings read them from `env_file`. The key
    itself stays out of the plan, so the plan can be printed."""
    old = find_old_key(admin, key, project_id=project_id, key_id=key_id)
    day = (today or dt.date.today()).isoformat()
    stem = re.sub(r"\s*\(rotated [0-9-]+\)$", "", old.name) or "rotated key"
    return Plan(env_file, base_url, old, f"{stem} (rotated {day})", list(scopes) if scopes else None,
                expires_in_days * 86400 if expires_in_days else None)


def create_replacement(admin: Any, plan: Plan) -> tuple[str, str]:
    """Step 1: (new key id, full new key). A new service account unless the old key already had one."""
    accounts = admin.admin.organization.projects.service_accounts
    sa_id = plan.old.service_account_id
    if sa_id is None:
        sa_id = accounts.create(plan.old.project_id, name=plan.new_name, create_service_account_only=True).id
    options: dict[str, Any] = {"name": plan.new_name}
    if plan.scopes:
        options["scopes"] = plan.scopes
    if plan.expires_in_seconds:
        options["expires_in_seconds"] = plan.expires_in_seconds
    created = accounts.api_keys.create(sa_id, project_id=plan.old.project_id, **options)
    return created.id, created.value


def check_works(new_key: str, base_url: str | None, client_factory: Callable[..., Any]) -> None:
    """Step 2: one cheap request (list models) with the new key. A restricted key that may not list
    models is refused for a missing permission, not for being unknown: that proves it is live too."""
    import openai

    client = client_factory(api_key=new_key, base_url=base_url, max_retries=2)
    try:
        client.models.list()
    except (openai.AuthenticationError, openai.PermissionDeniedError) as error:
        if "insufficient permissions" not in str(error.message).lower():
            raise
    finally:
        client.close()


def write_key(env_file: Path, new_key: str) -> Path:
    """Step 3: replace the key line in `.env` atomically (temp file + rename), backup kept, mode 600."""
    original = env_file.read_bytes()
    text = original.decode("utf-8")
    newline = "\r\n" if "\r\n" in text else "\n"
    lines, replaced = [], False
    for line in text.splitlines():
        match = _KEY_LINE.match(line)
        if match and not replaced:
            lines.append(match.group("lead") + new_key)
            replaced = True
        elif not match:
            lines.append(line)
    if not replaced:
        lines.append(f"{KEY_VAR}={new_key}")
    backup = backup_path(env_file)
    atomic_write(backup, original, mode=0o600)
    atomic_write(env_file, (newline.join(lines) + newline).encode("utf-8"), mode=0o600)
    return backup


def rotate(admin: Any, plan: Plan, *, client_factory: Callable[..., Any],
           report: Callable[[str], None] = print) -> Result:
    """Run the plan. Raises RotationError saying exactly where it stopped and what is in `.env`."""
    import openai

    org = admin.admin.organization
    try:
        new_id, new_key = create_replacement(admin, plan)
    except openai.APIError as error:
        raise RotationError(f"could not create the new key ({error.message}). Nothing changed: "
                            f"{plan.env_file.name} still holds the old key.") from error
    report(f"1. created {mask(new_key)} ({new_id})")
    try:
        check_works(new_key, plan.base_url, client_factory)
    except openai.APIError as error:
        org.projects.api_keys.delete(new_id, project_id=plan.old.project_id)
        raise RotationError(f"the new key did not work ({type(error).__name__}); it was deleted again. "
                            f"Nothing changed: {plan.env_file.name} still holds the old key.") from error
    report("2. the new key works")
    backup = write_key(plan.env_file, new_key)
    report(f"3. wrote it into {plan.env_file} (old file in {backup.name})")
    try:
        org.projects.api_keys.delete(plan.old.key_id, project_id=plan.old.project_id)
    except openai.APIError as error:
        raise RotationError(
            f"{plan.env_file.name} now holds the new key, which works, but revoking the old key "
            f"{plan.old.redacted} failed ({error.message}). Revoke it on {API_KEYS_URL}, or run "
            f"`keylab rotate --revoke-only {plan.old.key_id} --project {plan.old.project_id}`.") from error
    report(f"4. revoked the old key {plan.old.redacted}")
    return Result(new_id, mask(new_key), backup)

"""`keylab rotate` against a sandbox: the new key works and is in `.env` (atomic, backup, 600) before the
old one is revoked; a failure at any step leaves `.env` with a working key; no full key is printed."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from keylab.cli import main
from keylab.rotation import RotationError, make_plan, read_settings, rotate, write_key
from keylab.sandbox import SandboxServer
from tests.conftest import make_client


def _env(tmp_path: Path, sandbox: SandboxServer, account: dict[str, Any], *, admin_in_file: bool = True) -> Path:
    env_file = tmp_path / ".env"
    lines = ["# my project", f"OPENAI_API_KEY={account['api_key']}", f"OPENAI_BASE_URL={sandbox.base_url}",
             "OTHER=kept"]
    if admin_in_file:
        lines.append(f"OPENAI_ADMIN_KEY={account['admin_key']}")
    env_file.write_text("\n".join(lines) + "\n")
    return env_file


def _key_in(env_file: Path) -> str:
    return next(line.split("=", 1)[1] for line in env_file.read_text().splitlines()
                if line.startswith("OPENAI_API_KEY="))


def _works(sandbox: SandboxServer, key: str) -> bool:
    try:
        make_client(sandbox, key).models.list()
    except openai.AuthenticationError:
        return False
    return True


def _admin(sandbox: SandboxServer, account: dict[str, Any]) -> openai.OpenAI:
    return openai.OpenAI(admin_api_key=account["admin_key"], base_url=sandbox.base_url, max_retries=0)


def _plan(admin: openai.OpenAI, env_file: Path, **options: Any) -> Any:
    key, _admin_key, base_url = read_settings(env_file, {})
    return make_plan(admin, env_file, key, base_url, **options)


def test_rotate_end_to_end(tmp_path: Path, sandbox: SandboxServer, account: dict[str, Any],
                           capsys: pytest.CaptureFixture[str]) -> None:
    env_file = _env(tmp_path, sandbox, account)
    old = account["api_key"]
    assert main(["rotate", "--env-file", str(env_file), "--scope", "model.read", "--scope", "api.model.read",
                 "--expires-in-days", "30"]) == 0
    out = capsys.readouterr().out
    new = _key_in(env_file)
    assert new != old and new.startswith("sk-svcacct-")
    assert _works(sandbox, new) and not _works(sandbox, old)
    assert "OTHER=kept" in env_file.read_text() and env_file.read_text().startswith("# my project\n")
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    backup = tmp_path / ".env.bak"
    assert _key_in(backup) == old and stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert new[12:-4] not in out and old[9:-4] not in out
    assert "service account" in out and "4. revoke" in out and "Done" in out
    # Least privilege: the new key may list models but not call them.
    with pytest.raises(openai.AuthenticationError, match="model.request"):
        make_client(sandbox, new).chat.completions.create(model="gpt-6-luna",
                                                          messages=[{"role": "user", "content": "hi"}])
    # The key the admin API now lists for it expires.
    listed = [k for k in _admin(sandbox, account).admin.organization.projects.api_keys.list(
        account["project_id"]) if k.redacted_value.endswith(new[-4:])]
    assert listed and listed[0].expires_at is not None


def test_dry_run_changes_nothing(tmp_path: Path, sandbox: SandboxServer, account: dict[str, Any],
                                 capsys: pytest.CaptureFixture[str]) -> None:
    env_file = _env(tmp_path, sandbox, account)
    before = env_file.read_bytes()
    assert main(["rotate", "--env-file", str(env_file), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "1. create" in out and "Dry run" in out and account["api_key"][9:-4] not in out
    assert env_file.read_bytes() == before and _works(sandbox, account["api_key"])
    assert not (tmp_path / ".env.bak").exists()


def test_failure_between_create_and_revoke_leaves_a_working_key(
        tmp_path: Path, sandbox: SandboxServer, account: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = _env(tmp_path, sandbox, account)
    admin = _admin(sandbox, account)
    plan = _plan(admin, env_file)
    keys = admin.admin.organization.projects.api_keys

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise openai.APIConnectionError(request=httpx.Request("DELETE", sandbox.base_url))  # the line drops

    monkeypatch.setattr(keys, "delete", refuse)
    with pytest.raises(RotationError, match="holds the new key, which works.*--revoke-only"):
        rotate(admin, plan, client_factory=openai.OpenAI, report=lambda line: None)
    assert _works(sandbox, _key_in(env_file))  # the new one
    assert _works(sandbox, account["api_key"])  # the old one is still alive: the message says so
    monkeypatch.undo()
    assert main(["rotate", "--env-file", str(env_file), "--revoke-only", plan.old.key_id,
                 "--project", plan.old.project_id]) == 0
    assert not _works(sandbox, account["api_key"])


def test_new_key_that_fails_is_deleted_and_env_untouched(tmp_path: Path, sandbox: SandboxServer,
                                                         account: dict[str, Any]) -> None:
    env_file = _env(tmp_path, sandbox, account)
    before = env_file.read_bytes()
    admin = _admin(sandbox, account)
    plan = _plan(admin, env_file)
    created: list[str] = []

    def broken_client(**kwargs: Any) -> openai.OpenAI:
        created.append(kwargs["api_key"])
        return openai.OpenAI(**{**kwargs, "base_url": sandbox.base_url + "/nowhere", "max_retries": 0})

    with pytest.raises(RotationError, match="did not work.*still holds the old key"):
        rotate(admin, plan, client_factory=broken_client, report=lambda line: None)
    assert env_file.read_bytes() == before and _works(sandbox, account["api_key"])
    assert created and not _works(sandbox, created[0])  # the half-made key was deleted


def test_interrupted_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("export OPENAI_API_KEY='old-value'\r\nX=1\r\n")
    calls = []

    def crash(src: str, dst: Path) -> None:
        calls.append(dst)
        if Path(dst) == env_file:
            raise KeyboardInterrupt
        return real_replace(src, dst)

    import os
    real_replace = os.replace
    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        write_key(env_file, "new-value")
    assert env_file.read_bytes() == b"export OPENAI_API_KEY='old-value'\r\nX=1\r\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".env", ".env.bak"]  # no temp file left behind
    monkeypatch.undo()
    write_key(env_file, "new-value")
    assert env_file.read_bytes() == b"export OPENAI_API_KEY=new-value\r\nX=1\r\n"


def test_usage_errors(tmp_path: Path, sandbox: SandboxServer, account: dict[str, Any],
                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rotate", "--env-file", str(tmp_path / "missing.env")]) == 1
    assert "does not exist" in capsys.readouterr().err
    env_file = _env(tmp_path, sandbox, account, admin_in_file=False)
    assert main(["rotate", "--env-file", str(env_file)]) == 1
    err = capsys.readouterr().err
    assert "OPENAI_ADMIN_KEY" in err and "admin-keys" in err
    assert main(["rotate", "--env-file", str(env_file), "--revoke-only", "key_x"]) == 2
    assert main(["rotate", "--expires-in-days", "0"]) == 2


def test_a_key_restricted_to_requests_counts_as_working(tmp_path: Path, sandbox: SandboxServer,
                                                        account: dict[str, Any]) -> None:
    env_file = _env(tmp_path, sandbox, account)
    assert main(["rotate", "--env-file", str(env_file), "--scope", "model.request",
                 "--scope", "api.model.request"]) == 0
    new = _key_in(env_file)
    assert not _works(sandbox, new)  # it may not list models…
    answer = make_client(sandbox, new).chat.completions.create(  # …but it may call them
        model="gpt-6-luna", messages=[{"role": "user", "content": "hi"}])
    assert answer.choices and not _works(sandbox, account["api_key"])


def test_finds_the_env_file_as_doctor_does(tmp_path: Path, sandbox: SandboxServer, account: dict[str, Any],
                                           monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    env_file = _env(tmp_path, sandbox, account)
    monkeypatch.setenv("KEYLAB_ENV_FILE", str(env_file))
    monkeypatch.chdir(tmp_path.parent)
    assert main(["rotate", "--dry-run"]) == 0
    assert str(env_file) in capsys.readouterr().out


def test_a_failed_create_changes_nothing(tmp_path: Path, sandbox: SandboxServer, account: dict[str, Any],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = _env(tmp_path, sandbox, account)
    before = env_file.read_bytes()
    admin = _admin(sandbox, account)
    plan = _plan(admin, env_file)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise openai.APIConnectionError(request=httpx.Request("POST", sandbox.base_url))

    monkeypatch.setattr(admin.admin.organization.projects.service_accounts, "create", refuse)
    monkeypatch.setattr(admin.admin.organization.projects.service_accounts.api_keys, "create", refuse)
    with pytest.raises(RotationError, match="could not create the new key.*Nothing changed.*still holds the old key"):
        rotate(admin, plan, client_factory=openai.OpenAI, report=lambda line: None)
    assert env_file.read_bytes() == before and _works(sandbox, account["api_key"])
    assert not (tmp_path / ".env.bak").exists()


def _fake_admin(keys_by_project: dict[str, list[tuple[str, str]]]) -> Any:
    """An admin client whose projects list keys as (id, redacted value), owned by people."""
    from types import SimpleNamespace

    def list_keys(project_id: str, **_: Any) -> list[Any]:
        return [SimpleNamespace(id=kid, name=f"key {kid}", redacted_value=redacted,
                                owner=SimpleNamespace(type="user", service_account=None))
                for kid, redacted in keys_by_project[project_id]]

    projects = SimpleNamespace(list=lambda: [SimpleNamespace(id=pid) for pid in keys_by_project],
                               api_keys=SimpleNamespace(list=list_keys))
    return SimpleNamespace(admin=SimpleNamespace(organization=SimpleNamespace(projects=projects)))


KEY = "sk-proj-" + "a" * 20 + "T3BlbkFJ" + "b" * 16 + "wxyz"


def test_find_old_key_needs_exactly_one_match() -> None:
    from keylab.rotation import find_old_key

    with pytest.raises(RotationError, match="not among the project keys.*--project and --key-id"):
        find_old_key(_fake_admin({"proj_1": [("key_1", "sk-proj-...zzzz")]}), KEY)
    twice = _fake_admin({"proj_1": [("key_1", "sk-proj-...wxyz")], "proj_2": [("key_2", "sk-proj-...wxyz")]})
    with pytest.raises(RotationError, match="more than one key.*key_1 in proj_1, key_2 in proj_2.*--key-id"):
        find_old_key(twice, KEY)
    old = find_old_key(twice, KEY, key_id="key_2")
    assert (old.key_id, old.project_id, old.owner_type, old.service_account_id) == ("key_2", "proj_2", "user", None)
    assert find_old_key(twice, KEY, project_id="proj_1").key_id == "key_1"


def test_key_id_chooses_the_key_on_the_command_line(tmp_path: Path, sandbox: SandboxServer,
                                                    account: dict[str, Any],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    env_file = _env(tmp_path, sandbox, account)
    old = _plan(_admin(sandbox, account), env_file).old
    assert main(["rotate", "--env-file", str(env_file), "--key-id", old.key_id, "--dry-run"]) == 0
    assert f"(key {old.key_id}, project {old.project_id})" in capsys.readouterr().out
    assert main(["rotate", "--env-file", str(env_file), "--key-id", "key_nobody", "--dry-run"]) == 1
    assert "not among the project keys" in capsys.readouterr().err

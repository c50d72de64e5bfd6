"""The command line a learner and an instructor use: `keylab sandbox`, `account create`, `keylab start`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from openai import OpenAI

from keylab.cli import main
from keylab.keys import KeyKind, classify
from keylab.processes import stop

LISTENING = re.compile(r"^keylab sandbox listening on (http://127\.0\.0\.1:(\d+)/v1)$")


def _keylab(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "keylab", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, **(env or {})},
    )


def _stop(process: subprocess.Popen[str]) -> None:
    stop(process)


@pytest.fixture
def running_sandbox(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    data = tmp_path / "data"
    process = _keylab("sandbox", "--port", "0", "--data", str(data))
    assert process.stdout is not None
    first = process.stdout.readline().strip()
    try:
        match = LISTENING.match(first)
        assert match, f"first line was {first!r}"
        yield match.group(1), data
    finally:
        _stop(process)


def test_sandbox_first_line_is_the_base_url(running_sandbox: tuple[str, Path]) -> None:
    base_url, _ = running_sandbox
    assert base_url.endswith("/v1")


def test_account_create_works_while_the_server_runs(running_sandbox: tuple[str, Path],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    base_url, data = running_sandbox
    assert main(["sandbox", "account", "create", "--data", str(data), "--credits", "5", "--json"]) == 0
    account = json.loads(capsys.readouterr().out)
    assert {"organization_id", "project_id", "api_key", "admin_key"} <= set(account)
    assert classify(account["api_key"]).kind is KeyKind.SANDBOX
    client = OpenAI(api_key=account["api_key"], base_url=base_url, max_retries=0)
    reply = client.chat.completions.create(model="gpt-6-luna", messages=[{"role": "user", "content": "hello"}])
    assert reply.choices[0].message.content.startswith("[sandbox]")


def test_account_create_text_output_shows_keys_once_and_no_hash(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sandbox", "account", "create", "--data", str(tmp_path), "--email", "a@example.com"]) == 0
    out = capsys.readouterr().out
    assert out.count("sk-proj-") == 1 and out.count("sk-admin-") == 1
    assert "shown once" in out
    db = (tmp_path / "sandbox.db").read_bytes()
    key = re.search(r"sk-proj-\S+", out).group(0)
    assert key.encode() not in db, "the full key must never be stored"


@pytest.mark.parametrize("amount", ["-1", "five", "NaN"])
def test_account_create_refuses_bad_credit(tmp_path: Path, amount: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sandbox", "account", "create", "--data", str(tmp_path), "--credits", amount]) == 2
    assert "--credits must be an amount in US dollars" in capsys.readouterr().err


def test_duplicate_email_is_refused_with_a_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["sandbox", "account", "create", "--data", str(tmp_path), "--email", "same@example.com"]
    assert main(args) == 0
    assert main(args) == 1
    assert "already exists" in capsys.readouterr().err


def test_busy_port_gets_a_clear_message(running_sandbox: tuple[str, Path], tmp_path: Path) -> None:
    port = running_sandbox[0].rsplit(":", 1)[1].split("/")[0]
    process = _keylab("sandbox", "--port", port, "--data", str(tmp_path / "other"))
    out, _ = process.communicate(timeout=20)
    assert process.returncode == 1
    assert "could not listen" in out and "--port" in out


def _start_until_running(env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    process = _keylab("start", "--no-lab", "--port", "0", env=env)
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if "Sandbox running" in line:
            break
    return process, "".join(lines)


def test_start_again_after_deleting_env_and_with_a_stale_port(tmp_path: Path) -> None:
    """A learner deletes .env, or runs on another port: start keeps working and says what to fix."""
    course = tmp_path / "course"
    (course / "notebooks").mkdir(parents=True)
    (course / "pyproject.toml").write_text("")
    env = {"KEYLAB_COURSE_ROOT": str(course), "KEYLAB_HOME": str(tmp_path / "home")}
    process, _ = _start_until_running(env)
    _stop(process)
    (course / ".env").unlink()
    process, text = _start_until_running(env)  # a second account in the same sandbox data
    _stop(process)
    assert "Wrote" in text and (course / ".env").exists()
    process, text = _start_until_running(env)  # --port 0: a new port, .env names the old one
    _stop(process)
    assert "but the sandbox now runs at" in text and "OPENAI_BASE_URL=" in text


def test_start_writes_a_working_env_and_stops_its_sandbox(tmp_path: Path) -> None:
    """`keylab start` on a fresh course: a private .env with a funded sandbox key, nothing left running."""
    course = tmp_path / "course"
    (course / "notebooks").mkdir(parents=True)
    (course / "pyproject.toml").write_text("")
    (course / ".env.example").write_text("# example\nOPENAI_API_KEY=sk-your-key-here\nOPENAI_BASE_URL=x\n")
    env = {"KEYLAB_COURSE_ROOT": str(course), "KEYLAB_HOME": str(tmp_path / "home")}
    process, text = _start_until_running(env)
    try:
        env_file = course / ".env"
        assert env_file.exists(), text
        assert env_file.stat().st_mode & 0o077 == 0, ".env must be readable by its owner only"
        values = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line
                      and not line.startswith("#"))
        assert classify(values["OPENAI_API_KEY"]).kind is KeyKind.SANDBOX
        assert values["OPENAI_API_KEY"] not in text, "the key is shown masked only"
        client = OpenAI(api_key=values["OPENAI_API_KEY"], base_url=values["OPENAI_BASE_URL"], max_retries=0)
        assert client.models.list().data
    finally:
        _stop(process)
    with pytest.raises(Exception):  # noqa: B017 - any connection error means the sandbox stopped
        OpenAI(api_key=values["OPENAI_API_KEY"], base_url=values["OPENAI_BASE_URL"], max_retries=0,
               timeout=2).models.list()

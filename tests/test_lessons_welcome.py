"""Lesson 00's environment check: one line per requirement, and a fix for every FAIL."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from keylab.keys import generate_sandbox_key
from keylab.lessons import check_environment, require_sandbox
from keylab.lessons.sandbox import dashboard_url
from keylab.lessons.welcome import check_encodings, check_package, check_python


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env_file(tmp_path: Path, text: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / ".env"
    path.write_text(text)
    path.chmod(0o600)
    monkeypatch.setenv("KEYLAB_ENV_FILE", str(path))
    return path


@pytest.fixture(scope="module")
def sandbox():
    from keylab.testing import course_environment

    with course_environment() as env:
        yield env


def test_missing_key_is_a_fail_with_the_fix(tmp_path, monkeypatch):
    _env_file(tmp_path, "OPENAI_BASE_URL=http://127.0.0.1:8765/v1\n", monkeypatch)
    report = check_environment()
    line = report.find("OPENAI_API_KEY")
    assert line.level == "FAIL"
    assert "not set" in line.detail
    assert "OPENAI_API_KEY=" in line.fix
    assert report.find("API").level == "SKIP"
    assert not report.ok
    assert "[FAIL] OPENAI_API_KEY: not set" in str(report)
    assert "Fix: " in str(report)


def test_misspelled_key_name_is_named(tmp_path, monkeypatch):
    _env_file(tmp_path, f"OPENAI_KEY={generate_sandbox_key()}\n", monkeypatch)
    line = check_environment(reach_api=False).find("OPENAI_API_KEY")  # conftest restores os.environ
    assert line.level == "FAIL"
    assert "OPENAI_KEY" in line.detail
    assert "exactly `OPENAI_API_KEY`" in line.fix


def test_placeholder_key_is_a_fail_with_the_fix(tmp_path, monkeypatch):
    _env_file(tmp_path, "OPENAI_API_KEY=sk-your-key-here\nOPENAI_BASE_URL=http://127.0.0.1:8765/v1\n", monkeypatch)
    report = check_environment()
    line = report.find("OPENAI_API_KEY")
    assert line.level == "FAIL"
    assert "placeholder" in line.detail
    assert "Replace the placeholder" in line.fix
    assert report.find("API").level == "SKIP"


def test_quoted_key_is_a_fail(tmp_path, monkeypatch):
    key = generate_sandbox_key()
    monkeypatch.setenv("OPENAI_API_KEY", f"'{key}'")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8765/v1")
    _env_file(tmp_path, "", monkeypatch)
    report = check_environment(reach_api=False)
    line = report.find("OPENAI_API_KEY")
    assert line.level == "FAIL" and "quote" in line.detail
    assert key not in str(report)


def test_unreachable_sandbox_says_keylab_start(tmp_path, monkeypatch):
    key = generate_sandbox_key()
    _env_file(tmp_path, f"OPENAI_API_KEY={key}\nOPENAI_BASE_URL=http://127.0.0.1:{_free_port()}/v1\n",
              monkeypatch)
    report = check_environment(timeout=2)
    line = report.find("API")
    assert line.level == "FAIL"
    assert "does not answer" in line.detail
    assert "`python3 course.py start`" in line.fix
    assert report.find("OPENAI_API_KEY").level == "OK"
    assert report.find("mode").level == "OK"
    assert key not in str(report)


def test_missing_env_file_is_a_fail(tmp_path, monkeypatch):
    monkeypatch.setenv("KEYLAB_ENV_FILE", str(tmp_path / "nowhere.env"))
    line = check_environment(reach_api=False).find(".env")
    assert line.level == "FAIL"
    assert "cp .env.example .env" in line.fix


def test_unreadable_env_file_is_a_fail(tmp_path, monkeypatch):
    """A UTF-16 `.env` (PowerShell's `echo ... > .env`) is named, not a traceback."""
    path = _env_file(tmp_path, "", monkeypatch)
    path.write_bytes(f"OPENAI_API_KEY={generate_sandbox_key()}\n".encode("utf-16"))
    line = check_environment(reach_api=False).find(".env")
    assert line.level == "FAIL" and "could not load" in line.detail
    assert "not UTF-8" in line.fix and "course.py doctor" in line.fix


def test_shell_value_winning_over_env_is_a_warning_with_the_doctors_fix(tmp_path, monkeypatch):
    from keylab.doctor.codes import problem

    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8765/v1")
    _env_file(tmp_path, f"OPENAI_API_KEY={generate_sandbox_key()}\nOPENAI_BASE_URL=http://127.0.0.1:9/v1\n",
              monkeypatch)
    report = check_environment(reach_api=False)
    line = report.find(".env")
    assert line.level == "WARN" and "OPENAI_BASE_URL won over it" in line.detail
    assert line.fix == problem("KD004").fix
    assert report.ok and "Ready, with warning(s)" in report.summary()


def test_old_python_and_missing_package_and_encodings():
    assert check_python((3, 9, 18)).level == "FAIL"
    assert "3.10 or newer" in check_python((3, 9, 18)).fix
    assert check_python((3, 12, 1)).level == "OK"

    def broken(_: str) -> None:
        raise ImportError("nope")

    line = check_package("openai", "openai", "the SDK", importer=broken)
    assert line.level == "FAIL" and "pip install -r requirements.txt" in line.fix
    warn = check_encodings(available=lambda name: False)
    assert warn.level == "WARN" and "approximate" in warn.detail and warn.fix
    assert check_encodings(available=lambda name: True).level == "OK"


def test_all_ok_in_a_healthy_setup(sandbox, monkeypatch):
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(Path(__file__).resolve().parent))  # no tiktoken downloads here
    report = check_environment(sandbox.env_file)
    levels = {line.what: line.level for line in report}
    assert levels.pop("tiktoken encodings") == "OK"  # bpe-openai's verified copies, out of the box
    assert set(levels.values()) == {"OK"}, str(report)
    assert report.ok
    assert report.find("API").detail.startswith("reachable")
    assert report.find("mode").detail.startswith("sandbox")
    assert sandbox.account["api_key"] not in str(report)


def test_key_the_sandbox_does_not_know_is_a_fail(sandbox, tmp_path, monkeypatch):
    key = generate_sandbox_key()
    _env_file(tmp_path, f"OPENAI_API_KEY={key}\nOPENAI_BASE_URL={sandbox.base_url}\n", monkeypatch)
    line = check_environment().find("API")
    assert line.level == "FAIL" and "rejected (401" in line.detail
    assert "sandbox does not know this key" in line.fix


def test_require_sandbox(capsys):
    assert require_sandbox("x", environ={"OPENAI_BASE_URL": "http://127.0.0.1:1/v1"}) is True
    assert capsys.readouterr().out == ""
    assert require_sandbox("it stages an account", environ={"OPENAI_API_KEY": "sk-x"}) is False
    out = capsys.readouterr().out
    assert "needs the sandbox (it stages an account)" in out and "live mode" in out and "read along" in out


def test_dashboard_url():
    assert dashboard_url({"OPENAI_BASE_URL": "http://127.0.0.1:8765/v1"}) == "http://127.0.0.1:8765/"
    assert "python3 course.py start" in dashboard_url({})

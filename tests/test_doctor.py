"""keylab doctor: one temporary project per problem, the healthy case, the CLI and the docs page.

Each problem test starts from a healthy project (sandbox key, sandbox URL, `.env` mode 600, no
git) and changes exactly one thing, then asserts that exactly that problem's code is reported.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

from keylab import environment
from keylab.cli import doctor as doctor_cli
from keylab.cli.calculator import free_port
from keylab.doctor import PROBLEMS, diagnose, doctor, filecheck, run
from keylab.doctor.docs import DOC_PATH, render_markdown
from keylab.keys import generate_sandbox_key, mask, real_shaped_key
from tests.conftest import other_server

SANDBOX_URL = "http://127.0.0.1:8000/v1"
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


@pytest.fixture(autouse=True)
def clean_environ(clean_environ: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """tests/conftest.py's clean slate (no OPENAI_*/KEYLAB_*), plus no global git config, no outer repo."""
    for name in list(os.environ):
        if name.startswith("GIT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    monkeypatch.chdir(tmp_path)


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "course"
    folder.mkdir()
    return folder


def write_env(folder: Path, text: str, mode: int = 0o600) -> Path:
    path = folder / ".env"
    path.write_bytes(text.encode("utf-8"))
    path.chmod(mode)
    return path


def healthy_text(key: str | None = None, url: str | None = SANDBOX_URL) -> str:
    key = generate_sandbox_key() if key is None else key
    return f"OPENAI_API_KEY={key}\n" + (f"OPENAI_BASE_URL={url}\n" if url is not None else "")


def codes(project: Path, environ: Mapping[str, str] | None = None, **kw: object) -> list[str]:
    kw.setdefault("offline", True)
    return [f.code for f in diagnose(project, environ={} if environ is None else environ, **kw)]


def git(folder: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True, timeout=30)


# ------------------------------------------------------------------ the healthy cases


def test_healthy_sandbox_project_is_all_clear(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_env(project, healthy_text())
    assert codes(project) == []
    found = doctor(project, environ={}, offline=True)
    assert found == []
    out = capsys.readouterr().out
    assert "All clear" in out and "Mode: sandbox" in out


def test_healthy_live_project_is_all_clear(project: Path) -> None:
    write_env(project, healthy_text(real_shaped_key(), url=None))
    assert codes(project) == []


def test_export_syntax_is_fine(project: Path) -> None:
    write_env(project, "export " + healthy_text().replace("\nOPENAI_BASE", "\nexport OPENAI_BASE"))
    assert codes(project) == []


def test_windows_line_endings_in_env_are_fine_for_load_env(project: Path) -> None:
    write_env(project, healthy_text().replace("\n", "\r\n"))
    assert codes(project) == []


def test_key_only_in_the_environment_is_fine(project: Path) -> None:
    write_env(project, f"OPENAI_BASE_URL={SANDBOX_URL}\n")
    assert codes(project, {"OPENAI_API_KEY": generate_sandbox_key()}) == []


@needs_git
def test_healthy_git_project_is_all_clear(project: Path) -> None:
    git(project, "init", "-q")
    (project / ".gitignore").write_text(".env\n")
    write_env(project, healthy_text())
    report = run(project, environ={}, offline=True)
    assert report.findings == () and report.ok
    assert not any("git" in note for note in report.notes)


# ------------------------------------------------------------------ one test per problem


def test_kd001_env_not_found_says_where_it_looked(project: Path) -> None:
    missing = project / "nope.env"
    findings = diagnose(project, offline=True, env_file=missing, environ={"OPENAI_API_KEY": generate_sandbox_key(),
                                                           "OPENAI_BASE_URL": SANDBOX_URL})
    assert [f.code for f in findings] == ["KD001"]
    assert str(missing) in findings[0].detail


def test_kd001_search_lists_the_folders(project: Path) -> None:
    if any((p / ".env").exists() for p in project.parents):
        pytest.skip("a .env exists above the temporary folder")
    findings = diagnose(project, offline=True, environ={"OPENAI_API_KEY": generate_sandbox_key(),
                                          "OPENAI_BASE_URL": SANDBOX_URL})
    assert [f.code for f in findings] == ["KD001"]
    assert str(project.resolve() / ".env") in findings[0].detail
    assert findings[0].data["looked_in"][0] == str(project.resolve() / ".env")


def test_keylab_env_file_variable_is_used(project: Path) -> None:
    other = project / "other.env"
    other.write_text(healthy_text())
    other.chmod(0o600)
    assert codes(project, {"KEYLAB_ENV_FILE": str(other)}) == []


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("set OPENAI_ORG_ID=org-123", "python-dotenv cannot read it"),
        ("export FOO bar", "python-dotenv cannot read it"),
        ("OPENAI_PROJECT_ID: proj_1", "python-dotenv cannot read it"),
        ("$env:OPENAI_ORG_ID=\"org-123\"", "not a valid variable name"),
        ("__KEY__", "no NAME= in front"),
    ],
    ids=["cmd-set", "export-no-equals", "yaml-colon", "powershell", "bare-key"],
)
def test_kd002_bad_line_is_reported_by_number(project: Path, line: str, reason: str) -> None:
    bare_key = generate_sandbox_key()
    line = line.replace("__KEY__", bare_key)
    write_env(project, healthy_text() + "\n\n" + line + "\nOPENAI_LOG=info\n")
    findings = diagnose(project, offline=True, environ={})
    assert [f.code for f in findings] == ["KD002"]
    assert findings[0].data["lines"] == [5]
    assert "line 5" in findings[0].detail and reason in findings[0].detail
    assert bare_key not in findings[0].detail and "org-123" not in findings[0].detail


def test_kd002_utf16_file(project: Path) -> None:
    (project / ".env").write_bytes(healthy_text().encode("utf-16"))
    (project / ".env").chmod(0o600)
    assert codes(project, {"OPENAI_API_KEY": generate_sandbox_key(), "OPENAI_BASE_URL": SANDBOX_URL}) \
        == ["KD002"]


@pytest.fixture()
def openai_module():
    openai = pytest.importorskip("openai")
    gc.collect()  # clients from earlier tests linger in reference cycles until collected
    yield openai
    gc.collect()


def test_kd003_client_made_with_another_key(
    project: Path, monkeypatch: pytest.MonkeyPatch, openai_module
) -> None:
    key = generate_sandbox_key()
    write_env(project, healthy_text(key))
    monkeypatch.setenv("OPENAI_API_KEY", key)
    monkeypatch.setenv("OPENAI_BASE_URL", SANDBOX_URL)
    old = generate_sandbox_key()
    with openai_module.OpenAI(api_key=old, base_url=SANDBOX_URL):
        findings = diagnose(project, offline=True)  # environ=None: this session, clients included
    # Only this test's client counts: clients other tests keep alive are not this test's business.
    ours = [f for f in findings if mask(old) in f.detail]
    assert [f.code for f in ours] == ["KD003"]
    assert {f.code for f in findings} == {"KD003"}
    assert old not in ours[0].detail
    assert not [f for f in diagnose(project, offline=True) if mask(old) in f.detail]  # the client is gone


def test_kd003_client_made_before_load_env(
    project: Path, monkeypatch: pytest.MonkeyPatch, openai_module
) -> None:
    """DataTalksClub/llm-zoomcamp#178: load_dotenv() after OpenAI()."""
    env_file = write_env(project, f"OPENAI_API_KEY={generate_sandbox_key()}\n")
    monkeypatch.setenv("KEYLAB_ENV_FILE", str(env_file))
    environment.load_env()
    with openai_module.OpenAI() as client:  # made with the old .env, default (live) base URL
        write_env(project, healthy_text())
        environment.load_env()
        findings = diagnose(project, offline=True)
        assert client.api_key != os.environ["OPENAI_API_KEY"]
    del client
    assert [f.code for f in findings] == ["KD003"]
    assert "created before load_env()" in findings[0].detail
    assert "https://api.openai.com/v1" in findings[0].detail


def test_kd004_shell_value_overrides_env(project: Path) -> None:
    in_file, in_shell = generate_sandbox_key(), generate_sandbox_key()
    write_env(project, healthy_text(in_file))
    findings = diagnose(project, offline=True, environ={"OPENAI_API_KEY": in_shell, "OPENAI_BASE_URL": SANDBOX_URL})
    assert [f.code for f in findings] == ["KD004"]
    assert mask(in_file) in findings[0].detail and mask(in_shell) in findings[0].detail
    assert in_file not in findings[0].detail and in_shell not in findings[0].detail
    assert findings[0].data["variable"] == "OPENAI_API_KEY"


def test_kd005_key_missing(project: Path) -> None:
    write_env(project, f"OPENAI_BASE_URL={SANDBOX_URL}\n")
    assert codes(project) == ["KD005"]


def test_kd005_key_empty(project: Path) -> None:
    write_env(project, f"OPENAI_API_KEY=\nOPENAI_BASE_URL={SANDBOX_URL}\n")
    findings = diagnose(project, offline=True, environ={})
    assert [f.code for f in findings] == ["KD005"]
    assert "empty" in findings[0].detail


@pytest.mark.parametrize("name", ["OPENAI_KEY", "OPENAI_API_TOKEN", "OPEN_AI_API_KEY", "openai_api_key",
                                  "AZURE_OPENAI_API_KEY"])
def test_kd006_key_under_another_name(project: Path, name: str) -> None:
    write_env(project, f"{name}={generate_sandbox_key()}\nOPENAI_BASE_URL={SANDBOX_URL}\n")
    findings = diagnose(project, offline=True, environ={})
    assert [f.code for f in findings] == ["KD006"]
    assert name in findings[0].detail


@pytest.mark.parametrize("value", ["sk-...", "your-api-key-here", '"sk-..."'])
def test_kd007_placeholder(project: Path, value: str) -> None:
    write_env(project, healthy_text(value))
    assert codes(project) == ["KD007"]


def test_kd008_quotes_kept_by_windows_set(project: Path) -> None:
    """cmd's `set OPENAI_API_KEY="sk-..."` keeps the quotes in the value."""
    write_env(project, f"OPENAI_BASE_URL={SANDBOX_URL}\n")
    assert codes(project, {"OPENAI_API_KEY": f'"{generate_sandbox_key()}"'}) == ["KD008"]


def test_kd008_curly_quotes_in_env(project: Path) -> None:
    write_env(project, healthy_text(f"\u201c{generate_sandbox_key()}\u201d"))
    assert codes(project) == ["KD008"]


def test_plain_quotes_in_env_are_fine(project: Path) -> None:
    write_env(project, healthy_text(f'"{generate_sandbox_key()}"'))
    assert codes(project) == []


@pytest.mark.parametrize("where", ["around", "inside"])
def test_kd009_spaces(project: Path, where: str) -> None:
    key = generate_sandbox_key()
    value = f'"  {key}"' if where == "around" else f'"{key[:40]} {key[40:]}"'
    write_env(project, healthy_text(value))
    findings = diagnose(project, offline=True, environ={})
    assert [f.code for f in findings] == ["KD009"]
    assert where in findings[0].detail


@pytest.mark.parametrize(
    ("source", "ending"),
    [("environment", "\r"), ("environment", "\n"), ("file", "\\r"), ("file", "\\n")],
    ids=["shell-cr", "shell-lf", "env-escaped-cr", "env-escaped-lf"],
)
def test_kd010_line_break_in_the_value(project: Path, source: str, ending: str) -> None:
    key = generate_sandbox_key()
    if source == "environment":
        write_env(project, f"OPENAI_BASE_URL={SANDBOX_URL}\n")
        environ = {"OPENAI_API_KEY": key + ending}
    else:
        write_env(project, healthy_text(f'"{key}{ending}"'))
        environ = {}
    findings = diagnose(project, offline=True, environ=environ)
    assert [f.code for f in findings] == ["KD010"]
    assert ("Windows" in findings[0].detail) == (ending in ("\r", "\\r"))


def test_kd011_bearer_prefix(project: Path) -> None:
    write_env(project, healthy_text(f"Bearer {generate_sandbox_key()}"))
    assert codes(project) == ["KD011"]


@pytest.mark.parametrize(
    ("key", "url"),
    [
        (generate_sandbox_key()[:100], SANDBOX_URL),
        (generate_sandbox_key()[:60], SANDBOX_URL),
        (real_shaped_key()[:120], None),
        (real_shaped_key()[:70], None),
    ],
    ids=["sandbox-second-half", "sandbox-before-marker", "real-second-half", "real-before-marker"],
)
def test_kd012_truncated_key(project: Path, key: str, url: str | None) -> None:
    write_env(project, healthy_text(key, url=url))
    findings = diagnose(project, offline=True, environ={})
    assert [f.code for f in findings] == ["KD012"]
    assert key not in findings[0].detail


def test_kd013_not_an_openai_key(project: Path) -> None:
    write_env(project, healthy_text("0123456789abcdef0123456789abcdef"))
    assert codes(project) == ["KD013"]


@pytest.mark.parametrize("url", [None, "https://api.openai.com/v1"], ids=["unset", "api.openai.com"])
def test_kd014_sandbox_key_with_live_url(project: Path, url: str | None) -> None:
    write_env(project, healthy_text(url=url))
    assert codes(project) == ["KD014"]


def test_kd015_real_key_with_sandbox_url(project: Path) -> None:
    key = real_shaped_key()
    write_env(project, healthy_text(key))
    findings = diagnose(project, offline=True, environ={})
    assert [f.code for f in findings] == ["KD015"]
    assert key not in findings[0].detail


@pytest.mark.parametrize("url", ["127.0.0.1:8000/v1", "localhost:8000/v1", "http:///v1"])
def test_kd016_base_url_not_an_address(project: Path, url: str) -> None:
    write_env(project, healthy_text(url=url))
    assert codes(project) == ["KD016"]


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8000", "http://127.0.0.1:8000/", "http://localhost:8000/v1/chat"]
)
def test_kd017_base_url_without_v1(project: Path, url: str) -> None:
    write_env(project, healthy_text(url=url))
    assert codes(project) == ["KD017"]


def test_base_url_with_trailing_slash_is_fine(project: Path) -> None:
    write_env(project, healthy_text(url=SANDBOX_URL + "/"))
    assert codes(project) == []


@needs_git
def test_kd018_env_tracked_by_git(project: Path) -> None:
    git(project, "init", "-q")
    (project / ".gitignore").write_text(".env\n")
    write_env(project, healthy_text())
    git(project, "add", "-f", ".env")
    findings = diagnose(project, offline=True, environ={})
    assert [f.code for f in findings] == ["KD018"]
    assert findings[0].severity == "error"


@needs_git
def test_kd019_env_not_ignored(project: Path) -> None:
    git(project, "init", "-q")
    write_env(project, healthy_text())
    assert codes(project) == ["KD019"]


@pytest.mark.skipif(os.name == "nt", reason="POSIX permission bits")
def test_kd020_env_readable_by_others(project: Path) -> None:
    write_env(project, healthy_text(), mode=0o644)
    findings = diagnose(project, offline=True, environ={})
    assert [f.code for f in findings] == ["KD020"]
    assert findings[0].severity == "warning" and findings[0].data["mode"] == "644"


# ------------------------------------------------------------------ notes for skipped checks


def test_windows_skips_the_permission_check_with_a_note(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(filecheck, "IS_WINDOWS", True)
    write_env(project, healthy_text(), mode=0o644)
    report = run(project, environ={}, offline=True)
    assert report.findings == ()
    assert any("Windows" in note for note in report.notes)


def test_git_not_installed_is_a_note(project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    write_env(project, healthy_text())
    report = run(project, environ={}, offline=True)
    assert report.findings == ()
    assert any("git is not installed" in note for note in report.notes)


@needs_git
def test_not_a_repository_is_a_note(project: Path) -> None:
    write_env(project, healthy_text())
    report = run(project, environ={}, offline=True)
    assert report.findings == ()
    assert any("not inside a git repository" in note for note in report.notes)


def test_git_timeout_is_a_note(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def slow(*args: object, **kwargs: object) -> None:
        raise subprocess.TimeoutExpired(cmd="git", timeout=1)

    monkeypatch.setattr(filecheck.subprocess, "run", slow)
    write_env(project, healthy_text())
    report = run(project, environ={}, offline=True)
    assert report.findings == () and any("did not answer" in note for note in report.notes)


# ------------------------------------------------------------------ the CLI


def cli(*argv: str, offline: bool = True) -> int:
    parser = argparse.ArgumentParser(prog="keylab")
    doctor_cli.register(parser.add_subparsers())
    args = parser.parse_args(["doctor", *(["--offline"] if offline else []), *argv])
    return int(args.handler(args))


def test_cli_healthy_exits_0(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_env(project, healthy_text())
    assert cli("--project", str(project)) == 0
    assert "All clear" in capsys.readouterr().out


def test_cli_error_exits_1(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_env(project, f"OPENAI_BASE_URL={SANDBOX_URL}\n")
    assert cli("--project", str(project)) == 1
    out = capsys.readouterr().out
    assert "ERROR KD005 key-missing" in out and "What to do:" in out


def test_cli_warning_only_exits_0(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_env(project, healthy_text(), mode=0o644)
    assert cli("--project", str(project)) == 0
    assert "WARNING KD020" in capsys.readouterr().out


def test_report_counts_only_what_it_found(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The summary says "Found 1 error:", never "... and 0 warnings"; notes are listed under Notes."""
    write_env(project, f"OPENAI_BASE_URL={SANDBOX_URL}\n")
    assert "Found 1 error:" in run(project, environ={}, offline=True).to_text()
    monkeypatch.setattr(filecheck, "IS_WINDOWS", False)
    write_env(project, healthy_text(), mode=0o644)
    text = run(project, environ={}, offline=True).to_text()
    assert "Found 1 warning:" in text and "0 error" not in text
    assert "\nNotes:\n  - " in text


def test_cli_json(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env_file = project / "custom.env"
    env_file.write_text(healthy_text(url="http://127.0.0.1:8000"))
    env_file.chmod(0o600)
    assert cli("--env-file", str(env_file), "--format", "json") == 1
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False and data["env_file"] == str(env_file)
    assert [f["code"] for f in data["findings"]] == ["KD017"]
    assert {"code", "name", "severity", "title", "detail", "fix"} <= set(data["findings"][0])


def test_cli_json_healthy(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_env(project, healthy_text())
    monkeypatch.chdir(project)
    assert cli("--format", "json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data == {**data, "ok": True, "findings": [], "mode": "sandbox"}


def test_cli_is_registered_in_keylab_main(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cli_main = pytest.importorskip("keylab.cli")
    try:
        parser = cli_main.build_parser()
    except ImportError:
        pytest.skip("another subcommand module has not landed yet")
    write_env(project, healthy_text())
    args = parser.parse_args(["doctor", "--offline", "--project", str(project)])
    assert args.handler(args) == 0


# ------------------------------------------------------------------ the network check (loopback only)


def test_healthy_project_answers_and_accepts_the_key(project: Path, sandbox, account) -> None:
    write_env(project, healthy_text(account["api_key"], url=sandbox.base_url))
    report = run(project, environ={})
    assert report.findings == () and report.ok
    assert "answers" in report.api and "key accepted" in report.api
    assert f"API:  the sandbox at {sandbox.base_url} answers" in report.to_text()


def test_kd021_sandbox_not_running(project: Path) -> None:
    write_env(project, healthy_text(url=f"http://127.0.0.1:{free_port()}/v1"))
    findings = diagnose(project, environ={})
    assert [f.code for f in findings] == ["KD021"]
    assert "the sandbox is not running" in findings[0].detail
    assert "python3 course.py start" in findings[0].fix


def test_offline_skips_the_network_check(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_env(project, healthy_text(url=f"http://127.0.0.1:{free_port()}/v1"))
    assert codes(project, offline=True) == []
    assert run(project, environ={}, offline=True).api == "not checked (offline)"
    assert cli("--project", str(project), offline=False) == 1
    assert "ERROR KD021 api-unreachable" in capsys.readouterr().out
    assert cli("--project", str(project), offline=True) == 0


def test_offline_never_asks_a_base_url_elsewhere_whether_it_is_a_sandbox(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--offline sends no request at all: not even the sandbox probe of a non-loopback base URL."""
    from keylab import sandbox_probe

    asked: list[str] = []
    monkeypatch.setattr(sandbox_probe, "answers_as_sandbox", lambda root, timeout=0: asked.append(root) or True)
    write_env(project, healthy_text(url="http://192.0.2.10:8765/v1"))
    report = run(project, environ={}, offline=True)
    assert asked == []
    assert report.status.mode == "not configured"  # not asked, so not known to be a sandbox
    assert environment.status({"OPENAI_BASE_URL": "http://192.0.2.10:8765/v1"}).mode == "sandbox"  # asks
    assert asked == ["http://192.0.2.10:8765"]


def test_kd022_https_to_the_sandbox(project: Path, sandbox, account) -> None:
    """The sandbox speaks plain http: an https:// address to it fails the secure handshake."""
    write_env(project, healthy_text(account["api_key"], url=sandbox.base_url.replace("http://", "https://")))
    findings = diagnose(project, environ={})
    assert [f.code for f in findings] == ["KD022"]
    assert "plain http" in findings[0].detail and "write `http://`" in findings[0].fix


def test_kd023_key_unknown_to_the_sandbox(project: Path, sandbox) -> None:
    """A well-shaped sandbox key that this sandbox never made (its data reset, another sandbox's key)."""
    key = generate_sandbox_key()
    write_env(project, healthy_text(key, url=sandbox.base_url))
    report = run(project, environ={})
    assert [f.code for f in report.findings] == ["KD023"] and not report.ok
    assert "401 invalid_api_key" in report.findings[0].detail and "does not know this key" in report.findings[0].detail
    assert key not in report.to_text() and key not in report.to_json()


def test_kd023_a_class_sandbox_on_the_rooms_network_is_named_the_sandbox(
        project: Path, sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """A class sandbox at 192.168.x.y answers as a sandbox: the doctor says so, as it would on loopback."""
    from keylab import environment
    from keylab.doctor import reach

    for module in (environment, reach):
        monkeypatch.setattr(module, "is_loopback_url", lambda url: False)  # as if it were on the LAN
    write_env(project, healthy_text(generate_sandbox_key(), url=sandbox.base_url))
    report = run(project, environ={})
    assert [f.code for f in report.findings] == ["KD023"]
    assert "the sandbox does not know this key" in report.findings[0].detail  # not "the API does not accept"


def test_kd024_address_of_another_program(project: Path) -> None:
    with other_server(404, "text/html", b"<html>404: Not Found</html>") as (url, _):
        write_env(project, healthy_text(url=url))
        findings = diagnose(project, environ={})
    assert [f.code for f in findings] == ["KD024"]
    assert "404" in findings[0].detail and "text/html" in findings[0].detail


def test_kd025_api_error(project: Path) -> None:
    body = json.dumps({"error": {"message": "Country, region, or territory not supported",
                                 "type": "request_forbidden", "code": "unsupported_country_region_territory"}})
    with other_server(403, "application/json", body.encode()) as (url, _):
        write_env(project, healthy_text(url=url))
        report = run(project, environ={})
    assert [f.code for f in report.findings] == ["KD025"] and report.ok  # a warning
    assert "403 unsupported_country_region_territory" in report.findings[0].detail


def test_a_key_with_problems_is_not_sent(project: Path) -> None:
    """The network check still says whether the API answers, but never sends a key that has problems."""
    body = json.dumps({"error": {"message": "You didn't provide an API key.", "type": "invalid_request_error",
                                 "code": None}})
    with other_server(401, "application/json", body.encode()) as (url, seen):
        write_env(project, f'OPENAI_API_KEY="{generate_sandbox_key()} "\nOPENAI_BASE_URL={url}\n')
        report = run(project, environ={})
    assert [f.code for f in report.findings] == ["KD009"]
    assert seen == [""] and "key not sent" in report.api


def test_a_restricted_key_without_models_read_is_accepted(project: Path) -> None:
    """401 "Missing scopes": the server knows the key, it only may not list models. Not KD023."""
    body = json.dumps({"error": {"message": "You have insufficient permissions for this operation. Missing scopes: "
                                 "api.model.read.", "type": "invalid_request_error", "code": None}})
    with other_server(401, "application/json", body.encode()) as (url, seen):
        write_env(project, healthy_text(url=url))
        report = run(project, environ={})
    assert report.findings == () and "key accepted" in report.api and "restricted" in report.api
    assert seen[0].startswith("Bearer sk-")


def test_address_problems_skip_the_network_check(project: Path) -> None:
    write_env(project, healthy_text(url=f"http://127.0.0.1:{free_port()}"))
    report = run(project, environ={})
    assert [f.code for f in report.findings] == ["KD017"]
    assert report.api.startswith("not checked")


# ------------------------------------------------------------------ no full key, ever


@pytest.mark.parametrize("make_key", [generate_sandbox_key, real_shaped_key], ids=["sandbox", "real"])
def test_no_output_contains_the_full_key(
    project: Path, make_key, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    key = make_key()
    variants = [
        f"OPENAI_API_KEY={key}\n",
        f'OPENAI_API_KEY="  {key}\\r"\n',
        f"OPENAI_API_KEY=Bearer {key}\n",
        f"OPENAI_KEY={key}\n",
        f"{key}\n",
        f"OPENAI_API_KEY={key[:100]}\n",
    ]
    outputs: list[str] = []
    for text in variants:
        write_env(project, text + "OPENAI_BASE_URL=http://127.0.0.1:8000\n", mode=0o644)
        for environ in ({}, {"OPENAI_API_KEY": key + "\r"}, {"OPENAI_API_KEY": f'"{key}"'}):
            report = run(project, environ=environ, offline=True)
            outputs += [report.to_text(), report.to_json(), repr(report), repr(report.findings)]
        for fmt in ("text", "json"):
            cli("--project", str(project), "--format", fmt)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-proj-" + "C" * 20)
        doctor(project, offline=True)
        monkeypatch.delenv("OPENAI_API_KEY")
    outputs.append(capsys.readouterr().out)
    joined = "\n".join(outputs)
    assert "KD" in joined
    body = key[len("sk-proj-"):]
    for secret in (key, key[:100], body[:40], body[-40:]):
        assert secret not in joined


# ------------------------------------------------------------------ the codes table and its page


def test_codes_are_unique_and_numbered() -> None:
    assert [p.code for p in PROBLEMS] == [f"KD{i:03d}" for i in range(1, len(PROBLEMS) + 1)]
    assert len({p.name for p in PROBLEMS}) == len(PROBLEMS)
    assert all(p.severity in ("error", "warning") for p in PROBLEMS)


def test_every_code_has_a_test() -> None:
    names = set(globals())
    for p in PROBLEMS:
        assert any(n.startswith(f"test_{p.code.lower()}_") for n in names), p.code


def test_docs_page_is_current() -> None:
    """docs/doctor.md is generated from the table: run `python -m keylab.doctor.docs` after editing it."""
    assert DOC_PATH == Path(__file__).resolve().parents[1] / "docs" / "doctor.md"
    assert DOC_PATH.read_text(encoding="utf-8") == render_markdown()
    for p in PROBLEMS:
        assert f"| {p.code} | `{p.name}` | {p.severity} |" in render_markdown()


def test_docs_check_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from keylab.doctor.docs import main

    target = tmp_path / "doctor.md"
    assert main(["--check", "--path", str(target)]) == 1
    assert main(["--path", str(target)]) == 0
    assert main(["--check", "--path", str(target)]) == 0


def test_from_keylab_import_doctor_works_after_the_package_was_imported(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`import keylab.doctor` rebinds keylab.doctor to the package; calling it must still work."""
    import keylab
    import keylab.doctor

    write_env(project, healthy_text())
    assert keylab.doctor(project, environ={}, offline=True) == []
    assert callable(keylab.doctor) and "All clear" in capsys.readouterr().out

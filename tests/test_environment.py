"""keylab.environment: which .env gets loaded, what the shell keeps, and the mode/status lines."""

from __future__ import annotations

import gc
import os
from pathlib import Path

import pytest

from keylab import environment
from keylab.environment import load_env, locate_env_file, mode, status
from keylab.keys import generate_sandbox_key, mask, real_shaped_key

SANDBOX_URL = "http://127.0.0.1:8000/v1"


@pytest.fixture(autouse=True)
def clean_environ(clean_environ: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """tests/conftest.py's clean slate (no OPENAI_*/KEYLAB_*); never search the developer's folders."""
    monkeypatch.delenv("PYTHON_DOTENV_DISABLED", raising=False)
    monkeypatch.chdir(tmp_path)


def write_env(path: Path, **values: str) -> Path:
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()), encoding="utf-8")
    return path


def test_explicit_file_is_loaded_and_reported(tmp_path: Path) -> None:
    key = generate_sandbox_key()
    env_file = write_env(tmp_path / "my.env", OPENAI_API_KEY=key, OPENAI_BASE_URL=SANDBOX_URL)
    result = load_env(env_file)
    assert result.found and result.path == env_file
    assert result.location.how == "argument"
    assert set(result.set) == {"OPENAI_API_KEY", "OPENAI_BASE_URL"}
    assert os.environ["OPENAI_API_KEY"] == key
    text = str(result)
    assert f"Loaded {env_file}" in text
    assert key not in text and key not in repr(result)


def test_keylab_env_file_variable_wins_over_search(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_env(tmp_path / ".env", OPENAI_API_KEY=generate_sandbox_key())
    chosen = write_env(tmp_path / "test.env", OPENAI_BASE_URL=SANDBOX_URL)
    monkeypatch.setenv("KEYLAB_ENV_FILE", str(chosen))
    result = load_env()
    assert result.path == chosen and result.location.how == "KEYLAB_ENV_FILE"
    assert "OPENAI_API_KEY" not in os.environ


def test_search_starts_in_the_current_folder_and_walks_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """find_dotenv(usecwd=True): a notebook in notebooks/ finds the course's .env (dotenv #265)."""
    env_file = write_env(tmp_path / ".env", OPENAI_BASE_URL=SANDBOX_URL)
    sub = tmp_path / "notebooks"
    sub.mkdir()
    monkeypatch.chdir(sub)
    result = load_env()
    assert result.path is not None and result.path.resolve() == env_file.resolve()
    assert result.location.how == "search"
    assert [p.parent for p in result.location.searched] == [sub.resolve(), tmp_path.resolve()]


def test_not_found_says_where_it_looked(tmp_path: Path) -> None:
    if any((p / ".env").exists() for p in tmp_path.parents):
        pytest.skip("a .env exists above the temporary folder")
    result = load_env()
    assert not result.found
    assert result.location.searched[0] == tmp_path.resolve() / ".env"
    assert "No .env file found" in str(result) and str(tmp_path.resolve()) in str(result)


def test_missing_explicit_file_is_not_found_and_does_not_search(tmp_path: Path) -> None:
    write_env(tmp_path / ".env", OPENAI_BASE_URL=SANDBOX_URL)
    result = load_env(tmp_path / "nope.env")
    assert not result.found
    assert result.location.searched == (tmp_path / "nope.env",)
    assert "OPENAI_BASE_URL" not in os.environ


def test_shell_value_wins_and_is_reported_masked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The top pain point: an old exported key silently beats the new one in .env."""
    old, new = generate_sandbox_key(), generate_sandbox_key()
    monkeypatch.setenv("OPENAI_API_KEY", old)
    env_file = write_env(tmp_path / ".env", OPENAI_API_KEY=new)
    result = load_env(env_file)
    assert os.environ["OPENAI_API_KEY"] == old
    assert [k.name for k in result.kept] == ["OPENAI_API_KEY"]
    assert result.kept[0].shell_value == mask(old) and result.kept[0].file_value == mask(new)
    text = str(result)
    assert "NOT set: OPENAI_API_KEY" in text and "the shell wins" in text
    assert old not in text and new not in text and old not in repr(result)


def test_override_replaces_the_shell_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = generate_sandbox_key(), generate_sandbox_key()
    monkeypatch.setenv("OPENAI_API_KEY", old)
    result = load_env(write_env(tmp_path / ".env", OPENAI_API_KEY=new), override=True)
    assert os.environ["OPENAI_API_KEY"] == new
    assert result.set == ("OPENAI_API_KEY",) and not result.kept


def test_reloading_after_editing_env_refreshes_our_own_values(tmp_path: Path) -> None:
    """Editing .env and re-running the load cell must work; only outside values win."""
    first, second = generate_sandbox_key(), generate_sandbox_key()
    env_file = write_env(tmp_path / ".env", OPENAI_API_KEY=first)
    load_env(env_file)
    write_env(env_file, OPENAI_API_KEY=second)
    result = load_env(env_file)
    assert os.environ["OPENAI_API_KEY"] == second
    assert result.set == ("OPENAI_API_KEY",) and not result.kept
    assert load_env(env_file).unchanged == ("OPENAI_API_KEY",)


def test_urls_are_shown_in_clear_without_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://user:secret@127.0.0.1:9/v1")
    result = load_env(write_env(tmp_path / ".env", OPENAI_BASE_URL=SANDBOX_URL))
    assert result.kept[0].shell_value == "http://127.0.0.1:9/v1"
    assert result.kept[0].file_value == SANDBOX_URL
    assert "secret" not in str(result)


def test_load_warns_about_clients_made_before_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    openai = pytest.importorskip("openai")
    old, new = generate_sandbox_key(), generate_sandbox_key()
    env_file = write_env(tmp_path / ".env", OPENAI_API_KEY=old, OPENAI_BASE_URL=SANDBOX_URL)
    load_env(env_file)
    with openai.OpenAI() as client:
        write_env(env_file, OPENAI_API_KEY=new, OPENAI_BASE_URL=SANDBOX_URL)
        result = load_env(env_file)
        assert client in environment.clients_made_before_load
    del client
    gc.collect()
    assert any("1 OpenAI client(s) were created before this load" in note for note in result.notes)
    assert new not in str(result) and old not in str(result)


@pytest.mark.parametrize(
    ("base_url", "key", "expected"),
    [
        (SANDBOX_URL, None, "sandbox"),
        ("http://localhost:8000/v1", "k", "sandbox"),
        ("http://[::1]:8000/v1", "k", "sandbox"),
        ("http://127.0.0.2:8000/v1", "k", "sandbox"),
        (None, "k", "live"),
        ("", "k", "live"),
        ("https://api.openai.com/v1", "k", "live"),
        (None, None, "not configured"),
        ("https://proxy.example.com/v1", "k", "not configured"),
        ("127.0.0.1:8000/v1", "k", "not configured"),
    ],
    ids=["loopback", "localhost", "ipv6", "127/8", "unset", "empty", "api.openai.com", "nothing",
         "other-host", "no-scheme"],
)
def test_mode(base_url: str | None, key: str | None, expected: str) -> None:
    environ = {}
    if base_url is not None:
        environ["OPENAI_BASE_URL"] = base_url
    if key is not None:
        environ["OPENAI_API_KEY"] = key
    assert mode(environ) == expected


def test_mode_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", SANDBOX_URL)
    assert mode() == "sandbox"


def test_status_lines_for_the_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    key = generate_sandbox_key()
    monkeypatch.setenv("OPENAI_API_KEY", key)
    monkeypatch.setenv("OPENAI_BASE_URL", SANDBOX_URL)
    assert str(status()).splitlines() == [
        f"Mode: sandbox ({SANDBOX_URL})",
        f"Key:  {mask(key)} (a sandbox key)",
    ]


def test_status_lines_for_live_and_missing_key() -> None:
    key = real_shaped_key()
    live = status({"OPENAI_API_KEY": key})
    assert str(live).splitlines() == [
        "Mode: live (https://api.openai.com/v1, the default)",
        f"Key:  {mask(key)} (a real OpenAI key)",
    ]
    assert str(status({})).splitlines()[1] == "Key:  (not set: OPENAI_API_KEY is missing)"
    assert str(status({})).startswith("Mode: not configured")


def test_status_names_a_key_problem_without_showing_the_key() -> None:
    key = generate_sandbox_key()[:100]
    text = str(status({"OPENAI_API_KEY": key, "OPENAI_BASE_URL": SANDBOX_URL}))
    assert "cut off" in text and key not in text


def test_pretty_printing_in_ipython(tmp_path: Path) -> None:
    pretty = pytest.importorskip("IPython.lib.pretty")
    key = generate_sandbox_key()
    env_file = write_env(tmp_path / ".env", OPENAI_API_KEY=key, OPENAI_BASE_URL=SANDBOX_URL)
    loaded = pretty.pretty(load_env(env_file))
    shown = pretty.pretty(status())
    assert loaded.startswith("Loaded ") and shown.startswith("Mode: sandbox")
    assert key not in loaded + shown


def test_locate_with_explicit_start_and_environ(tmp_path: Path) -> None:
    env_file = write_env(tmp_path / ".env", OPENAI_BASE_URL=SANDBOX_URL)
    (tmp_path / "a" / "b").mkdir(parents=True)
    found = locate_env_file(start=tmp_path / "a" / "b", environ={})
    assert found.path == env_file.resolve() and len(found.searched) == 3
    assert locate_env_file(environ={"KEYLAB_ENV_FILE": str(env_file)}).how == "KEYLAB_ENV_FILE"


def test_unreadable_file_is_a_note_not_a_traceback(tmp_path: Path) -> None:
    """PowerShell's `echo ... > .env` writes UTF-16, which python-dotenv cannot decode."""
    env_file = tmp_path / ".env"
    env_file.write_bytes(f"OPENAI_API_KEY={generate_sandbox_key()}\n".encode("utf-16"))
    result = load_env(env_file)
    assert result.found and result.set == ()
    assert "not UTF-8" in str(result) and "course.py doctor" in str(result)
    assert "OPENAI_API_KEY" not in os.environ


def test_keylab_start_leaves_an_unreadable_env_to_the_doctor(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`keylab start` with an existing UTF-16 `.env` starts anyway (lesson 00 and the doctor name it)."""
    from keylab.cli.start import _check_existing_env

    env_file = tmp_path / ".env"
    env_file.write_bytes(f"OPENAI_API_KEY={generate_sandbox_key()}\n".encode("utf-16"))
    _check_existing_env(env_file, "http://127.0.0.1:8765/v1", tmp_path / "sandbox")
    assert capsys.readouterr().out == ""

"""When quotes break a key, exactly (lessons 01-02 say so): plain quotes around a `.env` value are
removed by python-dotenv; curly quotes pasted from a document are not, and neither are quotes that
cmd's `set NAME="..."` puts into the environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from dotenv import dotenv_values

from keylab.keys import KeyKind, classify, generate_sandbox_key


@pytest.mark.parametrize("line", ['KEY="{key}"', "KEY='{key}'", "KEY={key}", 'KEY = "{key}"'])
def test_plain_quotes_in_a_env_file_are_harmless(tmp_path: Path, line: str) -> None:
    key = generate_sandbox_key()
    (tmp_path / ".env").write_text(line.format(key=key) + "\n", encoding="utf-8")
    assert dotenv_values(tmp_path / ".env")["KEY"] == key


@pytest.mark.parametrize("quoted", ["\u201c{key}\u201d", "\u2018{key}\u2019"])
def test_curly_quotes_stay_in_the_value_and_are_named(tmp_path: Path, quoted: str) -> None:
    key = generate_sandbox_key()
    (tmp_path / ".env").write_text("KEY=" + quoted.format(key=key) + "\n", encoding="utf-8")
    value = dotenv_values(tmp_path / ".env")["KEY"]
    assert value != key
    verdict = classify(value)
    assert (verdict.kind, verdict.problem) == (KeyKind.MALFORMED, "it is wrapped in quotes")


def test_quotes_that_reach_the_environment_break_the_key() -> None:
    """What `set OPENAI_API_KEY="sk-..."` in cmd leaves in the environment."""
    verdict = classify(f'"{generate_sandbox_key()}"')
    assert verdict.problem == "it is wrapped in quotes"

"""Lab 07's checkers judge right and wrong answers apart, and never show a key in their feedback."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from keylab.labs.checking import check
from keylab.scan import find_keys, scan_paths


@pytest.fixture(autouse=True)
def keylab_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KEYLAB_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def verdict(exercise_id: str, capsys: pytest.CaptureFixture[str], **names: Any) -> tuple[bool | None, str]:
    result = check(exercise_id, names)
    out = capsys.readouterr().out
    assert not find_keys(out)
    return result.passed, out


def clean_right(nb: dict) -> dict:
    for cell in nb["cells"]:
        if "outputs" in cell:
            cell["outputs"] = [o for o in cell["outputs"] if not find_keys(json.dumps(o))]
    return nb


def clean_everything(nb: dict) -> dict:
    for cell in nb["cells"]:
        cell["outputs"] = []
    return nb


def clean_streams_only(nb: dict) -> dict:
    for cell in nb["cells"]:
        cell["outputs"] = [o for o in cell.get("outputs", []) if o["output_type"] != "stream"]
    return nb


def test_07_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert verdict("07.1", capsys, clean_outputs=clean_right)[0] is True
    passed, out = verdict("07.1", capsys, clean_outputs=clean_everything)
    assert passed is False and "lost outputs that hold no key" in out
    passed, out = verdict("07.1", capsys, clean_outputs=clean_streams_only)
    assert passed is False and "a key is still in the notebook" in out  # the traceback still leaks


def move_right(source: str, env_file: Path) -> str:
    (hit,) = find_keys(source)
    key = source[hit.start:hit.end]
    env_file.write_text(env_file.read_text() + f"OPENAI_API_KEY={key}\n")
    os.chmod(env_file, 0o600)
    return source.replace(f'api_key="{key}"', "")


def move_overwrites(source: str, env_file: Path) -> str:
    (hit,) = find_keys(source)
    env_file.write_text(f"OPENAI_API_KEY={source[hit.start:hit.end]}\n")
    return source.replace(source[hit.start:hit.end], "")


def test_07_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert verdict("07.2", capsys, move_key_to_env=move_right)[0] is True
    passed, out = verdict("07.2", capsys, move_key_to_env=move_overwrites)
    assert passed is False and "lost its other lines" in out and "api_key argument" in out


def test_07_3_static_judgement(capsys: pytest.CaptureFixture[str]) -> None:
    passed, out = verdict("07.3", capsys, JOB_SCOPES=[])
    assert passed is False and "All permissions" in out
    passed, out = verdict("07.3", capsys, JOB_SCOPES=["model.read", "model.request", "api.files.write"])
    assert passed is False and "does not need api.files.write" in out
    passed, out = verdict("07.3", capsys, JOB_SCOPES=["api.model.read"])
    assert passed is False and "cannot call a model" in out
    # Outside the sandbox (these tests have no .env), a right answer passes on the scope table alone.
    assert verdict("07.3", capsys, JOB_SCOPES=["api.model.read", "api.model.request"])[0] is True


def test_07_4(capsys: pytest.CaptureFixture[str]) -> None:
    right = lambda folder: [(f.path, f.line) for f in scan_paths([folder], folder) if f.kind == "real"]  # noqa: E731
    every_key = lambda folder: [(f.path, f.line) for f in scan_paths([folder], folder)]  # noqa: E731
    assert verdict("07.4", capsys, find_real_keys=right)[0] is True
    passed, out = verdict("07.4", capsys, find_real_keys=every_key)
    assert passed is False and "hold no real key" in out

"""Lab progress: recorded by every check, shown by `keylab progress`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from keylab.cli import main
from keylab.labs import progress
from keylab.labs.checking import check
from keylab.labs.progress import load_progress, record_check
from keylab.paths import progress_file


@pytest.fixture(autouse=True)
def keylab_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "keylab-home"
    monkeypatch.setenv("KEYLAB_HOME", str(home))
    return home


def add(a: int, b: int) -> int:
    return a + b


def wrong_add(a: int, b: int) -> int:
    return a - b


def test_each_check_records_status_attempts_and_time(capsys: pytest.CaptureFixture[str]) -> None:
    check("00.1", {"add": wrong_add})
    check("00.1", {"add": add})
    entry = load_progress()["00.1"]
    assert entry["status"] == "passed"
    assert entry["attempts"] == 2
    assert entry["timestamp"].endswith("Z")


def test_not_attempted_is_recorded_but_never_hides_a_real_attempt() -> None:
    """Reopening a lab and running only its check cells must not erase what the learner did."""
    record_check("00.1", "not-attempted", now=lambda: "t1")
    assert load_progress()["00.1"] == {"status": "not-attempted", "best": "not-attempted", "attempts": 0,
                                       "timestamp": "t1"}
    record_check("00.1", "failed", now=lambda: "t2")
    record_check("00.1", "not-attempted", now=lambda: "t3")
    assert load_progress()["00.1"] == {"status": "failed", "best": "failed", "attempts": 1, "timestamp": "t2"}


def test_a_passed_exercise_stays_passed_and_the_latest_try_is_kept_too() -> None:
    record_check("00.1", "passed", now=lambda: "t1")
    record_check("00.1", "failed", now=lambda: "t2")
    assert load_progress()["00.1"] == {"status": "failed", "best": "passed", "attempts": 2, "timestamp": "t2"}
    (lab,) = [lab for lab in progress.progress_report() if lab.lab == "00"]
    item = lab.exercises[0]
    assert (item.best, item.status, item.symbol, item.latest_differs) == ("passed", "failed", "✓", True)
    assert lab.passed == 1
    record_check("00.1", "passed", now=lambda: "t3")
    assert load_progress()["00.1"]["status"] == "passed"


def test_progress_command_shows_best_and_latest(capsys: pytest.CaptureFixture[str]) -> None:
    check("00.1", {"add": add})
    check("00.1", {"add": wrong_add})
    capsys.readouterr()
    assert main(["progress"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "  ✓ 00.1  passed  (2 attempts; latest try: not right)" in out
    assert main(["progress", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    (lab,) = [lab for lab in data["labs"] if lab["lab"] == "00"]
    first = lab["exercises"][0]
    assert (first["best"], first["status"], lab["passed"]) == ("passed", "failed", 1)


def test_a_progress_file_from_before_best_was_kept_still_loads(keylab_home: Path) -> None:
    progress_file().write_text(json.dumps({"version": 1, "exercises": {
        "00.1": {"status": "passed", "attempts": 1, "timestamp": "t1"}}}))
    assert load_progress()["00.1"]["best"] == "passed"
    record_check("00.1", "failed", now=lambda: "t2")
    assert load_progress()["00.1"] == {"status": "failed", "best": "passed", "attempts": 2, "timestamp": "t2"}


def test_progress_command_shows_a_table_per_lab(capsys: pytest.CaptureFixture[str]) -> None:
    check("00.1", {"add": add})
    check("00.3", {"mask_key": lambda key: key})
    check("00.3", {"mask_key": lambda key: key})
    capsys.readouterr()
    assert main(["progress"]) == 0
    out = capsys.readouterr().out.splitlines()
    start = out.index("Lab 00: Example exercises  1/3 passed")
    assert out[start : start + 4] == [
        "Lab 00: Example exercises  1/3 passed",
        "  ✓ 00.1  passed  (1 attempt)",
        "  · 00.2  not yet",
        "  ✗ 00.3  tried  (2 attempts)",
    ]
    assert out[-1].startswith("Total: 1 of ")


def test_progress_command_json(capsys: pytest.CaptureFixture[str]) -> None:
    check("00.2", {"KEY_NAME": "OPENAI_API_KEY"})
    capsys.readouterr()
    assert main(["progress", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    (lab,) = [lab for lab in data["labs"] if lab["lab"] == "00"]
    assert (lab["passed"], lab["total"]) == (1, 3)
    assert [(item["exercise_id"], item["status"]) for item in lab["exercises"]] == [
        ("00.1", "not-attempted"),
        ("00.2", "passed"),
        ("00.3", "not-attempted"),
    ]


def test_progress_reset_forgets_everything(capsys: pytest.CaptureFixture[str]) -> None:
    check("00.1", {"add": add})
    capsys.readouterr()
    assert main(["progress", "--reset"]) == 0
    assert "Progress reset: forgot 1 exercise" in capsys.readouterr().out
    assert not progress_file().exists()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "it is not valid JSON"),
        ('["a", "list"]', "it is not a keylab progress file"),
        ('{"exercises": {"00.1": {"status": "great"}}}', "the entry for 00.1 is malformed"),
    ],
    ids=["invalid-json", "wrong-shape", "bad-entry"],
)
def test_a_corrupt_progress_file_is_moved_aside_and_the_check_still_works(
    content: str, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = progress_file()
    path.write_text(content, encoding="utf-8")
    result = check("00.1", {"add": add})
    captured = capsys.readouterr()
    assert result.passed is True
    assert captured.out.startswith("Exercise 00.1: passed ✓")
    assert f"could not be read ({reason}); moved it to {path}.bak" in captured.err
    assert Path(f"{path}.bak").read_text(encoding="utf-8") == content
    assert load_progress()["00.1"]["status"] == "passed"


def test_writes_are_atomic_and_leave_no_temp_files(keylab_home: Path) -> None:
    record_check("00.1", "passed")
    assert sorted(path.name for path in keylab_home.iterdir()) == ["progress.json"]


def test_a_failed_write_keeps_the_old_file_and_does_not_raise(
    keylab_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    record_check("00.1", "failed", now=lambda: "t1")
    before = progress_file().read_text(encoding="utf-8")

    def full_disk(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", full_disk)
        record_check("00.1", "passed")
    assert "keylab: could not save your progress (No space left on device)." in capsys.readouterr().err
    assert progress_file().read_text(encoding="utf-8") == before
    assert sorted(path.name for path in keylab_home.iterdir()) == ["progress.json"]


def test_no_labs_and_no_checks_gives_a_friendly_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(progress, "progress_report", lambda: [])
    assert main(["progress"]) == 0
    assert "no checks recorded yet" in capsys.readouterr().out

"""Self-check cells: `check("NN.K")`, the `@exercise` registry and `Feedback`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import keylab.labs.exercises
from keylab.labs import registry
from keylab.labs.checking import CheckResult, check
from keylab.labs.exercises import import_lab, module_name
from keylab.labs.feedback import Feedback
from keylab.labs.registry import exercise, get_exercise
from keylab.paths import progress_file


@pytest.fixture(autouse=True)
def keylab_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "keylab-home"
    monkeypatch.setenv("KEYLAB_HOME", str(home))
    return home


@pytest.fixture
def scratch_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Checkers a test registers disappear afterwards (lab 00 is loaded first so it stays known)."""
    import_lab("00")
    monkeypatch.setattr(registry, "_EXERCISES", dict(registry._EXERCISES))


def run(exercise_id: str, capsys: pytest.CaptureFixture[str], **names: Any) -> tuple[CheckResult, list[str]]:
    result = check(exercise_id, names)
    return result, capsys.readouterr().out.splitlines()


def stub(*args: Any) -> Any:
    """What a lab's exercise function looks like before the learner writes it."""
    raise NotImplementedError("Exercise 00.1: use the + operator")


def test_missing_name_is_not_attempted_and_does_not_raise(capsys: pytest.CaptureFixture[str]) -> None:
    """In a lab, a top-level exercise cell stops at its raise, so its names never get defined."""
    result, out = run("00.2", capsys)
    assert out == ["Exercise 00.2: not attempted yet — set `KEY_NAME` in the cell above and run it."]
    assert result.status == "not-attempted"
    assert result.passed is None


def test_a_stub_that_raises_not_implemented_is_not_attempted(capsys: pytest.CaptureFixture[str]) -> None:
    result, out = run("00.1", capsys, add=stub)
    assert result.passed is None
    assert out == [
        "Exercise 00.1: not attempted yet — complete `add` in the exercise cell above and run that cell, "
        "then run this check again."
    ]


def test_right_answer_passes_and_lists_what_was_checked(capsys: pytest.CaptureFixture[str]) -> None:
    result, out = run("00.1", capsys, add=lambda a, b: a + b)
    assert result.passed is True
    assert out == ["Exercise 00.1: passed ✓", "  ✓ add(2, 3) returns 5", "  ✓ add(-1, 1) returns 0"]
    assert str(result) == "\n".join(out)


def test_wrong_answer_says_what_is_right_what_is_wrong_and_hints(capsys: pytest.CaptureFixture[str]) -> None:
    result, out = run("00.1", capsys, add=lambda a, b: abs(a) + b)
    assert result.passed is False
    assert out == [
        "Exercise 00.1: not right yet (1 of 2 checks failed)",
        "  ✓ add(2, 3) returns 5",
        "  ✗ add(-1, 1) returned 2, expected 0",
        "  Hint: return a + b",
    ]
    assert result.hints == ("return a + b",)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            lambda key: key,
            [
                "Exercise 00.3: not right yet (1 of 4 checks failed)",
                "  ✓ returns a string",
                "  ✓ keeps the 'sk-' prefix",
                "  ✓ keeps the last four characters",
                "  ✗ 'sk-demo-1234WXYZ' still shows the middle of the key",
                '  Hint: keep key[:3] and key[-4:] and put "…" between them',
                "  Hint: anything between the first 3 and the last 4 characters must be hidden",
            ],
        ),
        (
            lambda key: None,
            [
                "Exercise 00.3: not right yet (1 of 1 checks failed)",
                "  ✗ mask_key(key) returned None, expected a string",
                '  Hint: keep key[:3] and key[-4:] and put "…" between them',
            ],
        ),
        (
            lambda key: key[99],
            [
                "Exercise 00.3: not right yet (1 of 1 checks failed)",
                "  ✗ <lambda>('sk-demo-1234WXYZ') raised IndexError: string index out of range",
                '  Hint: keep key[:3] and key[-4:] and put "…" between them',
            ],
        ),
        (
            "sk-…WXYZ",
            [
                "Exercise 00.3: not right yet (1 of 1 checks failed)",
                "  ✗ expected a function, got 'sk-…WXYZ'",
            ],
        ),
    ],
    ids=["shows-the-middle", "wrong-type-stops-early", "learner-code-raises", "not-a-function"],
)
def test_learner_mistakes_become_feedback_not_tracebacks(
    answer: Any, expected: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    result, out = run("00.3", capsys, mask_key=answer)
    assert result.status == "failed"
    assert out[: len(expected)] == expected


def test_check_reads_the_callers_globals_like_a_notebook_cell(capsys: pytest.CaptureFixture[str]) -> None:
    """In a kernel, the cell's globals are the learner's namespace; exec gives the same frame setup."""
    namespace: dict[str, Any] = {}
    exec("from keylab.labs import check\nKEY_NAME = 'OPENAI_API_KEY'\nresult = check('00.2')", namespace)
    assert namespace["result"].passed is True
    assert capsys.readouterr().out.startswith("Exercise 00.2: passed ✓\n")


def test_a_crashing_checker_reports_an_unexpected_error(
    scratch_registry: None, capsys: pytest.CaptureFixture[str]
) -> None:
    @exercise("99.1", names=["value"])
    def buggy(fb: Feedback, value: object) -> None:
        fb.ok("started")
        {}["missing"]

    result, out = run("99.1", capsys, value=1)
    assert result.status == "error" and result.passed is False
    assert out == [
        "Exercise 99.1: the checker hit an unexpected error (KeyError: 'missing').",
        "  Your answer may well be fine: this is a problem in the course's checker. "
        "Please report it with this message.",
    ]
    assert not progress_file().exists(), "a checker bug says nothing about the learner"


def test_a_checker_can_declare_not_attempted_with_its_own_todo(
    scratch_registry: None, capsys: pytest.CaptureFixture[str]
) -> None:
    @exercise("99.2", names=["budget"])
    def placeholder(fb: Feedback, budget: object) -> None:
        if budget is ...:
            fb.not_attempted("replace `...` with your monthly budget in dollars.")
        fb.ok("budget set")

    result, out = run("99.2", capsys, budget=...)
    assert result.passed is None
    assert out == ["Exercise 99.2: not attempted yet — replace `...` with your monthly budget in dollars."]


def test_a_checker_that_stops_without_saying_why_is_a_checker_error(
    scratch_registry: None, capsys: pytest.CaptureFixture[str]
) -> None:
    @exercise("99.3")
    def silent(fb: Feedback) -> None:
        fb.require(True, "fine", "unused")
        from keylab.labs.feedback import StopCheck

        raise StopCheck

    result, _ = run("99.3", capsys)
    assert result.status == "error"


@pytest.mark.parametrize(
    ("exercise_id", "message"),
    [
        ("98.1", "Exercise 98.1: has no check in this version of keylab"),
        ("2.1", "Exercise 2.1: is not an exercise id (ids look like 02.1"),
    ],
    ids=["unknown-lab", "malformed-id"],
)
def test_unknown_ids_are_reported_not_raised(
    exercise_id: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    result, out = run(exercise_id, capsys)
    assert result.status == "error"
    assert out[0].startswith(message)


def test_a_lab_module_that_fails_to_import_does_not_crash_the_check(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(lab: str) -> None:
        raise SyntaxError("invalid syntax (lab09.py, line 3)")

    monkeypatch.setattr(keylab.labs.exercises, "import_lab", broken)
    result, out = run("09.1", capsys)
    assert result.status == "error"
    assert out[0] == (
        "Exercise 09.1: the checker hit an unexpected error (SyntaxError: invalid syntax (lab09.py, line 3))."
    )


def test_exercise_modules_are_found_by_the_id_prefix() -> None:
    assert module_name("02") == "keylab.labs.exercises.lab02"
    assert module_name("00") == "keylab.labs.exercises.example"
    assert import_lab("97") is None
    found = get_exercise("00.3")
    assert found is not None and found.names == ("mask_key",) and found.checker.__module__.endswith("example")


def test_registration_rejects_bad_ids_and_duplicates(scratch_registry: None) -> None:
    with pytest.raises(ValueError, match="must look like '02.1'"):
        exercise("2.1")
    with pytest.raises(ValueError, match="exercise 00.1 is registered twice"):

        @exercise("00.1")
        def another(fb: Feedback) -> None: ...


def test_check_records_progress_unless_asked_not_to(capsys: pytest.CaptureFixture[str]) -> None:
    check("00.1", {"add": lambda a, b: a + b}, record=False)
    assert not progress_file().exists()
    check("00.1", {"add": lambda a, b: a + b})
    assert json.loads(progress_file().read_text())["exercises"]["00.1"]["status"] == "passed"


def test_the_result_shows_nothing_extra_as_a_cell_value(capsys: pytest.CaptureFixture[str]) -> None:
    """`check(...)` is usually a cell's last expression; Jupyter must not echo the object after the
    printed text (nbval would compare that echo too)."""
    result = check("00.2", {})
    assert result._ipython_display_() is None


def test_feedback_never_echoes_a_key_shaped_value(capsys: pytest.CaptureFixture[str]) -> None:
    """A learner may paste their real key where a name is expected; check output gets shared."""
    pasted = "sk-proj-" + "a1" * 20 + "WXYZ"
    result, out = run("00.2", capsys, KEY_NAME=pasted)
    assert result.passed is False
    assert out[1] == "  ✗ KEY_NAME is 'sk-…WXYZ'; the SDK reads 'OPENAI_API_KEY'"
    assert pasted not in "\n".join(out)


def test_exported_members() -> None:
    import keylab.labs

    assert keylab.labs.__all__ == sorted(keylab.labs.__all__)
    assert all(getattr(keylab.labs, name) is not None for name in keylab.labs.__all__)

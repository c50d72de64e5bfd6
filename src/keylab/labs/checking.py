"""`check("02.1")`: the self-check cell that follows each exercise.

In a lab the exercise cell stops at `raise NotImplementedError`, so the learner's names may not
exist yet. `check` therefore looks the names up in the calling notebook's globals and never raises:
it prints a short, deterministic, plain-text verdict (nbval compares it in solution notebooks),
records progress, and returns a `CheckResult` for tests.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from keylab.labs.feedback import Feedback, Line, NotAttempted, StopCheck, describe_error
from keylab.labs.registry import EXERCISE_ID, Exercise, get_exercise

Status = Literal["passed", "failed", "not-attempted", "error"]


@dataclass(frozen=True)
class CheckResult:
    """The verdict of one check. `passed` is None when the exercise was not attempted yet."""

    exercise_id: str
    status: Status
    text: str
    lines: tuple[Line, ...] = field(default=())
    hints: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> bool | None:
        return None if self.status == "not-attempted" else self.status == "passed"

    def __str__(self) -> str:
        return self.text

    def _ipython_display_(self) -> None:
        """Show nothing as a cell's value: `check` already printed the text, once."""


def _verdict(exercise_id: str, fb: Feedback, hint: str | None) -> CheckResult:
    bullets = [f"  {'✓' if line.ok else '✗'} {line.text}" for line in fb.lines]
    if not fb.failed:
        text = "\n".join([f"Exercise {exercise_id}: passed ✓", *bullets])
        return CheckResult(exercise_id, "passed", text, tuple(fb.lines))
    hints = ([hint] if hint else []) + [item for item in fb.hints if item != hint]
    wrong = sum(not line.ok for line in fb.lines)
    header = f"Exercise {exercise_id}: not right yet ({wrong} of {len(fb.lines)} checks failed)"
    text = "\n".join([header, *bullets, *(f"  Hint: {item}" for item in hints)])
    return CheckResult(exercise_id, "failed", text, tuple(fb.lines), tuple(hints))


def _not_attempted(exercise_id: str, todo: str) -> CheckResult:
    return CheckResult(exercise_id, "not-attempted", f"Exercise {exercise_id}: not attempted yet — {todo}")


def _error(exercise_id: str, error: BaseException) -> CheckResult:
    text = (
        f"Exercise {exercise_id}: the checker hit an unexpected error "
        f"({type(error).__name__}: {describe_error(error)}).\n"
        "  Your answer may well be fine: this is a problem in the course's checker. "
        "Please report it with this message."
    )
    return CheckResult(exercise_id, "error", text)


def _unknown(exercise_id: str) -> CheckResult:
    if EXERCISE_ID.match(exercise_id) is None:
        reason = "is not an exercise id (ids look like 02.1: lab number, dot, exercise number)"
    else:
        reason = "has no check in this version of keylab (is the id right? try updating keylab)"
    return CheckResult(exercise_id, "error", f"Exercise {exercise_id}: {reason}.")


def run_check(item: Exercise, namespace: Mapping[str, Any]) -> CheckResult:
    """Judge one exercise against the learner's `namespace`, turning every outcome into a result."""
    missing = [name for name in item.names if name not in namespace]
    if missing:
        return _not_attempted(item.exercise_id, item.todo)
    fb = Feedback()
    try:
        item.checker(fb, **{name: namespace[name] for name in item.names})
    except NotAttempted as signal:
        return _not_attempted(item.exercise_id, signal.todo or item.todo)
    except NotImplementedError:  # learner code called directly by the checker, still a stub
        return _not_attempted(item.exercise_id, item.todo)
    except StopCheck:
        if not fb.failed:  # a checker that stops must have said why; treat silence as a checker bug
            return _error(item.exercise_id, RuntimeError("the checker stopped without feedback"))
    except Exception as error:  # a crashing checker must not crash the learner's notebook
        return _error(item.exercise_id, error)
    return _verdict(item.exercise_id, fb, item.hint)


def check(
    exercise_id: str, namespace: Mapping[str, Any] | None = None, *, record: bool = True
) -> CheckResult:
    """Check exercise `exercise_id` against the notebook's names, print the verdict, record progress.

    `namespace` defaults to the caller's globals, which in a notebook is the learner's namespace.
    Never raises for a learner's mistake or a checker bug: both become printed feedback.
    """
    if namespace is None:
        namespace = sys._getframe(1).f_globals
    try:
        item = get_exercise(exercise_id)
        result = _unknown(exercise_id) if item is None else run_check(item, namespace)
    except Exception as error:  # e.g. a lab module that fails to import
        result = _error(exercise_id, error)
    print(result.text)
    if record and result.status != "error":
        from keylab.labs.progress import record_check

        record_check(exercise_id, result.status)
        from keylab.labs.classroom import report_check

        report_check(exercise_id, result.status)
    return result

"""What a checker reports: ✓ and ✗ lines plus hints, collected by a `Feedback`.

Checkers call learner code through `Feedback.call`, which turns the lab's `NotImplementedError` into
"not attempted yet" and any other exception into a ✗ line, so a learner's bug never shows up as a
traceback in the check cell.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any, NamedTuple


class NotAttempted(Exception):
    """The learner has not written this exercise yet (the check says so instead of failing)."""

    def __init__(self, todo: str | None = None) -> None:
        super().__init__(todo or "")
        self.todo = todo


class StopCheck(Exception):
    """Stop the checker early: later checks make no sense after this failure."""


class Line(NamedTuple):
    """One feedback line: `ok` is True for ✓, False for ✗."""

    ok: bool
    text: str


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_KEY_LIKE = re.compile(r"sk-[A-Za-z0-9_-]{16,}([A-Za-z0-9_-]{4})")


def redact(text: str) -> str:
    """Mask anything shaped like an API key: feedback may echo a learner's value, and outputs get
    shared and committed."""
    return _KEY_LIKE.sub(lambda match: f"sk-…{match[1]}", text)


def describe(obj: Any, limit: int = 60) -> str:
    """A short, deterministic repr for feedback text (memory addresses removed, keys masked, long
    values cut)."""
    text = redact(_ADDRESS.sub("", repr(obj)))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe_call(func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """`load_key('X', env_file='.env')`: how a call looks in a feedback line."""
    name = getattr(func, "__name__", "your function")
    parts = [describe(arg, 30) for arg in args] + [
        f"{key}={describe(value, 30)}" for key, value in kwargs.items()
    ]
    return f"{name}({', '.join(parts)})"


class Feedback:
    """Collects a checker's verdicts. Passed = no ✗ line."""

    def __init__(self) -> None:
        self.lines: list[Line] = []
        self.hints: list[str] = []

    def ok(self, text: str) -> None:
        """Record something the learner got right."""
        self.lines.append(Line(True, text))

    def fail(self, text: str) -> None:
        """Record something that is not right yet (say what was expected)."""
        self.lines.append(Line(False, text))

    def expect(self, condition: object, ok: str, fail: str) -> bool:
        """Record `ok` if `condition` is true, else `fail`; return whether it held."""
        (self.ok if condition else self.fail)(ok if condition else fail)
        return bool(condition)

    def require(self, condition: object, ok: str, fail: str) -> None:
        """Like `expect`, but stop the checker when the condition fails."""
        if not self.expect(condition, ok, fail):
            raise StopCheck

    def hint(self, text: str) -> None:
        """Add a hint, shown only when the answer is not right yet."""
        if text not in self.hints:
            self.hints.append(text)

    def not_attempted(self, todo: str | None = None) -> None:
        """Declare the exercise not attempted yet (e.g. a value still holds its placeholder)."""
        raise NotAttempted(todo)

    def call(self, func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Call learner code. NotImplementedError → not attempted; another error → ✗ line and stop."""
        if not callable(func):
            self.fail(f"expected a function, got {describe(func)}")
            raise StopCheck
        try:
            return func(*args, **kwargs)
        except NotImplementedError:
            raise NotAttempted(None) from None
        except Exception as error:  # the learner's bug, reported as feedback
            self.fail(
                f"{describe_call(func, args, kwargs)} raised {type(error).__name__}: {describe_error(error)}"
            )
            raise StopCheck from None

    @property
    def failed(self) -> bool:
        return any(not line.ok for line in self.lines)


def exact_decimal(fb: Feedback, label: str, got: Any, expected: Decimal, *, not_decimal: str) -> None:
    """One line of feedback on a money answer: ok when `got` is the Decimal `expected`.

    not_decimal: what to tell a learner who returned something else (a float, say)."""
    if not isinstance(got, Decimal):
        fb.fail(f"{label}: returned {describe(got)}; {not_decimal}")
    elif got != expected:
        fb.fail(f"{label}: returned {got}, expected {expected}")
    else:
        fb.ok(f"{label} → {got}")


def describe_error(error: BaseException) -> str:
    """The exception message without memory addresses, cut to a line."""
    text = redact(_ADDRESS.sub("", str(error))).strip().splitlines()
    first = text[0] if text else "(no message)"
    return first if len(first) <= 100 else first[:99] + "…"

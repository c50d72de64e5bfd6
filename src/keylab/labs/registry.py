"""The exercises a check cell can refer to, registered with the `@exercise` decorator.

Each lab has one module, `keylab.labs.exercises.labNN`, imported the first time one of its exercises
is checked (so `check("02.1")` imports `lab02` only). Exercise ids are `NN.K`: lab number, then the
exercise's position in the lab.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

EXERCISE_ID = re.compile(r"^(?P<lab>\d{2})\.(?P<number>[1-9]\d*)$")

Checker = Callable[..., None]


@dataclass(frozen=True)
class Exercise:
    """A registered exercise: the learner's names it needs and the function that judges them."""

    exercise_id: str
    names: tuple[str, ...]
    checker: Checker
    todo: str
    hint: str | None = None

    @property
    def lab(self) -> str:
        return self.exercise_id.split(".")[0]


_EXERCISES: dict[str, Exercise] = {}


def _default_todo(names: Sequence[str]) -> str:
    if not names:
        return "complete the exercise cell above and run it, then run this check again."
    listed = ", ".join(f"`{name}`" for name in names)
    return f"complete {listed} in the exercise cell above and run that cell, then run this check again."


def exercise(
    exercise_id: str,
    *,
    names: Sequence[str] = (),
    todo: str | None = None,
    hint: str | None = None,
) -> Callable[[Checker], Checker]:
    """Register a checker for `exercise_id`.

    The checker is called as `checker(fb, **objects)`, where `objects` maps each of `names` to the
    learner's object of that name in the notebook, and `fb` is a `Feedback` to report to. If a name
    is not defined yet (the exercise cell stopped at its `raise NotImplementedError`), the checker is
    not called and the learner is told `todo`. `hint` is shown whenever the answer is not right yet.
    """
    if EXERCISE_ID.match(exercise_id) is None:
        raise ValueError(f"exercise id {exercise_id!r} must look like '02.1' (lab number, dot, position)")

    def register(checker: Checker) -> Checker:
        existing = _EXERCISES.get(exercise_id)
        if existing is not None and existing.checker.__qualname__ != checker.__qualname__:
            raise ValueError(
                f"exercise {exercise_id} is registered twice "
                f"({existing.checker.__qualname__} and {checker.__qualname__})"
            )
        _EXERCISES[exercise_id] = Exercise(
            exercise_id, tuple(names), checker, todo or _default_todo(names), hint
        )
        return checker

    return register


def get_exercise(exercise_id: str) -> Exercise | None:
    """The registered exercise, importing its lab's module on first use; None if there is none."""
    found = _EXERCISES.get(exercise_id)
    if found is not None:
        return found
    match = EXERCISE_ID.match(exercise_id)
    if match is None:
        return None
    from keylab.labs.exercises import import_lab

    import_lab(match["lab"])
    return _EXERCISES.get(exercise_id)


def exercises_of(lab: str) -> list[Exercise]:
    """All exercises registered for lab `NN` (importing its module), in exercise order."""
    from keylab.labs.exercises import import_lab

    import_lab(lab)
    found = [item for item in _EXERCISES.values() if item.lab == lab]
    return sorted(found, key=lambda item: int(item.exercise_id.split(".")[1]))

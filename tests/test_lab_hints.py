"""Hints come only after a wrong try: a lab's placeholders and the first check of an unwritten
exercise never give the answer away (they used to, for 01.2, 03.2 and 03.3)."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import nbformat
import openai
import pytest

from keylab.labs.checking import run_check
from keylab.labs.exercises import course_labs
from keylab.labs.registry import Exercise, exercises_of
from keylab.pricing import COURSE_MODEL, cost_of, format_usd

ROOT = Path(__file__).resolve().parent.parent
EXERCISES: list[Exercise] = [item for lab in course_labs() for item in exercises_of(lab)]
_HINT_LINE = re.compile(r"^\s*### HINT:\s*(.+?)\s*$", re.MULTILINE)


def lab_path(lab: str) -> Path:
    (path,) = (ROOT / "labs").glob(f"lab-{lab}-*.ipynb")
    return path


def lab_namespace(lab: str) -> dict[str, Any]:
    """Run a lab's exercise cells as a learner who has not written anything yet would."""
    namespace: dict[str, Any] = {"time": time, "openai": openai, "cost_of": cost_of, "format_usd": format_usd,
                                 "COURSE_MODEL": COURSE_MODEL}
    nb = nbformat.read(lab_path(lab), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and "raises-exception" in cell.metadata.get("tags", []):
            try:
                exec(cell.source, namespace)  # noqa: S102 (the course's own lab)
            except Exception:  # NotImplementedError, or a name from a cell that needs the sandbox
                pass
    return namespace


def test_the_course_has_exercises() -> None:
    assert len(EXERCISES) >= 10


@pytest.mark.parametrize("item", EXERCISES, ids=lambda item: item.exercise_id)
def test_an_unwritten_exercise_is_not_attempted_and_gets_no_hint(item: Exercise) -> None:
    for namespace in ({}, lab_namespace(item.lab)):
        result = run_check(item, namespace)
        assert result.status == "not-attempted", result.text
        assert "Hint" not in result.text and not result.hints
        if item.hint:
            assert item.hint not in result.text


@pytest.mark.parametrize("lab", course_labs())
def test_placeholders_never_carry_the_solution_authors_hints(lab: str) -> None:
    (solution,) = (ROOT / "solutions").glob(f"solution-{lab}-*.ipynb")
    authors_hints = _HINT_LINE.findall(solution.read_text(encoding="utf-8").replace("\\n", "\n"))
    text = lab_path(lab).read_text(encoding="utf-8")
    assert "### HINT" not in text
    for hint in authors_hints:
        assert hint.rstrip('",') not in text, f"lab {lab} shows the hint {hint!r} before any try"
    for item in exercises_of(lab):
        if item.hint:
            assert item.hint not in text


def test_a_wrong_try_gets_the_hint() -> None:
    item = next(item for item in EXERCISES if item.exercise_id == "01.2")
    result = run_check(item, {"call_cost": lambda model, tokens_in, tokens_out: 0})
    assert result.status == "failed"
    assert item.hint in result.hints


def test_lab_02_names_the_variable_exercise_2_expects() -> None:
    nb = nbformat.read(lab_path("02"), as_version=4)
    text = "\n".join(cell.source for cell in nb.cells)
    before_check = text.split('check("02.2")')[0].rsplit("## Exercise 2", 1)[1]
    assert "`GITIGNORE`" in before_check and "GITIGNORE =" in before_check


def test_the_03_3_hint_handles_a_missing_header() -> None:
    """The hint used to suggest int(headers.get(...)), which fails with TypeError on a missing header."""
    (item,) = [item for item in EXERCISES if item.exercise_id == "03.3"]
    assert item.hint and "int(headers.get(" not in item.hint
    assert "None" in item.hint

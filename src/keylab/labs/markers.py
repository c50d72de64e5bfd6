"""Solution markers: turn a solution cell's source into the learner's version.

Answers sit between `### BEGIN SOLUTION` and `### END SOLUTION` lines (the nbgrader convention),
possibly indented inside a function body. Each block becomes `# YOUR CODE HERE` and a
`NotImplementedError` whose message only says what to do, never how: hints come from the checker
(`@exercise(hint=...)`), and only after a wrong try. A `### HINT: ...` line inside a block is an
author's note and is dropped with the block. This module works on plain text so it can be tested
without notebooks.
"""

from __future__ import annotations

import json
import re
from typing import NamedTuple

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
_HINT = re.compile(r"^\s*### HINT:\s*(?P<hint>.*?)\s*$")
GENERIC_HINT = "write your answer here (replace this line), run the cell, then run the check cell below"
CODE_PLACEHOLDER = "# YOUR CODE HERE"
MARKDOWN_PLACEHOLDER = "YOUR ANSWER HERE"


class LabBuildError(ValueError):
    """A solution notebook cannot be turned into a lab; the message names the file and the cell."""


class Stripped(NamedTuple):
    """The learner's version of a cell and how many solution blocks were replaced."""

    source: str
    blocks: int


def _indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _raise_line(indent: str, exercise_id: str) -> str:
    # json.dumps gives a valid Python string literal in double quotes (non-ASCII kept readable).
    message = f"Exercise {exercise_id}: {GENERIC_HINT}"
    return f"{indent}raise NotImplementedError({json.dumps(message, ensure_ascii=False)})"


def strip_solutions(source: str, exercise_id: str, *, markdown: bool = False, where: str = "") -> Stripped:
    """Replace each marked block of `source` with a placeholder at the block's indentation.

    Code cells get `# YOUR CODE HERE` plus `raise NotImplementedError("Exercise <id>: <what to do>")`;
    markdown cells get `YOUR ANSWER HERE`. `where` prefixes error messages (file and cell).
    Raises LabBuildError on unbalanced markers or a stray `### HINT:` line.
    """
    out: list[str] = []
    blocks = 0
    open_at: int | None = None  # line number (1-based) of the BEGIN marker of the open block
    indent = ""
    lines = source.split("\n")
    for number, line in enumerate(lines, start=1):
        marker = line.strip()
        if marker == BEGIN:
            if open_at is not None:
                raise LabBuildError(
                    f"{where}: '{BEGIN}' on line {number} but the block opened on line {open_at} "
                    f"has no '{END}' yet"
                )
            open_at, indent = number, _indent_of(line)
        elif marker == END:
            if open_at is None:
                raise LabBuildError(f"{where}: '{END}' on line {number} has no matching '{BEGIN}'")
            if markdown:
                out.append(f"{indent}{MARKDOWN_PLACEHOLDER}")
            else:
                out.append(f"{indent}{CODE_PLACEHOLDER}")
                out.append(_raise_line(indent, exercise_id))
            blocks += 1
            open_at = None
        elif _HINT.match(line) is not None:
            if open_at is None:
                raise LabBuildError(
                    f"{where}: '### HINT:' on line {number} is outside a solution block "
                    "(it would be shown to learners as-is)"
                )
            continue  # an author's note: dropped with the block it sits in
        elif open_at is None:
            out.append(line)
    if open_at is not None:
        raise LabBuildError(f"{where}: '{BEGIN}' on line {open_at} has no matching '{END}'")
    return Stripped("\n".join(out), blocks)


def has_markers(source: str) -> bool:
    """Whether any line of `source` is a solution marker or hint (cheap pre-check)."""
    return any(line.strip() in (BEGIN, END) or _HINT.match(line) for line in source.split("\n"))

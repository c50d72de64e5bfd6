"""Build labs from solutions: `solutions/solution-NN-name.ipynb` is the single source of
`labs/lab-NN-name.ipynb`.

Labs, solutions and lessons (`notebooks/NN-name.ipynb`) have distinct file names, so JupyterLab's
tabs never show two notebooks with the same name. A solution named plain `NN-name.ipynb` is still
accepted (its lab is `lab-NN-name.ipynb` all the same).

A lab is the solution with each marked answer replaced by a placeholder that raises
`NotImplementedError`, outputs cleared, `solution-only` cells dropped and a banner cell on top saying
where it came from. Building is deterministic, so `check_all` can compare the committed labs with
what their solutions generate and CI can fail on a stale lab (fastbook's `clean.py --verify-only`).
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Literal, NamedTuple

import nbformat
from nbformat import NotebookNode

from keylab.labs.markers import LabBuildError, has_markers, strip_solutions
from keylab.labs.workspace import BANNER_ID, BANNER_KEY, WORK_DIR, free_name, is_banner

SOLUTION_ONLY_TAG = "solution-only"
RAISES_TAG = "raises-exception"
SOLUTION_PREFIX = "solution-"
LAB_PREFIX = "lab-"
_LAB_NUMBER = re.compile(r"^(?:solution-)?(?P<lab>\d{2})-(?P<rest>.+)$")
_CHECK_CALL = re.compile(r"""\bcheck\(\s*["'](?P<id>\d{2}\.\d+)["']""")
_VOLATILE_CELL_METADATA = ("execution", "ExecuteTime")

ProblemKind = Literal["stale", "missing", "orphan", "invalid"]


class LabProblem(NamedTuple):
    """One lab that does not match its solution; `message` is ready to print."""

    lab: Path
    kind: ProblemKind
    message: str


def display_path(path: Path) -> str:
    """`solutions/02-x.ipynb`: the folder and file name, so messages and banners do not depend on
    where the checkout lives."""
    return f"{path.parent.name}/{path.name}" if path.parent.name else path.name


def _name_match(solution_name: str | Path) -> re.Match[str]:
    match = _LAB_NUMBER.match(Path(solution_name).name)
    if match is None:
        raise LabBuildError(
            f"{solution_name}: a solution's file name must start with a two-digit lab number, "
            "like solution-02-storing-keys.ipynb"
        )
    return match


def lab_number(solution_name: str | Path) -> str:
    """The two-digit lab number from a file name such as `solution-02-storing-keys.ipynb`."""
    return _name_match(solution_name)["lab"]


def lab_file_name(solution_name: str | Path) -> str:
    """`solution-02-storing-keys.ipynb` (or `02-storing-keys.ipynb`) → `lab-02-storing-keys.ipynb`."""
    match = _name_match(solution_name)
    return f"{LAB_PREFIX}{match['lab']}-{match['rest']}"


def _banner(source_name: str, lab_name: str) -> NotebookNode:
    cell = nbformat.v4.new_markdown_cell(
        f"> **Generated file: do not edit.** This lab is generated from `{source_name}` by "
        "`keylab labs build`.\n"
        "> Course authors: edit the solution and rebuild; changes made here are overwritten.\n"
        f"> Learners: write your answers in your own copy, `{WORK_DIR}/{lab_name}` (`python3 course.py start` makes it), "
        "where no rebuild or course update touches them."
    )
    cell.id = BANNER_ID
    cell.metadata = nbformat.from_dict({BANNER_KEY: {"generated_from": source_name}})
    return cell


def _tags(cell: NotebookNode) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _clean_cell(cell: NotebookNode, index: int) -> None:
    """Clear what running the notebook produces, so the lab only changes when its solution does."""
    if cell.cell_type == "code":
        cell.outputs = []
        cell.execution_count = None
    for key in _VOLATILE_CELL_METADATA:
        cell.metadata.pop(key, None)
    if not cell.get("id"):
        # nbformat 4.5 wants ids; derive a stable one instead of a random one.
        cell.id = "cell-" + hashlib.sha1(f"{index}".encode()).hexdigest()[:12]


def _check_ids_follow(cells: list[NotebookNode], exercises: list[tuple[int, str]], where: str) -> None:
    """Each exercise's check cell (before the next exercise) must check that exercise's id."""
    bounds = [index for index, _ in exercises] + [len(cells)]
    for (start, exercise_id), stop in zip(exercises, bounds[1:], strict=True):
        for position in range(start + 1, stop):
            cell = cells[position]
            if cell.cell_type != "code":
                continue
            for match in _CHECK_CALL.finditer(cell.source):
                if match["id"] != exercise_id:
                    raise LabBuildError(
                        f"{where}, cell {position + 1}: calls check({match['id']!r}) but the exercise "
                        f"above it (cell {start + 1}) is {exercise_id}; exercises are numbered in order"
                    )


def build_lab(solution_nb: NotebookNode, solution_name: str | Path) -> NotebookNode:
    """Return the lab generated from `solution_nb` (which is not modified).

    `solution_name` is the solution's path or file name: its `NN-` prefix numbers the exercises
    (`Exercise NN.1`, `NN.2`, … in cell order) and `folder/file` is named in the banner.
    """
    path = Path(solution_name)
    source_name = display_path(path)
    lab = lab_number(path.name)
    nb = copy.deepcopy(solution_nb)
    nb.metadata.pop("widgets", None)
    if nb.nbformat == 4 and nb.nbformat_minor < 5:
        nb.nbformat_minor = 5
    cells: list[NotebookNode] = []
    original_index: list[int] = []
    for index, cell in enumerate(nb.cells):
        if is_banner(cell) or SOLUTION_ONLY_TAG in _tags(cell):
            continue
        cells.append(cell)
        original_index.append(index)
    exercises: list[tuple[int, str]] = []
    for position, cell in enumerate(cells):
        where = f"{source_name}, cell {original_index[position] + 1}"
        _clean_cell(cell, original_index[position])
        if cell.cell_type not in ("code", "markdown") or not has_markers(cell.source):
            continue
        if cell.cell_type == "markdown":
            cell.source = strip_solutions(cell.source, "", markdown=True, where=where).source
            continue
        exercise_id = f"{lab}.{len(exercises) + 1}"
        cell.source = strip_solutions(cell.source, exercise_id, where=where).source
        tags = _tags(cell)
        if RAISES_TAG not in tags:
            cell.metadata["tags"] = [*tags, RAISES_TAG]
        exercises.append((position, exercise_id))
    _check_ids_follow(cells, exercises, source_name)
    nb.cells = [_banner(source_name, lab_file_name(path.name)), *cells]
    return nb


def render(nb: NotebookNode) -> str:
    """The notebook as deterministic JSON text (sorted keys, one-space indent, trailing newline)."""
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"


def build_lab_text(solution_path: Path) -> str:
    """Read a solution file and return its lab's file content."""
    try:
        solution = nbformat.read(solution_path, as_version=4)
    except Exception as error:  # nbformat raises several kinds for a broken file
        raise LabBuildError(f"{display_path(solution_path)}: not a readable notebook ({error})") from error
    return render(build_lab(solution, solution_path))


def _solutions(solutions_dir: Path) -> list[Path]:
    return sorted(path for path in solutions_dir.glob("*.ipynb") if not path.name.startswith("."))


def _parse(lab_text: str) -> NotebookNode | None:
    """A lab file's notebook, read once for the questions below; None when it is not a notebook."""
    try:
        return nbformat.reads(lab_text, as_version=4)
    except Exception:
        return None


def _is_generated(nb: NotebookNode | None) -> bool:
    return nb is not None and bool(nb.cells) and is_banner(nb.cells[0])


def _was_run(nb: NotebookNode | None) -> bool:
    """Whether a lab holds outputs or execution counts: a generated lab never does, so someone
    worked in it (a learner who wrote answers in labs/ instead of their copy in my-labs/)."""
    if nb is None:
        return True  # unreadable: keep it rather than guess
    return any(
        cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None)
        for cell in nb.cells
    )


def _keep_aside(lab_path: Path, work_dir: Path) -> Path:
    """Copy a lab someone worked in to `work_dir` under a name that is not taken, before it is rebuilt."""
    work_dir.mkdir(parents=True, exist_ok=True)
    target = work_dir / lab_path.name
    if target.exists():
        target = free_name(work_dir, lab_path.name, "from-labs")
    target.write_bytes(lab_path.read_bytes())
    return target


def build_all(solutions_dir: Path, labs_dir: Path, work_dir: Path | None = None) -> list[str]:
    """Regenerate every lab; return a line per change (written labs, removed generated orphans).

    Labs whose text is already right are not rewritten. A lab someone ran (it has outputs) is first
    copied to `work_dir` (default: `my-labs/` next to `labs_dir`), so answers written in labs/ by
    mistake are never lost. A lab without a solution is deleted only if it carries our generated
    banner (so a hand-made file is never lost); otherwise it is left for `check_all` to report.
    """
    labs_dir.mkdir(parents=True, exist_ok=True)
    work_dir = work_dir or labs_dir.parent / WORK_DIR
    changes: list[str] = []
    expected: set[str] = set()
    for solution in _solutions(solutions_dir):
        text = build_lab_text(solution)
        target = labs_dir / lab_file_name(solution)
        expected.add(target.name)
        current = target.read_text(encoding="utf-8") if target.is_file() else None
        if current == text:
            continue
        if current is not None and _was_run(_parse(current)):
            kept = _keep_aside(target, work_dir)
            changes.append(f"kept the worked-in {display_path(target)} as {display_path(kept)}")
        target.write_text(text, encoding="utf-8", newline="\n")
        changes.append(f"wrote {display_path(target)}")
    for lab in _orphans(labs_dir, expected):
        nb = _read(lab)
        if _is_generated(nb) and not _was_run(nb):
            lab.unlink()
            changes.append(f"removed {display_path(lab)} (its solution is gone)")
    return changes


def _read(lab_path: Path) -> NotebookNode | None:
    try:
        return _parse(lab_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return None


def _solution_name_for(lab_name: str) -> str:
    """The solution file a lab would be built from (for messages)."""
    rest = lab_name.removeprefix(LAB_PREFIX)
    return SOLUTION_PREFIX + rest


def _orphans(labs_dir: Path, expected: Iterable[str]) -> list[Path]:
    names = set(expected)
    return [lab for lab in _solutions(labs_dir) if lab.name not in names] if labs_dir.is_dir() else []


def check_all(solutions_dir: Path, labs_dir: Path) -> list[LabProblem]:
    """Every lab that is stale, missing or has no solution, with a message saying what to do."""
    problems: list[LabProblem] = []
    solutions = _solutions(solutions_dir)
    expected: dict[str, Path] = {}
    for solution in solutions:
        try:
            lab = labs_dir / lab_file_name(solution)
            expected[lab.name] = solution
            text = build_lab_text(solution)
        except LabBuildError as error:
            problems.append(LabProblem(labs_dir / solution.name, "invalid", f"{error}"))
            continue
        if not lab.is_file():
            problems.append(
                LabProblem(lab, "missing", f"{display_path(lab)} is missing: run `keylab labs build`")
            )
        elif (current := lab.read_text(encoding="utf-8")) != text:
            worked_in = _was_run(_parse(current))
            advice = (
                " (it holds outputs: someone worked in it; `keylab labs build` first copies it to "
                f"{WORK_DIR}/, where learners' answers belong)" if worked_in else ""
            )
            problems.append(
                LabProblem(lab, "stale", f"{display_path(lab)} is stale: run `keylab labs build`{advice}")
            )
    for lab in _orphans(labs_dir, expected):
        source = _solution_name_for(lab.name)
        problems.append(
            LabProblem(
                lab,
                "orphan",
                f"{display_path(lab)} has no solution {display_path(solutions_dir / source)}: "
                "labs are generated, so delete it or restore its solution",
            )
        )
    return problems

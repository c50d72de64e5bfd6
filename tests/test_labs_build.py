"""The solutions → labs builder (`keylab.labs.build`) and `keylab labs build|check`."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat import v4

from keylab.cli import main
from keylab.labs.build import build_all, build_lab, check_all, lab_file_name, render
from keylab.labs.markers import LabBuildError

EXERCISE = '''def add(a, b):
    """Add two numbers."""
    ### BEGIN SOLUTION
    ### HINT: use the + operator
    return a + b
    ### END SOLUTION
'''


@pytest.fixture(autouse=True)
def keylab_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "keylab-home"
    monkeypatch.setenv("KEYLAB_HOME", str(home))
    return home


def solution_nb(*cells: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb = v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [v4.new_markdown_cell("# Lab 00"), v4.new_code_cell("from keylab.labs import check"), *cells]
    return nb


def default_solution() -> nbformat.NotebookNode:
    return solution_nb(
        v4.new_code_cell(
            EXERCISE,
            execution_count=3,
            outputs=[v4.new_output("stream", name="stdout", text="added\n")],
        ),
        v4.new_code_cell('check("00.1")', execution_count=4),
        v4.new_code_cell("### BEGIN SOLUTION\nKEY_NAME = 'OPENAI_API_KEY'\n### END SOLUTION"),
        v4.new_code_cell('check("00.2")'),
    )


@pytest.fixture
def course(tmp_path: Path) -> tuple[Path, Path]:
    """A course folder with one solution and an empty labs/ folder."""
    solutions, labs = tmp_path / "solutions", tmp_path / "labs"
    solutions.mkdir()
    labs.mkdir()
    nbformat.write(default_solution(), solutions / "solution-00-example.ipynb")
    return solutions, labs


def code_sources(nb: nbformat.NotebookNode) -> list[str]:
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]


def test_markers_replaced_at_their_indentation_and_the_authors_hint_is_not_shown() -> None:
    """Hints come from the checker after a wrong try: the placeholder never gives the answer away."""
    lab = build_lab(default_solution(), "solutions/00-example.ipynb")
    assert code_sources(lab)[1] == (
        "def add(a, b):\n"
        '    """Add two numbers."""\n'
        "    # YOUR CODE HERE\n"
        '    raise NotImplementedError("Exercise 00.1: write your answer here (replace this line), run the cell, '
        'then run the check cell below")\n'
    )
    assert "+ operator" not in render(lab)


def test_top_level_block_gets_the_same_placeholder_and_the_next_number() -> None:
    lab = build_lab(default_solution(), "solutions/00-example.ipynb")
    source = code_sources(lab)[3]
    assert source.startswith('# YOUR CODE HERE\nraise NotImplementedError("Exercise 00.2: write your answer')
    assert "OPENAI_API_KEY" not in source


def test_each_exercise_cell_is_tagged_raises_exception_and_only_those() -> None:
    lab = build_lab(default_solution(), "solutions/00-example.ipynb")
    tagged = [
        cell.source.splitlines()[0]
        for cell in lab.cells
        if "raises-exception" in cell.metadata.get("tags", [])
    ]
    assert tagged == ["def add(a, b):", "# YOUR CODE HERE"]


def test_outputs_execution_counts_and_widget_state_are_cleared() -> None:
    solution = default_solution()
    solution.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    solution.cells[2].metadata["execution"] = {"iopub.status.busy": "2025-01-01T00:00:00Z"}
    lab = build_lab(solution, "solutions/00-example.ipynb")
    code = [cell for cell in lab.cells if cell.cell_type == "code"]
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code)
    assert "widgets" not in lab.metadata
    assert "execution" not in code[1].metadata
    assert solution.cells[2].outputs, "build_lab must not modify the solution it is given"


def test_first_cell_is_a_generated_banner_naming_the_solution() -> None:
    lab = build_lab(default_solution(), Path("/somewhere/solutions/00-example.ipynb"))
    banner = lab.cells[0]
    assert banner.cell_type == "markdown"
    assert "Generated file: do not edit" in banner.source
    assert "`solutions/00-example.ipynb`" in banner.source
    assert "/somewhere" not in banner.source, "the banner must not depend on where the checkout lives"


def test_solution_only_cells_are_dropped() -> None:
    worked = v4.new_code_cell("add(2, 3)", metadata={"tags": ["solution-only"]})
    lab = build_lab(solution_nb(worked), "solutions/00-example.ipynb")
    assert "add(2, 3)" not in code_sources(lab)


def test_markdown_answers_become_your_answer_here() -> None:
    answer = v4.new_markdown_cell("Why?\n\n### BEGIN SOLUTION\nBecause keys leak.\n### END SOLUTION")
    lab = build_lab(solution_nb(answer), "solutions/00-example.ipynb")
    assert lab.cells[-1].source == "Why?\n\nYOUR ANSWER HERE"


def test_building_is_deterministic_and_idempotent() -> None:
    solution = default_solution()
    first = render(build_lab(solution, "solutions/00-example.ipynb"))
    again = render(build_lab(solution, "solutions/00-example.ipynb"))
    rebuilt = render(build_lab(nbformat.reads(first, as_version=4), "solutions/00-example.ipynb"))
    assert first == again == rebuilt
    assert first.endswith("}\n")
    assert first.count("Generated file: do not edit") == 1


def test_notebooks_without_cell_ids_get_stable_ids() -> None:
    """Old (nbformat 4.4) solutions have no cell ids; random ids would make every build differ."""
    solution = default_solution()
    solution.nbformat_minor = 4
    for cell in solution.cells:
        del cell["id"]
    texts = {render(build_lab(solution, "solutions/00-example.ipynb")) for _ in range(2)}
    assert len(texts) == 1


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "x = 1\n### BEGIN SOLUTION\nx = 2\n",
            "'### BEGIN SOLUTION' on line 2 has no matching '### END SOLUTION'",
        ),
        ("x = 1\n### END SOLUTION\n", "'### END SOLUTION' on line 2 has no matching '### BEGIN SOLUTION'"),
        (
            "### BEGIN SOLUTION\n    ### BEGIN SOLUTION\n### END SOLUTION\n",
            "'### BEGIN SOLUTION' on line 2 but the block opened on line 1",
        ),
        ("### HINT: try harder\nx = 1\n", "'### HINT:' on line 1 is outside a solution block"),
    ],
    ids=["begin-without-end", "end-without-begin", "nested-begin", "stray-hint"],
)
def test_unbalanced_markers_are_refused_naming_file_and_cell(source: str, expected: str) -> None:
    nb = solution_nb(v4.new_code_cell(source))
    with pytest.raises(LabBuildError) as excinfo:
        build_lab(nb, "solutions/00-example.ipynb")
    assert str(excinfo.value).startswith("solutions/00-example.ipynb, cell 3: ")
    assert expected in str(excinfo.value)


def test_a_check_cell_with_the_wrong_id_is_refused() -> None:
    nb = solution_nb(v4.new_code_cell(EXERCISE), v4.new_code_cell('check("00.2")'))
    with pytest.raises(LabBuildError, match=r"cell 4: calls check\('00.2'\) but the exercise above it"):
        build_lab(nb, "solutions/00-example.ipynb")


def test_a_solution_name_needs_a_lab_number() -> None:
    with pytest.raises(LabBuildError, match="must start with a two-digit lab number"):
        build_lab(default_solution(), "solutions/example.ipynb")


def test_build_all_writes_labs_and_check_all_is_then_clean(course: tuple[Path, Path]) -> None:
    solutions, labs = course
    assert build_all(solutions, labs) == ["wrote labs/lab-00-example.ipynb"]
    assert check_all(solutions, labs) == []
    assert build_all(solutions, labs) == [], "an up-to-date lab is not rewritten"


def test_build_all_removes_generated_orphans_but_keeps_hand_made_files(course: tuple[Path, Path]) -> None:
    solutions, labs = course
    build_all(solutions, labs)
    (labs / "lab-00-example.ipynb").rename(labs / "lab-01-renamed.ipynb")
    nbformat.write(v4.new_notebook(), labs / "lab-02-hand-made.ipynb")
    changes = build_all(solutions, labs)
    assert "removed labs/lab-01-renamed.ipynb (its solution is gone)" in changes
    assert (labs / "lab-02-hand-made.ipynb").exists()
    assert [problem.kind for problem in check_all(solutions, labs)] == ["orphan"]


def test_build_all_keeps_an_orphan_lab_someone_ran(course: tuple[Path, Path]) -> None:
    solutions, labs = course
    build_all(solutions, labs)
    orphan = labs / "lab-01-renamed.ipynb"
    (labs / "lab-00-example.ipynb").rename(orphan)
    nb = nbformat.read(orphan, as_version=4)
    worked = next(cell for cell in nb.cells if cell.cell_type == "code")
    worked.execution_count = 1
    worked.outputs = [v4.new_output("stream", name="stdout", text="my answer\n")]
    nbformat.write(nb, orphan)
    before = orphan.read_bytes()
    changes = build_all(solutions, labs)
    assert not any("lab-01-renamed" in line for line in changes)
    assert orphan.read_bytes() == before
    assert [(problem.lab.name, problem.kind) for problem in check_all(solutions, labs)] == [
        ("lab-01-renamed.ipynb", "orphan")]


def test_cli_check_fails_when_a_solution_changed_without_rebuilding(
    course: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """The CI guard: editing a solution and forgetting `keylab labs build` must fail the build."""
    solutions, labs = course
    dirs = ["--solutions", str(solutions), "--labs", str(labs)]
    assert main(["labs", "build", *dirs]) == 0
    assert main(["labs", "check", *dirs]) == 0
    capsys.readouterr()

    nb = nbformat.read(solutions / "solution-00-example.ipynb", as_version=4)
    nb.cells[0].source = "# Lab 00, now with a better intro"
    nbformat.write(nb, solutions / "solution-00-example.ipynb")

    assert main(["labs", "check", *dirs]) == 1
    assert "labs/lab-00-example.ipynb is stale: run `keylab labs build`" in capsys.readouterr().out
    assert main(["labs", "build", *dirs]) == 0
    assert main(["labs", "check", *dirs]) == 0


def test_cli_check_reports_missing_and_orphan_labs(
    course: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    solutions, labs = course
    nbformat.write(v4.new_notebook(), labs / "lab-09-old.ipynb")
    assert main(["labs", "check", "--solutions", str(solutions), "--labs", str(labs)]) == 1
    out = capsys.readouterr().out
    assert "labs/lab-00-example.ipynb is missing: run `keylab labs build`" in out
    assert "labs/lab-09-old.ipynb has no solution solutions/solution-09-old.ipynb" in out


def test_cli_build_reports_a_broken_solution(
    course: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    solutions, labs = course
    nbformat.write(solution_nb(v4.new_code_cell("### BEGIN SOLUTION\n")), solutions / "solution-01-broken.ipynb")
    assert main(["labs", "build", "--solutions", str(solutions), "--labs", str(labs)]) == 1
    assert "error: solutions/solution-01-broken.ipynb, cell 3: '### BEGIN SOLUTION'" in capsys.readouterr().err


def test_lab_runs_without_crashing_and_checks_say_not_attempted(
    course: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Run the generated lab's cells the way a kernel would: exercise cells may raise (they are
    tagged raises-exception), check cells must not."""
    solutions, labs = course
    build_all(solutions, labs)
    lab = nbformat.read(labs / "lab-00-example.ipynb", as_version=4)
    namespace: dict[str, object] = {}
    for cell in lab.cells:
        if cell.cell_type != "code":
            continue
        if "raises-exception" in cell.metadata.get("tags", []):
            try:
                exec(cell.source, namespace)
            except NotImplementedError:
                pass
        else:
            exec(cell.source, namespace)
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "Exercise 00.1: not attempted yet — complete `add` in the exercise cell above and run that cell, "
        "then run this check again.",
        "Exercise 00.2: not attempted yet — set `KEY_NAME` in the cell above and run it.",
    ]


@pytest.mark.parametrize(
    ("solution", "lab"),
    [("solution-02-storing-keys.ipynb", "lab-02-storing-keys.ipynb"),
     ("02-storing-keys.ipynb", "lab-02-storing-keys.ipynb")],
)
def test_labs_get_their_own_file_names(solution: str, lab: str) -> None:
    assert lab_file_name(solution) == lab


def test_lessons_labs_and_solutions_have_distinct_file_names() -> None:
    """Two JupyterLab tabs with the same name confuse: no lesson, lab or solution shares a file name."""
    root = Path(__file__).resolve().parent.parent
    names: dict[str, list[str]] = {}
    for folder in ("notebooks", "labs", "solutions"):
        for path in (root / folder).glob("*.ipynb"):
            names.setdefault(path.name, []).append(folder)
    assert names, "no notebooks found"
    shared = {name: folders for name, folders in names.items() if len(folders) > 1}
    assert not shared, f"rename these so each tab has its own name: {shared}"
    assert all(name.startswith("lab-") for name, folders in names.items() if folders == ["labs"])

"""The learner's working copies of the labs (`my-labs/`): made when missing, never overwritten, and
never looked at by `keylab labs build|check`."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest
from nbformat import v4

from keylab.cli import main
from keylab.labs.build import build_all, check_all
from keylab.labs.workspace import MANIFEST, WORK_DIR, ensure_working_copies
from keylab.processes import stop

ROOT = Path(__file__).resolve().parent.parent
LAB_COUNT = len(list((ROOT / "labs").glob("lab-*.ipynb")))


@pytest.fixture
def course(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the course's solutions and labs in a temporary checkout."""
    for folder in ("solutions", "labs"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "pyproject.toml").write_text("")
    monkeypatch.setenv("KEYLAB_COURSE_ROOT", str(tmp_path))
    monkeypatch.setenv("KEYLAB_HOME", str(tmp_path / ".keylab"))
    return tmp_path


def answer(copy: Path) -> None:
    """Write a learner's answer into a working copy."""
    nb = nbformat.read(copy, as_version=4)
    nb.cells.append(v4.new_code_cell("my_answer = 42"))
    nbformat.write(nb, copy)


def test_a_copy_is_made_for_each_lab_with_its_own_banner(course: Path) -> None:
    results = ensure_working_copies(course / "labs", course / WORK_DIR)
    labs = sorted(path.name for path in (course / "labs").glob("lab-*.ipynb"))
    assert labs and [r.path.name for r in results] == labs
    assert {r.action for r in results} == {"copied"}
    copy = nbformat.read(course / WORK_DIR / labs[0], as_version=4)
    assert "Your working copy" in copy.cells[0].source
    assert "Generated file: do not edit" not in nbformat.writes(copy)
    original = nbformat.read(course / "labs" / labs[0], as_version=4)
    assert [c.source for c in copy.cells[1:]] == [c.source for c in original.cells[1:]]


def test_an_existing_copy_is_never_overwritten(course: Path) -> None:
    ensure_working_copies(course / "labs", course / WORK_DIR)
    copy = next((course / WORK_DIR).glob("lab-01-*.ipynb"))
    answer(copy)
    before = copy.read_bytes()
    manifest = course / WORK_DIR / MANIFEST
    manifest.write_text(manifest.read_text() + " ")  # a mark that a rewrite would remove
    results = ensure_working_copies(course / "labs", course / WORK_DIR)
    assert copy.read_bytes() == before
    assert {r.action for r in results} == {"kept"}
    assert manifest.read_text().endswith(" ")  # nothing changed: the manifest is not rewritten


def test_a_changed_course_lab_is_offered_next_to_the_copy_never_over_it(course: Path) -> None:
    ensure_working_copies(course / "labs", course / WORK_DIR)
    copy = next((course / WORK_DIR).glob("lab-01-*.ipynb"))
    answer(copy)
    before = copy.read_bytes()
    solution = next((course / "solutions").glob("solution-01-*.ipynb"))
    nb = nbformat.read(solution, as_version=4)
    nb.cells[0].source += "\n\nA clearer intro, after a course update."
    nbformat.write(nb, solution)
    build_all(course / "solutions", course / "labs")

    results = ensure_working_copies(course / "labs", course / WORK_DIR)
    (offered,) = [r for r in results if r.action == "offered"]
    assert copy.read_bytes() == before, "the learner's answers were touched"
    assert offered.path.name == copy.name.replace(".ipynb", ".new.ipynb")
    assert "A clearer intro" in offered.path.read_text()
    # offered once: a later start with no new change leaves everything alone
    assert {r.action for r in ensure_working_copies(course / "labs", course / WORK_DIR)} == {"kept"}
    assert json.loads((course / WORK_DIR / MANIFEST).read_text())


def test_build_and_check_never_look_at_the_working_copies(course: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The README's test command ran `keylab labs check`, which failed "labs are stale" once a learner
    wrote answers into labs/. Answers now live in my-labs/, which build and check ignore."""
    assert main(["labs", "copy"]) == 0
    for copy in (course / WORK_DIR).glob("lab-*.ipynb"):
        answer(copy)
    snapshot = {p.name: p.read_bytes() for p in (course / WORK_DIR).iterdir()}
    assert check_all(course / "solutions", course / "labs") == []
    assert main(["labs", "check"]) == 0
    assert main(["labs", "build"]) == 0
    assert {p.name: p.read_bytes() for p in (course / WORK_DIR).iterdir()} == snapshot
    assert main(["labs", "copy"]) == 0
    assert "nothing was changed" in capsys.readouterr().out


def test_start_makes_the_copies(course: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from keylab.cli.start import _copy_labs

    _copy_labs(course)
    assert f"Made your working copies of {LAB_COUNT} lab(s) in my-labs/" in capsys.readouterr().out
    _copy_labs(course)
    assert capsys.readouterr().out == ""


def test_git_ignores_the_working_copies() -> None:
    """`git pull` can never collide with a learner's answers: git does not track my-labs/."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    result = subprocess.run(["git", "check-ignore", "-q", "--no-index", f"{WORK_DIR}/lab-01-x.ipynb"],
                            cwd=ROOT, capture_output=True)
    assert result.returncode == 0, f"add {WORK_DIR}/ to .gitignore"


def test_lessons_link_to_the_working_copies() -> None:
    for lesson in sorted((ROOT / "notebooks").glob("0[1-9]-*.ipynb")):
        text = lesson.read_text(encoding="utf-8")
        assert f"../{WORK_DIR}/lab-{lesson.name[:2]}-" in text, f"{lesson.name} does not link to its working copy"


def test_answers_written_in_labs_by_mistake_are_kept_before_a_rebuild(
    course: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The old advice "labs are stale: run keylab labs build" overwrote a learner's answers."""
    lab = next((course / "labs").glob("lab-01-*.ipynb"))
    nb = nbformat.read(lab, as_version=4)
    nb.cells[2].execution_count = 1
    nb.cells.append(v4.new_code_cell("my_answer = 42", execution_count=2,
                                     outputs=[v4.new_output("stream", name="stdout", text="42\n")]))
    nbformat.write(nb, lab)
    worked = lab.read_bytes()

    assert main(["labs", "check"]) == 1
    assert "someone worked in it" in capsys.readouterr().out
    assert main(["labs", "build"]) == 0
    out = capsys.readouterr().out
    kept = course / WORK_DIR / lab.name
    assert f"kept the worked-in labs/{lab.name} as {WORK_DIR}/{lab.name}" in out
    assert kept.read_bytes() == worked
    assert main(["labs", "check"]) == 0

    nbformat.write(nb, lab)  # again, now that my-labs/ has that name: a second, free name
    assert main(["labs", "build"]) == 0
    assert (course / WORK_DIR / lab.name.replace(".ipynb", ".from-labs.ipynb")).read_bytes() == worked
    assert kept.read_bytes() == worked


def test_keylab_start_makes_the_working_copies_end_to_end(course: Path) -> None:
    """What a learner runs: `keylab start` (here without JupyterLab) leaves my-labs/ ready."""
    import os
    import sys

    env = {**os.environ, "KEYLAB_COURSE_ROOT": str(course), "KEYLAB_HOME": str(course / ".keylab")}
    process = subprocess.Popen([sys.executable, "-m", "keylab", "start", "--no-lab", "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if "Sandbox running" in line:
                break
    finally:
        stop(process)
    text = "".join(lines)
    assert f"Made your working copies of {LAB_COUNT} lab(s) in my-labs/" in text, text
    assert sorted(p.name for p in (course / WORK_DIR).glob("lab-*.ipynb")) == sorted(
        p.name for p in (course / "labs").glob("lab-*.ipynb"))


def test_every_relative_link_in_the_course_notebooks_resolves() -> None:
    """Renamed labs and the my-labs copies must not leave dead links. A link into my-labs/ resolves when
    the lab it is copied from exists (the copy itself is made on the learner's machine)."""
    import re

    link = re.compile(r"\]\(([^)\s]+)\)")
    dead = []
    checked = 0
    for folder in ("notebooks", "solutions", "labs"):
        for path in sorted((ROOT / folder).glob("*.ipynb")):
            nb = nbformat.read(path, as_version=4)
            for cell in nb.cells:
                if cell.cell_type != "markdown":
                    continue
                for target in link.findall(cell.source):
                    if target.startswith(("http://", "https://", "#", "mailto:")):
                        continue
                    resolved = (path.parent / target.split("#")[0]).resolve()
                    if resolved.parent == (ROOT / WORK_DIR).resolve():
                        resolved = ROOT / "labs" / resolved.name
                    checked += 1
                    if not resolved.exists():
                        dead.append(f"{folder}/{path.name}: {target}")
    assert checked > 10
    assert not dead, dead


def test_a_blocked_my_labs_gives_a_message_not_a_traceback(
    course: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from keylab.cli.start import _copy_labs

    (course / WORK_DIR).write_text("not a folder")
    assert main(["labs", "copy"]) == 1
    assert "rename it and run this again" in capsys.readouterr().err
    _copy_labs(course)
    assert "could not make your working copies" in capsys.readouterr().out
    assert (course / WORK_DIR).read_text() == "not a folder"

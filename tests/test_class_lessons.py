"""Every lesson and worked lab on one class sandbox, two students at once, each with only the `.env`
the class gave them.

Each student's run is the course's own notebook check (nbval against the saved outputs), started in
a process of its own with `keylab.testing.STUDENT_ENV_VAR` set: no sandbox of its own and no
operator token, as on a student's laptop. Both runs move their clocks, stage 500s, spend past budgets
and read the Outbox at the same time on the same server. Most leaks between them would show in a
compared output (another student's alert e-mail, a staged 500 or a moved rate-limit window reaching
the wrong student, a batch that resumes in the wrong month); timestamps are masked by the sanitizer,
so tests/test_class_control.py checks the clocks themselves.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from keylab.cli import main
from keylab.sandbox import SandboxServer, serve_in_background
from keylab.testing import STUDENT_ENV_VAR

ROOT = Path(__file__).resolve().parents[1]
# Every lesson and every worked lab.
NOTEBOOKS = sorted(str(path.relative_to(ROOT)) for folder in ("notebooks", "solutions")
                   for path in (ROOT / folder).glob("*.ipynb"))


@pytest.fixture(scope="module")
def room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    with serve_in_background(tmp_path_factory.mktemp("class-lessons")) as server:
        yield server


def test_two_students_run_every_lesson_and_lab_at_once_on_one_class_sandbox(
        room: SandboxServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("name,email\nAda,ada@class.example\nAlan,alan@class.example\n")
    capsys.readouterr()
    assert main(["classroom", "create", "--data", str(room.data_dir), "--roster", str(roster),
                 "--budget-usd", "5", "--base-url", room.base_url, "--env-dir", str(tmp_path / "env"), "--json"]) == 0
    students = json.loads(capsys.readouterr().out)
    env_files = sorted((tmp_path / "env").glob("*.env"))
    assert [f.name for f in env_files] == ["ada@class.example.env", "alan@class.example.env"]

    runs = []
    for env_file in env_files:
        environ = {name: value for name, value in os.environ.items() if not name.startswith(("OPENAI_", "KEYLAB_"))}
        environ[STUDENT_ENV_VAR] = str(env_file)
        runs.append(subprocess.Popen(
            [sys.executable, "-m", "pytest", *NOTEBOOKS, "--nbval", "--nbval-current-env", "--nbval-sanitize-with",
             "tests/nbval_sanitize.cfg", "--nbval-cell-timeout", "120", "-p", "no:randomly", "-q",
             "-p", "no:cacheprovider"],
            cwd=ROOT, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True))
    try:
        outputs = [run.communicate(timeout=600)[0] for run in runs]
    finally:
        for run in runs:  # a run that timed out, and its kernels, do not outlive the test
            if run.poll() is None:
                os.killpg(run.pid, signal.SIGKILL)
                run.communicate()
    for student, run, output in zip(students, runs, outputs, strict=True):
        assert run.returncode == 0, f"{student['name']}'s lessons on the class sandbox:\n{output[-6000:]}"

    # Their check cells reported to the class sandbox with their own keys: the instructor sees both.
    capsys.readouterr()
    assert main(["classroom", "report", "--data", str(room.data_dir), "--json"]) == 0
    report = {row["email"]: row for row in json.loads(capsys.readouterr().out)}
    passed = [report[student["email"]]["exercises_passed"] for student in students]
    assert passed[0] == passed[1] > 0, report

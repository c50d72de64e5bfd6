"""The learner's lab progress, kept in `keylab.paths.progress_file()` (git-ignored JSON).

Every `check()` records the exercise's best result and its latest one, when it was last checked and
how many real attempts (passed or failed checks) there were. A passed exercise stays passed: a later
wrong try changes only the latest result, which `keylab progress` shows next to the best. Writes are
atomic (temp file + `os.replace`), and a file that cannot be read is moved aside to `progress.json.bak` with a message: progress tracking must never
break a check cell.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from keylab.files import atomic_write
from keylab.paths import progress_file

Recorded = Literal["passed", "failed", "not-attempted"]
STATUSES: tuple[Recorded, ...] = ("passed", "failed", "not-attempted")
FORMAT_VERSION = 1
SYMBOLS = {"passed": "✓", "failed": "✗", "not-attempted": "·"}
LABELS = {"passed": "passed", "failed": "tried", "not-attempted": "not yet"}


def _utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


_RANK = {"not-attempted": 0, "failed": 1, "passed": 2}


def better(a: Recorded, b: Recorded) -> Recorded:
    """The better of two results: passed > failed (tried) > not attempted."""
    return a if _RANK[a] >= _RANK[b] else b


def _valid_entry(entry: Any) -> bool:
    return (
        isinstance(entry, dict)
        and entry.get("status") in STATUSES
        and entry.get("best", entry.get("status")) in STATUSES
        and isinstance(entry.get("attempts"), int)
        and entry["attempts"] >= 0
        and isinstance(entry.get("timestamp"), str)
    )


def _parse(text: str) -> dict[str, dict[str, Any]]:
    data = json.loads(text)
    if not isinstance(data, dict) or not isinstance(data.get("exercises"), dict):
        raise ValueError("it is not a keylab progress file")
    exercises = data["exercises"]
    bad = [key for key, entry in exercises.items() if not _valid_entry(entry)]
    if bad:
        raise ValueError(f"the entry for {bad[0]} is malformed")
    for entry in exercises.values():  # files written before "best" was kept: the latest was the best known
        entry.setdefault("best", entry["status"])
    return exercises


def _move_aside(path: Path, reason: str) -> None:
    backup = path.with_name(path.name + ".bak")
    try:
        os.replace(path, backup)
        where = f"moved it to {backup}"
    except OSError as error:
        where = f"could not move it aside ({error.strerror})"
    print(
        f"keylab: your progress file {path} could not be read ({reason}); {where} and started afresh.",
        file=sys.stderr,
    )


def load_progress(path: Path | None = None) -> dict[str, dict[str, Any]]:
    """Exercise id → {status, attempts, timestamp}. A missing file is empty progress; an unreadable
    one is moved aside (see module docstring) and also counts as empty."""
    path = path or progress_file()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as error:
        _move_aside(path, type(error).__name__)
        return {}
    try:
        return _parse(text)
    except ValueError as error:  # json.JSONDecodeError is a ValueError
        _move_aside(
            path, str(error) if not isinstance(error, json.JSONDecodeError) else "it is not valid JSON"
        )
        return {}


def save_progress(exercises: dict[str, dict[str, Any]], path: Path | None = None) -> None:
    """Write atomically: a reader (or a crash) never sees half a file."""
    path = path or progress_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"version": FORMAT_VERSION, "exercises": exercises}, indent=2, sort_keys=True) + "\n"
    atomic_write(path, text.encode("utf-8"))


def record_check(
    exercise_id: str,
    status: Recorded,
    *,
    path: Path | None = None,
    now: Callable[[], str] = _utc_now,
) -> None:
    """Record one check: `status` becomes the latest result, and the best result only improves.
    A not-attempted check never hides an earlier real attempt (reopening a lab and running only its
    check cells must not erase progress). Never raises on a file problem."""
    try:
        exercises = load_progress(path)
        entry = exercises.get(exercise_id)
        if status == "not-attempted" and entry is not None and entry["status"] != "not-attempted":
            return
        attempts = (entry["attempts"] if entry else 0) + (status != "not-attempted")
        best = better(entry["best"], status) if entry else status
        exercises[exercise_id] = {"status": status, "best": best, "attempts": attempts, "timestamp": now()}
        save_progress(exercises, path)
    except OSError as error:
        print(f"keylab: could not save your progress ({error.strerror or error}).", file=sys.stderr)


def reset_progress(path: Path | None = None) -> int:
    """Forget all progress; return how many exercises were recorded."""
    path = path or progress_file()
    count = len(load_progress(path))
    path.unlink(missing_ok=True)
    return count


@dataclass(frozen=True)
class ExerciseProgress:
    """One exercise: `best` is what counts (a pass is kept), `status` is the latest check."""

    exercise_id: str
    status: Recorded
    attempts: int = 0
    timestamp: str | None = None
    best: Recorded | None = None

    def __post_init__(self) -> None:
        if self.best is None:
            object.__setattr__(self, "best", self.status)

    @property
    def symbol(self) -> str:
        return SYMBOLS[self.best]  # __post_init__ set it

    @property
    def label(self) -> str:
        return LABELS[self.best]

    @property
    def latest_differs(self) -> bool:
        """Whether the latest check was worse than the best (e.g. a wrong try after a pass)."""
        return self.best != self.status


@dataclass(frozen=True)
class LabProgress:
    lab: str
    title: str
    exercises: tuple[ExerciseProgress, ...]

    @property
    def passed(self) -> int:
        return sum(item.best == "passed" for item in self.exercises)

    @property
    def total(self) -> int:
        return len(self.exercises)

    def to_dict(self) -> dict[str, Any]:
        return {
            "lab": self.lab,
            "title": self.title,
            "passed": self.passed,
            "total": self.total,
            "exercises": [asdict(item) for item in self.exercises],
        }


def _sort_key(exercise_id: str) -> tuple[str, int]:
    lab, _, number = exercise_id.partition(".")
    return (lab, int(number) if number.isdigit() else 0)


def _known_ids(lab: str) -> list[str]:
    from keylab.labs.registry import exercises_of

    try:
        return [item.exercise_id for item in exercises_of(lab)]
    except Exception:  # a broken lab module must not hide the learner's recorded progress
        return []


def progress_report(path: Path | None = None) -> list[LabProgress]:
    """One entry per lab: the course's labs plus any lab with recorded checks, every exercise listed."""
    from keylab.labs.exercises import course_labs, lab_title

    recorded = load_progress(path)
    labs = sorted(set(course_labs()) | {key.partition(".")[0] for key in recorded})
    report = []
    for lab in labs:
        ids = set(_known_ids(lab)) | {key for key in recorded if key.partition(".")[0] == lab}
        rows = []
        for exercise_id in sorted(ids, key=_sort_key):
            entry = recorded.get(exercise_id)
            rows.append(
                ExerciseProgress(exercise_id, entry["status"], entry["attempts"], entry["timestamp"], entry["best"])
                if entry
                else ExerciseProgress(exercise_id, "not-attempted")
            )
        try:
            title = lab_title(lab)
        except Exception:
            title = f"Lab {lab}"
        report.append(LabProgress(lab, title, tuple(rows)))
    return report

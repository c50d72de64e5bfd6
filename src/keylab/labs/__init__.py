"""Labs: generated exercise notebooks, their self-check cells and the learner's progress.

- `build_lab` / `build_all` / `check_all`: `solutions/solution-NN-name.ipynb` → `labs/lab-NN-name.ipynb`.
- `keylab.labs.workspace.ensure_working_copies`: the learner's copies in `my-labs/`, never overwritten.
- `check("NN.K")`: the cell after each exercise; prints friendly feedback and never raises.
- `exercise(...)`: registers a checker in `keylab.labs.exercises.labNN`.
- `progress_report()`: what `keylab progress` shows.

Importing this package has no side effects; nbformat is only needed by the builder.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keylab.labs.checking import CheckResult, check
from keylab.labs.feedback import Feedback, NotAttempted
from keylab.labs.markers import LabBuildError
from keylab.labs.progress import load_progress, progress_report, record_check, reset_progress
from keylab.labs.registry import Exercise, exercise

if TYPE_CHECKING:
    from keylab.labs.build import LabProblem, build_all, build_lab, check_all

_BUILD_NAMES = ("LabProblem", "build_all", "build_lab", "check_all")

__all__ = [
    "CheckResult",
    "Exercise",
    "Feedback",
    "LabBuildError",
    "LabProblem",
    "NotAttempted",
    "build_all",
    "build_lab",
    "check",
    "check_all",
    "exercise",
    "load_progress",
    "progress_report",
    "record_check",
    "reset_progress",
]


def __getattr__(name: str) -> Any:
    """The builder needs nbformat; import it only when asked, so a check cell stays light."""
    if name in _BUILD_NAMES:
        from keylab.labs import build

        return getattr(build, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""`keylab doctor`: find what is wrong with a learner's key set-up and say how to fix it.

    from keylab.doctor import doctor
    doctor()                     # in a notebook: prints the report, returns the findings

Every problem has a stable code in `keylab.doctor.codes.PROBLEMS` (rendered into docs/doctor.md).
Nothing here prints a key beyond its masked form.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Mapping
from typing import Any

from keylab.doctor.checkup import StrPath, run
from keylab.doctor.codes import PROBLEMS, Problem
from keylab.doctor.finding import Finding
from keylab.doctor.report import Findings, Report


def diagnose(
    project_dir: StrPath | None = None,
    env_file: StrPath | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    offline: bool = False,
) -> list[Finding]:
    """The findings for this set-up, sorted by code; [] when healthy.

    Parameters:
        project_dir: where to start looking for `.env` (default: the current folder).
        env_file: use this file instead of searching (default: `$KEYLAB_ENV_FILE`, then search).
        environ: the environment to check (default: `os.environ`, which also enables the check
            for stale OpenAI clients in this session).
        offline: skip the network check (one free `GET /models` to the base URL with the key).
    """
    return Findings(run(project_dir, env_file, environ, offline=offline).findings)


def doctor(
    project_dir: StrPath | None = None,
    env_file: StrPath | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    offline: bool = False,
) -> Findings:
    """Print the doctor's report for this session and return the findings (for notebooks)."""
    report = run(project_dir, env_file, environ, offline=offline)
    print(report.to_text())
    return Findings(report.findings)


class _CallableModule(types.ModuleType):
    """Calling the package runs `doctor()`.

    `keylab/__init__.py` exports the function `doctor`, but once anything imports the subpackage
    `keylab.doctor` (load_env() does), the import system binds that name on `keylab` to this
    package instead. Making the package callable keeps `from keylab import doctor; doctor()`
    working in either order.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Findings:
        return doctor(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

__all__ = ["PROBLEMS", "Finding", "Findings", "Problem", "Report", "diagnose", "doctor", "run"]

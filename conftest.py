"""Test-session set-up shared by the unit tests and the notebook runs (nbval).

Before any notebook kernel starts, the session enters `keylab.testing.course_environment()`: a
temporary keylab home, a sandbox on a free port, a funded account and a temporary `.env`. Kernels
inherit this process's environment, so the notebooks load that `.env` (through KEYLAB_ENV_FILE)
and never see the learner's real `.env`, sandbox or progress.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import pytest

from keylab.testing import STUDENT_ENV_VAR, course_environment, isolate_environ

ROOT = Path(__file__).resolve().parent
_STACK = contextlib.ExitStack()
_ENVIRON: dict[str, str] = {}  # the environment notebook kernels must start with


def pytest_configure(config: pytest.Config) -> None:
    if getattr(config.option, "nbval", False) or getattr(config.option, "nbval_lax", False):
        student_env = os.environ.get(STUDENT_ENV_VAR)  # tests/test_class_lessons.py: as a class student
        _STACK.enter_context(course_environment(Path(student_env) if student_env else None))
        _ENVIRON.update(os.environ)
    else:
        isolate_environ(Path(_STACK.enter_context(tempfile.TemporaryDirectory(prefix="keylab-test-home-"))))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Each notebook's kernel starts from the session's clean environment, whatever ran before it."""
    if item.path.suffix == ".ipynb" and _ENVIRON:
        os.environ.clear()
        os.environ.update(_ENVIRON)


def pytest_collectstart(collector: pytest.Collector) -> None:
    """Labs are generated without outputs: run them, but compare no outputs (nbval-lax per folder)."""
    path = getattr(collector, "path", None)
    if path is not None and path.suffix == ".ipynb" and (ROOT / "labs") in path.parents:
        collector.compare_outputs = False  # type: ignore[attr-defined]


def pytest_unconfigure(config: pytest.Config) -> None:
    _STACK.close()

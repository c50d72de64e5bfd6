"""A throwaway course environment: what the test session and the notebook runner both use.

`course_environment()` points keylab at a temporary home, starts a sandbox on a free port with a
temporary data dir, creates a funded account and writes a temporary `.env` for it, then exports
KEYLAB_HOME and KEYLAB_ENV_FILE. Notebook kernels started inside inherit that environment, so a
notebook under test loads the temporary `.env` and never the learner's real one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TEST_CREDIT_USD = "5"
TEST_EMAIL = "learner@example.com"


@dataclass(frozen=True)
class CourseEnvironment:
    home: Path
    env_file: Path
    base_url: str
    account: dict[str, Any]


def isolate_environ(home: Path) -> None:
    """Drop every OPENAI_* and KEYLAB_* variable, then point KEYLAB_HOME at `home`."""
    for name in list(os.environ):
        if name.startswith(("OPENAI_", "KEYLAB_")):
            del os.environ[name]
    os.environ["KEYLAB_HOME"] = str(home)


# Set by a test that runs notebooks as a class student: the student's `.env` (a class sandbox's
# address and key). The session then starts no sandbox of its own (see `course_environment`).
STUDENT_ENV_VAR = "KEYLAB_TEST_STUDENT_ENV"


@contextmanager
def course_environment(student_env: Path | None = None) -> Iterator[CourseEnvironment]:
    """Yield a running sandbox, a funded account and a `.env` for it; clean up afterwards.

    student_env: instead, a class student's `.env` for a class sandbox already running elsewhere:
    no sandbox is started, and this home has no operator token, as on a student's laptop.
    """
    saved = dict(os.environ)
    home = Path(tempfile.mkdtemp(prefix="keylab-course-"))
    isolate_environ(home)
    os.environ["PYTHONHASHSEED"] = "0"  # kernels print sets of strings in the same order every run
    os.environ.setdefault("JUPYTER_PLATFORM_DIRS", "1")  # no jupyter_core deprecation warning in kernels
    try:
        if student_env is not None:
            env_file = home / "course.env"  # where the session's own .env would be: outputs name the same path
            shutil.copyfile(student_env, env_file)
            env_file.chmod(0o600)
            os.environ["KEYLAB_ENV_FILE"] = str(env_file)
            from dotenv import dotenv_values

            yield CourseEnvironment(home, env_file, str(dotenv_values(env_file)["OPENAI_BASE_URL"]), {})
            return
        with _sandbox_account(home) as (base_url, env_file, account):
            os.environ["KEYLAB_ENV_FILE"] = str(env_file)
            yield CourseEnvironment(home, env_file, base_url, account)
    finally:
        os.environ.clear()
        os.environ.update(saved)
        shutil.rmtree(home, ignore_errors=True)


@contextmanager
def _sandbox_account(home: Path) -> Iterator[tuple[str, Path, dict[str, Any]]]:
    """A sandbox on a free port with its data in `home`, a funded account, and a `.env` for it."""
    from keylab.sandbox import serve_in_background
    from keylab.sandbox.client import ControlClient

    server = serve_in_background(home / "sandbox")
    try:
        account = ControlClient(server.url, server.operator_token).create_account(
            credits_usd=TEST_CREDIT_USD, email=TEST_EMAIL
        )
        env_file = home / "course.env"
        env_file.write_text(f"OPENAI_API_KEY={account['api_key']}\nOPENAI_BASE_URL={server.base_url}\n")
        env_file.chmod(0o600)
        yield server.base_url, env_file, account
    finally:
        server.stop()

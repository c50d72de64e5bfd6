"""Test-session set-up shared by the unit tests and the notebook runs (nbval).

Before any notebook kernel starts, the session points keylab at a temporary home, starts a
sandbox on a free port with a temporary data dir, creates a funded account and writes a temporary
`.env` for it. Kernels inherit this process's environment, so the notebooks load that `.env`
(through KEYLAB_ENV_FILE) and never see the learner's real `.env`, sandbox or progress.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
_SESSION: dict[str, object] = {}


def _isolate_environment() -> Path:
    home = Path(tempfile.mkdtemp(prefix="keylab-test-home-"))
    for name in list(os.environ):
        if name.startswith(("OPENAI_", "KEYLAB_")):
            del os.environ[name]
    os.environ["KEYLAB_HOME"] = str(home)
    os.environ["PYTHONHASHSEED"] = "0"
    os.environ.setdefault("JUPYTER_PLATFORM_DIRS", "1")
    return home


def pytest_configure(config: pytest.Config) -> None:
    home = _isolate_environment()
    _SESSION["home"] = home
    if not (config.option.nbval or config.option.nbval_lax):
        return
    from keylab.sandbox import serve_in_background
    from keylab.sandbox.client import ControlClient

    server = serve_in_background(home / "sandbox")
    _SESSION["server"] = server
    account = ControlClient(server.url, server.operator_token).create_account(
        credits_usd="5", email="learner@example.com"
    )
    env_file = home / "course.env"
    env_file.write_text(f"OPENAI_API_KEY={account['api_key']}\nOPENAI_BASE_URL={server.base_url}\n")
    env_file.chmod(0o600)
    os.environ["KEYLAB_ENV_FILE"] = str(env_file)


def pytest_collectstart(collector: pytest.Collector) -> None:
    """Labs are generated without outputs: run them, but compare no outputs (nbval-lax per folder)."""
    path = getattr(collector, "path", None)
    if path is not None and path.suffix == ".ipynb" and (ROOT / "labs") in path.parents:
        collector.compare_outputs = False  # type: ignore[attr-defined]


def pytest_unconfigure(config: pytest.Config) -> None:
    server = _SESSION.pop("server", None)
    if server is not None:
        server.stop()  # type: ignore[attr-defined]
    home = _SESSION.pop("home", None)
    if home is not None:
        shutil.rmtree(home, ignore_errors=True)  # type: ignore[arg-type]

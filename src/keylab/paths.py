"""Where keylab keeps the learner's local state, in one place.

Everything lives under one folder, `KEYLAB_HOME` (default: `.keylab/` in the course checkout
when there is one, else `~/.keylab`). It is git-ignored. Tests point `KEYLAB_HOME` at a temporary
directory so they never see a learner's real sandbox or progress.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

PORT_VAR = "KEYLAB_SANDBOX_PORT"
DEFAULT_PORT = 8765


def course_root() -> Path | None:
    """The course checkout keylab is running from (the folder with `notebooks/`), if any.

    `KEYLAB_COURSE_ROOT` overrides the search (tests use it to point at a temporary course).
    """
    override = os.environ.get("KEYLAB_COURSE_ROOT")
    if override:
        return Path(override).expanduser().resolve()
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "notebooks").is_dir() and (parent / "pyproject.toml").is_file():
            return parent
    cwd = Path.cwd().resolve()
    for parent in (cwd, *cwd.parents):
        if (parent / "notebooks").is_dir() and (parent / "pyproject.toml").is_file():
            return parent
    return None


def keylab_home() -> Path:
    """The folder that holds sandbox data and progress; created on first use."""
    env = os.environ.get("KEYLAB_HOME")
    if env:
        home = Path(env).expanduser()
    else:
        root = course_root()
        home = root / ".keylab" if root else Path.home() / ".keylab"
    home.mkdir(parents=True, exist_ok=True)
    return home


def sandbox_port(environ: Mapping[str, str] | None = None) -> int:
    """The loopback port of this user's sandbox: $KEYLAB_SANDBOX_PORT, else 8765 (one port for
    `keylab start` and JupyterLab's launcher entry, keylab.hub.proxy)."""
    value = (os.environ if environ is None else environ).get(PORT_VAR, "")
    return int(value) if value.strip().isdigit() else DEFAULT_PORT


def sandbox_data_dir() -> Path:
    """Default data dir of the sandbox (SQLite database, operator token, key salt)."""
    return keylab_home() / "sandbox"


def progress_file() -> Path:
    """The learner's lab progress (git-ignored)."""
    return keylab_home() / "progress.json"

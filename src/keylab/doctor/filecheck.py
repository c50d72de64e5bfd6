"""Checks on the `.env` file itself: is git about to publish it, can other users read it.

git is run as a subprocess with a timeout. No git, no repository, a repository git refuses to
read: each becomes a note in the report instead of an error, because the learner's key is not
at risk from git in those cases.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

from keylab.doctor.finding import Finding

GIT_TIMEOUT = 10.0
IS_WINDOWS = os.name == "nt"
# Variables that would point git at another repository (set inside git hooks, for example).
_GIT_REDIRECTS = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR")


class _GitUnavailable(Exception):
    """git could not answer; the message is a note for the report."""


def _git(args: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in _GIT_REDIRECTS}
    env.update(GIT_TERMINAL_PROMPT="0", GIT_OPTIONAL_LOCKS="0", LC_ALL="C")
    try:
        return subprocess.run(
            ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False,
        )
    except FileNotFoundError as exc:
        raise _GitUnavailable("Skipped the git checks: git is not installed (or not on PATH).") from exc
    except subprocess.TimeoutExpired as exc:
        raise _GitUnavailable(f"Skipped the git checks: git did not answer within {timeout:g} s.") from exc
    except OSError as exc:
        raise _GitUnavailable(f"Skipped the git checks: could not run git ({exc.strerror}).") from exc


def check_git(env_path: Path, timeout: float = GIT_TIMEOUT) -> tuple[list[Finding], list[str]]:
    """KD018 when `.env` is tracked, KD019 when it is in a repository but not ignored."""
    folder, name = env_path.parent, env_path.name
    try:
        top = _git(["rev-parse", "--show-toplevel"], folder, timeout)
        if top.returncode != 0:
            if "dubious ownership" in top.stderr or "safe.directory" in top.stderr:
                return [], [f"Skipped the git checks: git refuses to read the repository at {folder} "
                            "(it belongs to another user; see `git config safe.directory`)."]
            return [], [f"Skipped the git checks: {folder} is not inside a git repository."]
        repo = top.stdout.strip()
        tracked = _git(["ls-files", "--error-unmatch", "--", name], folder, timeout)
        if tracked.returncode == 0:
            return [Finding.of("KD018", f"{env_path} is tracked in the git repository at {repo}.",
                               path=str(env_path))], []
        ignored = _git(["check-ignore", "-q", "--", name], folder, timeout)
    except _GitUnavailable as exc:
        return [], [str(exc)]
    if ignored.returncode == 1:
        return [Finding.of("KD019", f"{env_path} is in the git repository at {repo} and no .gitignore "
                           "rule covers it.", path=str(env_path))], []
    if ignored.returncode != 0:
        return [], ["Skipped the .gitignore check: `git check-ignore` failed."]
    return [], []


def check_permissions(env_path: Path) -> tuple[list[Finding], list[str]]:
    """KD020 when the group or others may read or write `.env` (POSIX only)."""
    if IS_WINDOWS:
        return [], ["Skipped the file-permission check: Windows does not use POSIX permission bits; "
                    "keep .env inside your user folder."]
    try:
        mode = stat.S_IMODE(env_path.stat().st_mode)
    except OSError as exc:
        return [], [f"Skipped the file-permission check: {exc.strerror}."]
    if mode & 0o077:
        return [Finding.of("KD020", f"{env_path} has permissions {mode:o} "
                           f"({stat.filemode(mode)[1:]}); only you should read it (600).",
                           path=str(env_path), mode=f"{mode:o}")], []
    return [], []

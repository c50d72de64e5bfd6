#!/usr/bin/env python3
"""The course's commands, each doing its own set-up:

    python3 course.py start       # the sandbox, then JupyterLab on the first lesson
    python3 course.py test        # the whole test suite
    python3 course.py progress    # any other `keylab` command runs in the course's environment:
    python3 course.py doctor      #   progress, doctor, sandbox, labs … (`python3 course.py --help`)

(On Windows: `py course.py start`, and so on.) Each creates `.venv/` (an isolated environment) on
first use and installs `requirements.txt` into it; they reinstall only when requirements.txt or
pyproject.toml changed, so running them again is quick. Only the standard library is used here,
because nothing is installed yet.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".keylab-requirements"
MIN_PYTHON = (3, 10)

TEST_STEPS: list[tuple[str, list[str]]] = [
    ("lint", ["-m", "ruff", "check", "src", "tests", "bench", "tools", "course.py", "conftest.py"]),
    ("labs are current", ["-m", "keylab", "labs", "check"]),
    ("tests and notebooks", [
        "-m", "pytest", "tests", "notebooks", "solutions", "labs",
        "--nbval", "--nbval-current-env", "--nbval-sanitize-with", "tests/nbval_sanitize.cfg",
        "--nbval-cell-timeout", "120", "-p", "no:randomly", "-q",
    ]),
]


def _python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _requirements_digest() -> str:
    digest = hashlib.sha256()
    for name in ("requirements.txt", "pyproject.toml"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def ensure_environment() -> Path:
    """Create .venv and install the course's packages when missing or out of date."""
    if sys.version_info < MIN_PYTHON:
        sys.exit(f"keylab needs Python {'.'.join(map(str, MIN_PYTHON))} or newer; this is {sys.version.split()[0]}. "
                 "Install a newer Python from https://www.python.org/downloads/ and run this again.")
    python = _python()
    if not python.exists():
        print("Creating the course's environment in .venv/ …", flush=True)
        try:
            venv.EnvBuilder(with_pip=True, clear=VENV.exists()).create(VENV)
        except (OSError, subprocess.CalledProcessError) as error:
            sys.exit(f"Could not create .venv ({error}). On Debian or Ubuntu, install python3-venv first: "
                     "sudo apt install python3-venv")
    digest = _requirements_digest()
    if not STAMP.exists() or STAMP.read_text().strip() != digest:
        print("Installing the course's packages (first run, or requirements changed) …", flush=True)
        subprocess.check_call([str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], cwd=ROOT)
        subprocess.check_call([str(python), "-m", "pip", "install", "--quiet", "-r", "requirements.txt"], cwd=ROOT)
        STAMP.write_text(digest + "\n")
    return python


def run_tests(python: Path, extra: list[str]) -> int:
    for title, args in TEST_STEPS:
        print(f"== {title}", flush=True)
        if args[:2] == ["-m", "pytest"]:
            args = args + extra
        code = subprocess.call([str(python), *args], cwd=ROOT)
        # pytest's 5 means "no tests collected": that is a failure for a suite that must run.
        if code != 0:
            print(f"== {title}: FAILED (exit {code})", flush=True)
            return code or 1
    return 0


def run_keylab(python: Path, args: list[str]) -> int:
    """`keylab ARGS…` inside .venv, from the current folder, with .venv's commands first on PATH."""
    env = dict(os.environ)
    env["PATH"] = str(python.parent) + os.pathsep + env.get("PATH", "")
    env["VIRTUAL_ENV"] = str(VENV)
    return subprocess.call([str(python), "-m", "keylab", *args], env=env)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(__doc__)
        if argv:  # the keylab commands this passes on
            return run_keylab(ensure_environment(), ["--help"])
        return 2
    python = ensure_environment()
    command, extra = argv[0], argv[1:]
    if command == "start":
        return subprocess.call([str(python), "-m", "keylab", "start", *extra], cwd=ROOT)
    if command == "test":
        return run_tests(python, extra)
    return run_keylab(python, argv)


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)

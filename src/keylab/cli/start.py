"""`keylab start`: the sandbox, a `.env` that points at it on first run, then JupyterLab on lesson 00.

The sandbox runs as a child process on port 8765 (reused when one already answers there) and
stops when JupyterLab does. If the course folder has no `.env`, one is written from `.env.example`
with a fresh sandbox key, so the first lesson works at once; a learner who wants the real API edits
that file (lesson 02 shows how) and nothing else.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import IO

from keylab.keys import mask
from keylab.paths import sandbox_port

STARTER_CREDIT = Decimal("5")
FIRST_NOTEBOOK = "notebooks/00-welcome.ipynb"
READY_LINE = "Sandbox running."  # `--no-lab` prints it once ready; keylab.hub.singleuser waits for it


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("start", help="start the sandbox and open the course in JupyterLab")
    parser.add_argument("--port", type=int, default=sandbox_port(),
                        help="sandbox port (default $KEYLAB_SANDBOX_PORT or 8765; 0 picks a free one)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser window")
    parser.add_argument("--no-lab", action="store_true", help="start only the sandbox (for a classroom server)")
    parser.set_defaults(handler=_start)


def _start_sandbox(port: int, data_dir: Path) -> tuple[str, subprocess.Popen[bytes] | None]:
    from keylab import sandbox_probe

    url = f"http://127.0.0.1:{port}"
    if sandbox_probe.answers_as_sandbox(url, timeout=0.5):
        print(f"Using the keylab sandbox already running at {url}/v1")
        return url, None
    process = subprocess.Popen(
        [sys.executable, "-m", "keylab", "sandbox", "--port", str(port), "--data", str(data_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    assert process.stdout is not None
    first = process.stdout.readline().decode().strip()
    if not first.startswith("keylab sandbox listening on"):
        rest = process.stdout.read().decode() if process.poll() is not None else ""
        raise SystemExit(f"The sandbox did not start:\n{first}\n{rest}")
    print(first)
    url = first.rsplit(" ", 1)[-1].removesuffix("/v1")  # the real port, also when --port 0 was asked
    # Keep relaying the sandbox's messages so its pipe never fills up and blocks it.
    threading.Thread(target=_relay, args=(process.stdout,), daemon=True).start()
    return url, process


def _relay(stream: IO[bytes]) -> None:
    for line in stream:
        sys.stdout.write(line.decode(errors="replace"))
        sys.stdout.flush()


def _write_env(root: Path, base_url: str, data_dir: Path) -> None:
    """Create `.env` from `.env.example` with a new sandbox account's key, if there is no `.env` yet."""
    from keylab.sandbox.accounts import create_account
    from keylab.sandbox.clock import Clock
    from keylab.sandbox.store import Store

    env_file = root / ".env"
    if env_file.exists():
        _check_existing_env(env_file, base_url, data_dir)
        return
    with Store(data_dir) as store:
        account = create_account(store, Clock(store), credits_usd=STARTER_CREDIT)
    example = root / ".env.example"
    lines = example.read_text().splitlines() if example.exists() else ["OPENAI_API_KEY=", "OPENAI_BASE_URL="]
    lines = [line for line in lines if not line.startswith("# Copy this file")]
    lines.insert(0, "# Written by `keylab start` for the sandbox. Never commit this file (it is in .gitignore).")
    values = {"OPENAI_API_KEY": account.api_key, "OPENAI_BASE_URL": base_url}
    out = []
    for line in lines:
        name = line.split("=", 1)[0].strip()
        out.append(f"{name}={values.pop(name)}" if name in values else line)
    out.extend(f"{name}={value}" for name, value in values.items())
    fd = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("\n".join(out) + "\n")
    print(f"Wrote {env_file} with a new sandbox key ({mask(account.api_key)}) and ${STARTER_CREDIT} of sandbox credit.")


def _check_existing_env(env_file: Path, base_url: str, data_dir: Path) -> None:
    """An existing `.env` that points at another sandbox address, or holds a sandbox key this
    sandbox never issued (its data was reset): say what to do, and change nothing.
    A `.env` that cannot be read (not UTF-8, say) is left to `keylab doctor`."""
    from dotenv import dotenv_values

    from keylab.environment import is_loopback_url
    from keylab.keys import KeyKind, classify
    from keylab.sandbox.accounts import find_key
    from keylab.sandbox.clock import Clock
    from keylab.sandbox.store import Store

    try:
        values = dotenv_values(env_file, interpolate=True)  # what load_env() will read
    except (OSError, UnicodeDecodeError):
        return
    key = values.get("OPENAI_API_KEY") or ""
    url = (values.get("OPENAI_BASE_URL") or "").rstrip("/")
    if url and is_loopback_url(url) and url != base_url:
        print(
            f"Note: {env_file} sends requests to {url}, but the sandbox now runs at {base_url}. "
            f"Put OPENAI_BASE_URL={base_url} in .env, or start with the port .env names "
            "(`keylab start --port PORT`)."
        )
    if classify(key).kind is not KeyKind.SANDBOX:
        return
    with Store(data_dir) as store:
        known = find_key(store, Clock(store), key) is not None
    if not known:
        print(
            f"Note: the sandbox key in {env_file} ({mask(key)}) is not known to this sandbox (its data in "
            f"{data_dir} was reset or is new), so calls with it will answer 401. Create a new one with "
            "`keylab sandbox account create --credits 5` and put it in .env, or delete .env and run "
            "`keylab start` again to get a fresh one."
        )


def _copy_labs(root: Path) -> None:
    """The learner's working copies of the labs (`my-labs/`), made when missing, never overwritten."""
    from keylab.labs.workspace import WORK_DIR, describe, ensure_working_copies

    try:
        results = ensure_working_copies(root / "labs", root / WORK_DIR)
    except OSError as error:
        print(f"Note: could not make your working copies of the labs in {WORK_DIR}/ ({error}); "
              "the lessons' links to them will not work until `python3 course.py labs copy` succeeds.")
        return
    for line in describe(results, root):
        print(line)


def _start(args: argparse.Namespace) -> int:
    from keylab.paths import course_root, sandbox_data_dir

    # A terminal closing or `kill` sends SIGTERM: leave through `finally`, so the sandbox stops too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    root = course_root() or Path.cwd()
    data_dir = sandbox_data_dir()
    url, process = _start_sandbox(args.port, data_dir)
    try:
        _write_env(root, f"{url}/v1", data_dir)
        _copy_labs(root)
        if args.no_lab:
            print(f"{READY_LINE} Press Ctrl-C to stop.")
            while process is None or process.poll() is None:
                time.sleep(1)
            return 0
        from keylab.cli.lab import run_lab
        from keylab.paths import keylab_home

        return run_lab(root, FIRST_NOTEBOOK, url, keylab_home() / "jupyter", no_browser=args.no_browser)
    except KeyboardInterrupt:
        return 0
    finally:
        if process is not None:
            from keylab.processes import stop

            stop(process, timeout=5)

"""A JupyterHub user's server with the course in sandbox mode: `python -m keylab.hub.singleuser`.

Set it as the spawner's command (`c.Spawner.cmd = ["python", "-m", "keylab.hub.singleuser"]`). It
runs `keylab start --no-lab` (this user's sandbox on 127.0.0.1:$KEYLAB_SANDBOX_PORT, and a `.env`
with a sandbox key when the course folder has none), waits until that is ready, then runs
`jupyterhub-singleuser` with the arguments it was given; when the user's server stops, so does
their sandbox. Each user gets their own sandbox, data dir and key: their calls land in their own
account. On one machine shared by many users (The Littlest JupyterHub), give each user their own
port through the spawner's environment (see docs/instructors.md).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from typing import IO

READY_LINE = "Sandbox running."
START_TIMEOUT_S = 60.0


def start_sandbox() -> subprocess.Popen[bytes]:
    """`keylab start --no-lab` in a child process; returns once its sandbox answers and `.env` exists."""
    process = subprocess.Popen([sys.executable, "-m", "keylab", "start", "--no-lab"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert process.stdout is not None
    deadline = time.monotonic() + START_TIMEOUT_S
    for raw in process.stdout:
        line = raw.decode(errors="replace").rstrip()
        print(f"[keylab] {line}", file=sys.stderr, flush=True)
        if line.startswith(READY_LINE) or time.monotonic() > deadline:
            break
    threading.Thread(target=_relay, args=(process.stdout,), daemon=True).start()
    return process


def _relay(stream: IO[bytes]) -> None:
    for raw in stream:
        print(f"[keylab] {raw.decode(errors='replace').rstrip()}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    sandbox = start_sandbox()
    server = subprocess.Popen([sys.executable, "-m", "jupyterhub.singleuser", *args])

    def forward(signum: int, _frame: object) -> None:
        server.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    try:
        return server.wait()
    finally:
        sandbox.terminate()
        try:
            sandbox.wait(timeout=10)
        except subprocess.TimeoutExpired:
            sandbox.kill()


if __name__ == "__main__":
    sys.exit(main())

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

import os
import signal
import subprocess
import sys
import threading
from typing import IO

from keylab.cli.start import READY_LINE
from keylab.processes import stop
from keylab.sandbox.hosts import ALLOWED_HOSTS_VAR, ANY_HOST

START_TIMEOUT_S = 60.0


def start_sandbox() -> subprocess.Popen[bytes]:
    """`keylab start --no-lab` in a child process; returns once its sandbox answers and `.env` exists
    (or after START_TIMEOUT_S: the user's server starts anyway, and the lessons say what is wrong)."""
    process = subprocess.Popen([sys.executable, "-u", "-m", "keylab", "start", "--no-lab"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               env={**os.environ, ALLOWED_HOSTS_VAR: ANY_HOST})  # behind the hub's proxy
    assert process.stdout is not None
    ready = threading.Event()
    threading.Thread(target=_relay, args=(process.stdout, ready), daemon=True).start()
    ready.wait(START_TIMEOUT_S)
    return process


def _relay(stream: IO[bytes], ready: threading.Event) -> None:
    """Copy the sandbox's messages into the server's log (so its pipe never fills up)."""
    for raw in stream:
        line = raw.decode(errors="replace").rstrip()
        print(f"[keylab] {line}", file=sys.stderr, flush=True)
        if line.startswith(READY_LINE):
            ready.set()
    ready.set()  # the child ended: do not wait for it


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
        stop(sandbox)


if __name__ == "__main__":
    sys.exit(main())

"""Stopping child processes (a sandbox, JupyterLab, a hub server) the same way everywhere."""

from __future__ import annotations

import subprocess
from typing import Any


def stop(process: subprocess.Popen[Any], timeout: float = 10.0) -> None:
    """Ask `process` to end (SIGTERM: servers shut down cleanly), and kill it if it is still there
    after `timeout` seconds. Does nothing to a process that has already ended."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()

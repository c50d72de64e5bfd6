"""The jupyter-server-proxy entry `keylab` (registered in pyproject.toml).

JupyterLab's launcher then shows "keylab sandbox"; it opens `<notebook server>/keylab/`, which the
notebook server proxies to the sandbox on this machine's loopback port `KEYLAB_SANDBOX_PORT`
(default 8765), the same port `keylab start --no-lab` serves and writes into `.env`, so the
learner's code (OPENAI_BASE_URL=http://127.0.0.1:PORT/v1) and the dashboard in the browser meet the
same sandbox. Only a logged-in user of that notebook server gets through the proxy. The prefix is
stripped by the proxy and put back into links by `keylab.sandbox.proxied`.

If no sandbox answers on the port when the launcher is first opened, the proxy starts one
(`python -m keylab.hub.proxy`): it runs the sandbox in the foreground on the course's data dir, or
stays idle while the sandbox that `keylab start --no-lab` began keeps answering.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path
from typing import Any

from keylab.paths import sandbox_port
from keylab.sandbox.hosts import ALLOWED_HOSTS_VAR, ANY_HOST

ICON = Path(__file__).with_name("keylab.svg")


def setup_keylab() -> dict[str, Any]:
    """jupyter-server-proxy's settings for the `keylab` entry."""
    return {
        "command": [sys.executable, "-m", "keylab.hub.proxy", "--port", "{port}"],
        "port": sandbox_port(),
        "timeout": 30,
        "absolute_url": False,  # the sandbox sees /dashboard, /v1/…; the prefix comes in X-Forwarded-Context
        # The browser's Host is the hub's name: the sandbox behind the hub's login answers any host.
        "environment": {ALLOWED_HOSTS_VAR: ANY_HOST},
        "new_browser_tab": True,
        "launcher_entry": {"title": "keylab sandbox", "icon_path": str(ICON), "category": "Notebook"},
    }


def _health(port: int) -> bool:
    from keylab import sandbox_probe

    return sandbox_probe.answers_as_sandbox(f"http://127.0.0.1:{port}", timeout=1.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m keylab.hub.proxy",
                                     description="Serve (or keep using) this user's sandbox for the JupyterLab proxy.")
    parser.add_argument("--port", type=int, default=sandbox_port())
    args = parser.parse_args(argv)
    if _health(args.port):
        print(f"keylab: using the sandbox already running on 127.0.0.1:{args.port}", flush=True)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        while _health(args.port):
            time.sleep(5)
        return 0
    from keylab.paths import sandbox_data_dir
    from keylab.sandbox.server import run_foreground

    return run_foreground(sandbox_data_dir(), "127.0.0.1", args.port)


if __name__ == "__main__":
    sys.exit(main())

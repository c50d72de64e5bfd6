"""`keylab sandbox open`: print the sandbox dashboard's URL and open it in a browser when there is one."""

from __future__ import annotations

import argparse
import os
import sys


def register(actions: argparse._SubParsersAction) -> None:
    parser = actions.add_parser(
        "open", help="print the URL of the sandbox's platform dashboard and open it in your browser",
        description="Print the URL of the dashboard (sign up, API keys, billing, limits, usage, outbox) of the "
                    "sandbox running on this machine, and open it in a browser if one is available.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address of the running sandbox (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port of the running sandbox (default 8765)")
    parser.add_argument("--no-browser", action="store_true", help="only print the URL")
    parser.set_defaults(handler=_open)


def dashboard_url(host: str, port: int) -> str:
    from keylab.sandbox.server import _url  # in the handler: `keylab --help` stays light

    return _url(host, port) + "/"


def browser_available() -> bool:
    """A browser can be shown: on Linux and the BSDs only inside a graphical session."""
    if sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            return False
    import webbrowser

    try:
        webbrowser.get()
    except webbrowser.Error:
        return False
    return True


def _running(url: str) -> bool:
    import httpx

    try:
        return httpx.get(url + "sandbox/health", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def _open(args: argparse.Namespace) -> int:
    url = dashboard_url(args.host, args.port)
    print(f"Sandbox dashboard: {url}")
    if not _running(url):
        print(f"No sandbox answers on {args.host}:{args.port}. Start one in another terminal with "
              f"`keylab sandbox --port {args.port}`, then open the URL above.", file=sys.stderr)
        return 1
    if args.no_browser:
        return 0
    if not browser_available():
        print("No browser is available here (no graphical session): open the URL above yourself.")
        return 0
    import webbrowser

    if not webbrowser.open(url):
        print("The browser could not be started: open the URL above yourself.")
    return 0

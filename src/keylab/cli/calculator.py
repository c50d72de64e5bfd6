"""`keylab calculator`: the cost calculator as a page of its own (Voilà), for a workshop screen or
someone who does not code. The first line printed is the page's address.

Voilà runs a notebook and shows only its outputs: here a two-cell notebook written to a temporary
folder, whose code cell builds `keylab.widgets.CostCalculator` and `ModelComparison`. The widgets
run in a kernel on this machine; the page binds to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO

from keylab.processes import stop

PAGE_TITLE = "What will it cost? (keylab)"
START_TIMEOUT_S = 60.0

CELL = """\
from IPython.display import display
from keylab.widgets import CostCalculator, ModelComparison

calculator = CostCalculator(prompt="Summarise this support ticket in two sentences.", output_tokens=150)
comparison = ModelComparison()
display(calculator, comparison)
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("calculator", help="serve the cost calculator as a web page (Voilà)")
    parser.add_argument("--port", type=int, default=8866, help="port (default 8866; 0 picks a free one)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser window")
    parser.set_defaults(handler=_serve)


def write_page(folder: Path) -> Path:
    """The notebook Voilà shows: a title and the widgets (sources hidden by Voilà)."""
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [
        nbformat.v4.new_markdown_cell(f"# {PAGE_TITLE}\n\nChoose a model, paste a typical prompt and say how "
                                      "many requests a day you expect: the cost per request, per day and per "
                                      "month follows as you type."),
        nbformat.v4.new_code_cell(CELL),
    ]
    path = folder / "calculator.ipynb"
    nbformat.write(notebook, path)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(url: str) -> bool:
    import urllib.error  # here, not at the top: `keylab --help` imports every subcommand module
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 (loopback)
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


def _pump(source: IO[bytes], target: IO[str], gate: threading.Event) -> None:
    """Pass Voilà's log lines on, but only once the address line is out (it must come first).

    Lines held back are passed on once the gate opens, even when Voilà has exited first (it failed to
    start: its messages say why)."""
    held: list[str] = []

    def flush_held() -> None:
        for old in held:
            target.write(old)
        held.clear()

    for raw in iter(source.readline, b""):
        line = raw.decode(errors="replace")
        if not gate.is_set():
            held.append(line)
            continue
        flush_held()
        target.write(line)
        target.flush()
    if held:
        gate.wait()
        flush_held()
        target.flush()


def _serve(args: argparse.Namespace) -> int:
    try:
        import voila  # noqa: F401
    except ImportError:
        print("Voilà is not installed in this environment. Run `python3 course.py start` once (it installs the "
              "course's packages), or `pip install voila`, then try again.", file=sys.stderr)
        return 1
    port = args.port or free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {**os.environ, "JUPYTER_PLATFORM_DIRS": "1"}
    with tempfile.TemporaryDirectory(prefix="keylab-calculator-") as folder:
        page = write_page(Path(folder))
        command = [sys.executable, "-m", "voila", str(page), f"--port={port}", "--Voila.ip=127.0.0.1",
                   "--no-browser", "--Voila.port_retries=0", "--theme=light"]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                                   cwd=folder)
        gate = threading.Event()
        assert process.stdout is not None
        pump = threading.Thread(target=_pump, args=(process.stdout, sys.stderr, gate), daemon=True)
        pump.start()
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while not _answers(url):
                if process.poll() is not None or time.monotonic() > deadline:
                    gate.set()
                    process.kill()
                    process.wait()
                    pump.join(timeout=10)  # Voilà's output ends with its exit: all of it is out now
                    print(f"The calculator page did not start on port {port}; Voilà's messages are above. "
                          "Is the port taken? Try `keylab calculator --port 0`.", file=sys.stderr)
                    return 1
                time.sleep(0.1)
            print(f"keylab calculator at {url}", flush=True)
            print("Press Ctrl+C to stop.", flush=True)
            gate.set()
            if not args.no_browser:
                import webbrowser

                webbrowser.open(url)
            return process.wait()
        except KeyboardInterrupt:
            return 0
        finally:
            stop(process)

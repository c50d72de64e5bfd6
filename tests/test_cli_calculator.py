"""`keylab calculator`: a Voilà page on loopback whose first printed line is its address."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from collections.abc import Iterator

import pytest

from keylab.cli.calculator import free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def calculator() -> Iterator[str]:
    """The page's address, from the command's first line; the server is stopped afterwards."""
    process = subprocess.Popen([sys.executable, "-m", "keylab", "calculator", "--port", str(free_port()),
                                "--no-browser"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        first = process.stdout.readline().strip()
        assert first.startswith("keylab calculator at http://127.0.0.1:"), first
        yield first.rsplit(" ", 1)[1]
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_first_line_is_the_address_and_the_page_answers(calculator: str) -> None:
    with urllib.request.urlopen(calculator, timeout=60) as response:  # noqa: S310 (loopback)
        page = response.read().decode()
    assert response.status == 200
    assert "What will it cost?" in page
    assert "application/vnd.jupyter.widget-view+json" in page  # the widgets' outputs, rendered by the browser


def test_a_taken_port_is_explained() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "keylab", "calculator", "--port", str(port), "--no-browser"],
                                capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "keylab calculator --port 0" in result.stderr
    # Voilà's own messages (held back while the address line was awaited) come out, above the advice.
    assert "[Voila]" in result.stderr
    assert result.stderr.index("[Voila]") < result.stderr.index("Voilà's messages are above")


def test_lines_held_back_come_out_when_the_source_ends_before_the_gate_opens() -> None:
    import io
    import threading

    from keylab.cli.calculator import _pump

    target = io.StringIO()
    gate = threading.Event()
    pump = threading.Thread(target=_pump, args=(io.BytesIO(b"[Voila] one\n[Voila] two\n"), target, gate))
    pump.start()
    assert target.getvalue() == ""  # held: the address line has not gone out yet
    gate.set()
    pump.join(timeout=5)
    assert target.getvalue() == "[Voila] one\n[Voila] two\n"

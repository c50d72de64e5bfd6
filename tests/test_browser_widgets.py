"""The cost widgets in a real (headless) Chromium: lesson 05 in JupyterLab, and the Voilà calculator page.

JupyterLab runs on loopback over a copy of lesson 05 (autosave never touches the committed notebook), with
the test session's own sandbox and `.env` (keylab.testing.course_environment); Voilà runs through
`keylab calculator`. Needs Debian's Chromium at /usr/bin/chromium (`apt-get install chromium`), like the
dashboard's browser tests; skips without it.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from test_browser import ARTIFACTS, ROOT, chromium_page
from test_cli_calculator import calculator  # noqa: F401 - the Voilà page fixture

from keylab.cli.calculator import free_port
from keylab.processes import stop

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LESSON = ROOT / "notebooks" / "05-what-will-it-cost.ipynb"
CALCULATOR = ".keylab-cost-calculator"


@pytest.fixture
def browser(request: pytest.FixtureRequest) -> Iterator[object]:
    with chromium_page(request, name=request.node.name, timeout_ms=60_000,
                       viewport={"width": 1280, "height": 900}) as page:
        yield page


def _wait_for(url: str, process: subprocess.Popen[bytes], seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (loopback)
                return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {seconds} s")


@pytest.fixture
def jupyterlab(tmp_path: Path) -> Iterator[str]:
    """JupyterLab on 127.0.0.1 over a copy of lesson 05, with a sandbox and `.env` of its own."""
    from keylab.testing import course_environment

    with course_environment():
        work = tmp_path / "work"
        work.mkdir()
        # Without its saved outputs and widget state, so whatever the page shows comes from this run.
        notebook = nbformat.read(LESSON, as_version=4)
        notebook.metadata.pop("widgets", None)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        nbformat.write(notebook, work / LESSON.name)
        settings = tmp_path / "settings"
        # Every cell in the DOM (no windowing: the test reads widgets far above the last cell), no news prompt.
        for name, value in (("notebook-extension/tracker", '{"windowingMode": "none"}'),
                            ("apputils-extension/notification", '{"fetchNews": "false"}')):
            path = settings / "@jupyterlab" / f"{name}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(value)
        port, token = free_port(), secrets.token_hex(16)
        env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
               "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTER_PLATFORM_DIRS": "1"}
        process = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", f"--port={port}",
             "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}",
             "--ServerApp.port_retries=0", f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}",
             f"--LabApp.user_settings_dir={settings}"],
            env=env, stdout=subprocess.DEVNULL, stderr=(tmp_path / "jupyterlab.log").open("wb"))
        try:
            _wait_for(f"http://127.0.0.1:{port}/api/status?token={token}", process)
            yield f"http://127.0.0.1:{port}/lab/tree/{LESSON.name}?token={token}"
        finally:
            stop(process, timeout=20)
            ARTIFACTS.mkdir(parents=True, exist_ok=True)  # the server's log, for a failing run
            shutil.copy(tmp_path / "jupyterlab.log", ARTIFACTS / "jupyterlab.log")


def _per_month(page: object) -> str:
    return page.locator(f"{CALCULATOR} .keylab-per-month").first.inner_text()  # type: ignore[attr-defined]


def _choose_model(page: object, model: str) -> None:
    select = page.locator(f"{CALCULATOR} select").first  # type: ignore[attr-defined]
    select.scroll_into_view_if_needed()
    select.select_option(model)


def test_lesson_05_runs_in_jupyterlab_and_the_calculator_reacts(browser: object, jupyterlab: str) -> None:
    p = browser
    p.goto(jupyterlab)  # type: ignore[attr-defined]
    p.locator(".jp-NotebookPanel").wait_for()  # type: ignore[attr-defined]
    # Run All only once the kernel is connected and idle (clicked earlier, it is dropped).
    p.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=120_000)  # type: ignore[attr-defined]
    p.get_by_role("menuitem", name="Run", exact=True).click()  # type: ignore[attr-defined]
    p.get_by_role("menuitem", name="Run All Cells", exact=True).click()  # type: ignore[attr-defined]
    # The last widget (the usage report) appears when every cell before it has run.
    p.get_by_text("What did it really cost?").wait_for(timeout=120_000)  # type: ignore[attr-defined]
    p.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=120_000)  # type: ignore[attr-defined]
    assert p.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count() == 0  # type: ignore[attr-defined]
    assert p.get_by_text("same to the last decimal: True").is_visible()  # type: ignore[attr-defined]

    before = _per_month(p)
    _choose_model(p, "gpt-6-astra")
    p.wait_for_function(  # type: ignore[attr-defined]
        "([sel, old]) => document.querySelector(sel).innerText !== old",
        arg=[f"{CALCULATOR} .keylab-per-month", before])
    after = _per_month(p)
    assert before.startswith("$") and after.startswith("$") and after != before


def test_voila_calculator_renders_and_reacts(browser: object, calculator: str) -> None:  # noqa: F811 (fixture)
    p = browser
    p.goto(calculator)  # type: ignore[attr-defined]
    p.locator(f"{CALCULATOR} .keylab-per-month").wait_for(timeout=90_000)  # type: ignore[attr-defined]
    assert p.get_by_text("What will it cost?").first.is_visible()  # type: ignore[attr-defined]
    before = _per_month(p)
    _choose_model(p, "gpt-6-astra")
    p.wait_for_function(  # type: ignore[attr-defined]
        "([sel, old]) => document.querySelector(sel).innerText !== old",
        arg=[f"{CALCULATOR} .keylab-per-month", before])
    assert _per_month(p) != before

    tokens = p.locator(f"{CALCULATOR} .keylab-tokens").inner_text()  # type: ignore[attr-defined]
    p.locator(f"{CALCULATOR} textarea").fill("A much longer prompt than before, " * 20)  # type: ignore[attr-defined]
    p.wait_for_function(  # type: ignore[attr-defined]
        "([sel, old]) => document.querySelector(sel).innerText !== old",
        arg=[f"{CALCULATOR} .keylab-tokens", tokens])
    assert "input tokens" in p.locator(f"{CALCULATOR} .keylab-tokens").inner_text()  # type: ignore[attr-defined]

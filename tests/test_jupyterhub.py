"""JupyterHub for real, on loopback: two users log in (dummy authenticator, local-process spawner),
each opens lesson 03 and runs it, then opens the sandbox dashboard through the hub's proxy
(`/user/NAME/keylab/`); each user's calls land in their own account.

Headless Chromium drives it. Needs PyPI's `jupyterhub` and `jupyter-server-proxy`, npm's
configurable-http-proxy (installed by .ci/run) and Debian's Chromium; skips without them.
Bounded: every wait has a deadline, and the hub and every user's server and sandbox are stopped.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import nbformat
import pytest
from dotenv import dotenv_values

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
USERS = ("alice", "bob")
LESSON = "03-first-call.ipynb"
HUB_START_S = 60
LESSON_S = 60


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _requirements() -> None:
    pytest.importorskip("jupyterhub")
    pytest.importorskip("jupyter_server_proxy")
    pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    if shutil.which("configurable-http-proxy") is None:
        pytest.skip("configurable-http-proxy is not installed (npm install -g configurable-http-proxy)")


def _course_copy(home: Path) -> Path:
    """What nbgitpuller would put in the user's home: the course folder (a lesson is enough here)."""
    course = home / "keylab"
    (course / "notebooks").mkdir(parents=True)
    lesson = nbformat.read(ROOT / "notebooks" / LESSON, as_version=4)
    for cell in lesson.cells:  # as the learner first sees it run: no outputs yet
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.write(lesson, course / "notebooks" / LESSON)
    # Every cell in the page (JupyterLab 4 otherwise renders only the cells in view), so the test can
    # see each cell's execution count.
    settings = home / ".lab-settings" / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    settings.parent.mkdir(parents=True)
    settings.write_text('{"windowingMode": "none"}')
    for name in ("pyproject.toml", ".env.example"):
        shutil.copy(ROOT / name, course / name)
    return course


CONFIG = """
import os
import sys
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.ConfigurableHTTPProxy.pid_file = "{tmp}/proxy.pid"
c.JupyterHub.db_url = "sqlite:///{tmp}/hub.sqlite"
c.JupyterHub.cookie_secret_file = "{tmp}/cookie_secret"
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allow_all = True
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = "{tmp}/home/{{username}}"
c.Spawner.cmd = [sys.executable, "-m", "keylab.hub.singleuser"]
c.Spawner.default_url = "/lab"
c.Spawner.args = ["--allow-root"] if os.geteuid() == 0 else []  # CI runs as root
c.Spawner.start_timeout = 90
c.Spawner.http_timeout = 90
PORTS = {sandbox_ports!r}
c.Spawner.environment = {{
    "KEYLAB_SANDBOX_PORT": lambda spawner: str(PORTS[spawner.user.name]),
    "KEYLAB_COURSE_ROOT": lambda spawner: "{tmp}/home/" + spawner.user.name + "/keylab",
    "JUPYTER_PLATFORM_DIRS": "1",
    "JUPYTERLAB_SETTINGS_DIR": lambda spawner: "{tmp}/home/" + spawner.user.name + "/.lab-settings",
}}
if {tiktoken!r}:  # exact token counts where the encodings are available offline
    c.Spawner.environment["TIKTOKEN_CACHE_DIR"] = {tiktoken!r}
"""


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, dict[str, int]]]:
    _requirements()
    tmp = tmp_path_factory.mktemp("hub")
    for user in USERS:
        _course_copy(tmp / "home" / user)
    ports = {user: _free_port() for user in USERS}
    port = _free_port()
    config = tmp / "jupyterhub_config.py"
    config.write_text(CONFIG.format(port=port, hub_port=_free_port(), api_port=_free_port(), tmp=tmp,
                                    sandbox_ports=ports, tiktoken=os.environ.get("TIKTOKEN_CACHE_DIR", "")))
    env = {name: value for name, value in os.environ.items() if not name.startswith(("OPENAI_", "KEYLAB_"))}
    log = (tmp / "hub.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(config)], cwd=tmp, env=env,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + HUB_START_S
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail("JupyterHub exited:\n" + (tmp / "hub.log").read_text()[-3000:])
            try:
                if httpx.get(url + "/hub/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail("JupyterHub did not answer in time:\n" + (tmp / "hub.log").read_text()[-3000:])
        yield url, tmp, ports
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # the hub, its proxy, and the servers it spawned
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()
        for sandbox_port in ports.values():  # user servers run in their own sessions: stop leftovers
            _stop_listener(sandbox_port)


def _stop_listener(port: int) -> None:
    """Nothing of ours may outlive the test: a sandbox still on the port is stopped by its pid."""
    try:
        out = subprocess.run(["fuser", "-n", "tcp", str(port)], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.TimeoutExpired):
        return
    for pid in out.split():
        if pid.isdigit():
            os.kill(int(pid), signal.SIGTERM)


def _usage_orgs(course: Path) -> list[str]:
    with sqlite3.connect(course / ".keylab" / "sandbox" / "sandbox.db") as db:
        return [row[0] for row in db.execute("SELECT org_id FROM usage")]


def _org_of_env_key(course: Path) -> str:
    from keylab.sandbox.store import Store

    key = dotenv_values(course / ".env")["OPENAI_API_KEY"]
    with Store(course / ".keylab" / "sandbox") as store:
        row = store.query_one("SELECT org_id FROM api_keys WHERE hash = ?", (store.hash_key(key),))
    assert row is not None, "the key in the user's .env is not a key of the user's own sandbox"
    return row[0]


def test_two_hub_users_run_lesson_03_and_open_the_dashboard(hub: tuple[str, Path, dict[str, int]]) -> None:
    from playwright.sync_api import sync_playwright

    url, tmp, ports = hub
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            for user in USERS:
                context = browser.new_context(viewport={"width": 1280, "height": 800})
                page = context.new_page()
                page.set_default_timeout(90_000)
                _login_and_run_lesson(page, url, user)
                _open_dashboard(page, url, user)
                context.close()
        finally:
            browser.close()
    orgs = {}
    for user in USERS:
        course = tmp / "home" / user / "keylab"
        deadline = time.monotonic() + LESSON_S
        while len(_usage_orgs(course)) < 4 and time.monotonic() < deadline:
            time.sleep(1)
        used = _usage_orgs(course)
        assert len(used) >= 4, f"{user}'s lesson made {len(used)} billed calls"
        orgs[user] = _org_of_env_key(course)
        assert set(used) == {orgs[user]}, f"{user}'s calls landed in another account"
    assert orgs["alice"] != orgs["bob"]


def _login_and_run_lesson(page: object, url: str, user: str) -> None:
    page.goto(url + "/hub/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", "any password")
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_url(f"**/user/{user}/lab**", timeout=120_000)
    page.goto(f"{url}/user/{user}/lab/tree/keylab/notebooks/{LESSON}")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=90_000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle'], "
                           ".jp-Toolbar-kernelStatus, .jp-KernelStatus", timeout=90_000, state="attached")
    try:  # the lessons name no kernel of their own: JupyterLab asks once, with Python 3 preselected
        page.click(".jp-Dialog button:has-text('Select')", timeout=15_000)
    except Exception:  # noqa: BLE001 - no dialog: a kernel started by itself
        pass
    page.click(".lm-MenuBar-itemLabel:text-is('Run')", timeout=30_000)
    page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
    # Done when every code cell shows an execution count (the lesson was copied without any).
    code_cells = sum(cell.cell_type == "code" for cell in nbformat.read(ROOT / "notebooks" / LESSON, as_version=4).cells)
    try:
        page.wait_for_function(
            "n => [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]"
            ".filter(p => /\\[\\d+\\]/.test(p.textContent)).length >= n", arg=code_cells, timeout=LESSON_S * 1000)
    except Exception:
        errors = page.eval_on_selector_all(".jp-OutputArea-output[data-mime-type*='error'], "
                                           ".jp-OutputArea-output[data-mime-type*='stderr']",
                                           "els => els.map(e => e.textContent.slice(0, 600))")
        prompts = page.eval_on_selector_all(".jp-InputArea-prompt", "els => els.map(e => e.textContent)")
        pytest.fail(f"{user}'s lesson did not run to the end: errors {errors}, prompts {prompts}")


def _open_dashboard(page: object, url: str, user: str) -> None:
    prefix = f"/user/{user}/keylab"
    page.goto(f"{url}{prefix}/")
    page.wait_for_url(f"**{prefix}/login**")
    assert page.evaluate("() => getComputedStyle(document.body).fontFamily").startswith("system-ui")  # CSS loaded
    hrefs = page.eval_on_selector_all("a[href], form[action]", "els => els.map(e => e.getAttribute('href') || "
                                                               "e.getAttribute('action'))")
    assert all(not h.startswith("/") or h.startswith(prefix + "/") for h in hrefs), hrefs
    page.click(f"a[href='{prefix}/signup']")
    page.wait_for_url(f"**{prefix}/signup")
    page.fill("input[name=email]", f"{user}@example.com")
    page.fill("input[name=password]", "correct horse battery staple")
    page.click(f"form[action='{prefix}/signup'] button[type=submit]")
    # The click only starts the navigation, and the signup page's own URL already matches the prefix:
    # wait for the page the form leads to.
    page.wait_for_url(f"**{prefix}/verify**", timeout=20_000)
    assert prefix in page.url

"""`keylab start`'s JupyterLab: terminals with the course's commands, and one block that says where to go."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from keylab.cli import lab

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
needs_posix = pytest.mark.skipif(os.name == "nt", reason="Windows terminals inherit the server's environment")
BARE_PATH = "/usr/bin:/bin"  # what Debian's /etc/profile leaves, without the course's .venv


def _run_shell(launcher: Path, shell: str, home: Path, commands: str) -> str:
    env = {"HOME": str(home), "SHELL": shell, "PATH": BARE_PATH, "TERM": "dumb"}
    done = subprocess.run([str(launcher)], input=commands + "\nexit\n", env=env, capture_output=True, text=True,
                          timeout=30)
    return done.stdout


@needs_posix
@pytest.mark.parametrize("shell", ["bash", "zsh", "sh"])
def test_terminal_shell_has_the_course_commands(shell: str, tmp_path: Path) -> None:
    """The launcher reads the learner's own rc file (which may reset PATH), then puts .venv first."""
    path = shutil.which(shell)
    if path is None:
        pytest.skip(f"{shell} is not installed")
    home = tmp_path / "home"
    home.mkdir()
    for rc in (".bashrc", ".zshrc"):
        (home / rc).write_text(f"PATH={BARE_PATH}; export PATH\nLEARNER_RC=read; export LEARNER_RC\n")
    launcher = lab.write_terminal_shell(tmp_path / "state", BIN.parent)
    out = _run_shell(launcher, path, home, 'command -v keylab; echo "venv=$VIRTUAL_ENV rc=$LEARNER_RC"')
    assert str(BIN / "keylab") in out
    assert f"venv={BIN.parent}" in out
    if shell != "sh":  # sh has no rc file of its own to read
        assert "rc=read" in out


def test_server_config_runs_the_launcher(tmp_path: Path) -> None:
    config = json.loads(lab.write_server_config(tmp_path, BIN.parent).read_text())
    if os.name == "nt":
        assert config == {}
        return
    (launcher,) = config["ServerApp"]["terminado_settings"]["shell_command"]
    assert Path(launcher).is_file() and os.access(launcher, os.X_OK)
    assert "-l" not in config["ServerApp"]["terminado_settings"]["shell_command"]  # no login shell


def test_lab_environ_puts_the_course_first_and_sets_the_token(tmp_path: Path) -> None:
    env = lab.lab_environ({"PATH": BARE_PATH, "PYTHONHOME": "x"}, BIN, "tok", tmp_path)
    assert env["PATH"].split(os.pathsep)[0] == str(BIN)
    assert env["JUPYTER_TOKEN"] == "tok" and env["JUPYTER_RUNTIME_DIR"] == str(tmp_path)
    assert "PYTHONHOME" not in env


def test_where_to_go_block(tmp_path: Path) -> None:
    block = lab.where_to_go("http://localhost:8888/", "abc123", "notebooks/00-welcome.ipynb",
                            "http://127.0.0.1:8765", tmp_path / "jupyterlab.log")
    assert "http://localhost:8888/lab/tree/notebooks/00-welcome.ipynb?token=abc123" in block
    assert "Dashboard:  http://127.0.0.1:8765/ " in block and "http://127.0.0.1:8765/v1" in block
    assert "Ctrl-C" in block and str(tmp_path / "jupyterlab.log") in block


async def _terminal_output(lab_url: str, token: str, command: str, expect: str) -> str:
    from tornado.websocket import websocket_connect

    request = urllib.request.Request(f"{lab_url}api/terminals", method="POST",
                                     headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
        name = json.load(response)["name"]
    ws_url = lab_url.replace("http://", "ws://") + f"terminals/websocket/{name}?token={token}"
    connection = await websocket_connect(ws_url)
    await connection.write_message(json.dumps(["stdin", command + "\r"]))
    seen = ""
    deadline = time.monotonic() + 30
    while expect not in seen and time.monotonic() < deadline:
        message = await asyncio.wait_for(connection.read_message(), timeout=30)
        if message is None:
            break
        kind, *rest = json.loads(message)
        if kind == "stdout":
            seen += rest[0]
    connection.close()
    return seen


@pytest.mark.slow
@needs_posix
@pytest.mark.parametrize("stop", ["ctrl-c", "terminate"])
def test_keylab_start_prints_where_to_go_and_its_terminals_have_keylab(stop: str, tmp_path: Path) -> None:
    """End to end: `keylab start` started without .venv on PATH (as `python3 course.py start` does), a
    JupyterLab terminal finds `keylab`, the printed address with its token works, and Ctrl-C (the whole
    process group) or a SIGTERM to `keylab start` alone (a closed window) stops JupyterLab and the sandbox."""
    course = tmp_path / "course"
    (course / "notebooks").mkdir(parents=True)
    (course / "pyproject.toml").write_text("")
    shutil.copy(ROOT / "notebooks" / "00-welcome.ipynb", course / "notebooks")
    home = tmp_path / "home"
    home.mkdir()
    (home / ".bashrc").write_text(f"PATH={BARE_PATH}; export PATH\n")  # as Debian's profile would
    env = {**os.environ, "KEYLAB_COURSE_ROOT": str(course), "KEYLAB_HOME": str(tmp_path / "keylab"),
           "HOME": str(home), "PATH": BARE_PATH, "SHELL": shutil.which("bash") or "/bin/sh"}
    env.pop("JUPYTER_TOKEN", None)
    process = subprocess.Popen([sys.executable, "-m", "keylab", "start", "--no-browser", "--port", "0"],
                               cwd=course, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    lines: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if line.startswith("=" * 20) and len([x for x in lines if x.startswith("=" * 20)]) == 2:
                break
        text = "".join(lines)
        match = re.search(r"JupyterLab: (http://\S+/)lab/tree/notebooks/00-welcome\.ipynb\?token=(\w+)", text)
        assert match, text
        lab_url, token = match.groups()
        sandbox = re.search(r"Dashboard:  (http://127\.0\.0\.1:\d+)/", text).group(1)
        assert "[I " not in text, "Jupyter's log belongs in its file, not in the block's window"
        assert (tmp_path / "keylab" / "jupyter" / "jupyterlab.log").read_text()
        if stop == "ctrl-c":
            out = asyncio.run(_terminal_output(lab_url, token, "command -v keylab", "/keylab"))
            assert str(BIN / "keylab") in out, out
        else:
            assert urllib.request.urlopen(f"{lab_url}api/status?token={token}", timeout=5).status == 200  # noqa: S310
    finally:
        if stop == "ctrl-c":
            os.killpg(process.pid, signal.SIGINT)  # Ctrl-C in the learner's terminal reaches the whole group
        else:
            process.terminate()
        try:
            rest, _ = process.communicate(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
    assert process.returncode == 0, rest
    for url in (lab_url + "api/status", sandbox + "/sandbox/health"):
        with pytest.raises(OSError):
            urllib.request.urlopen(url, timeout=2)  # noqa: S310 (loopback)


# ------------------------------------------------------------------ `python3 course.py COMMAND`: keylab anywhere


def _course_py(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """course.py as a learner runs it: any Python 3, any PATH (here without .venv on it)."""
    sys.path.insert(0, str(ROOT))
    try:
        import course
    finally:
        sys.path.remove(str(ROOT))
    if not course.STAMP.is_file() or course.STAMP.read_text().strip() != course._requirements_digest():
        pytest.skip("the course's .venv is not installed and current (python3 course.py test installs it)")
    env = {**os.environ, "PATH": BARE_PATH if os.name != "nt" else os.environ.get("PATH", "")}
    return subprocess.run([sys.executable, str(ROOT / "course.py"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_course_py_passes_keylab_commands_through(tmp_path: Path) -> None:
    env_file = tmp_path / "course.env"
    env_file.write_text("OPENAI_API_KEY=\n")
    doctor = _course_py("doctor", "--offline", "--format", "json", "--env-file", str(env_file), cwd=tmp_path)
    assert doctor.returncode == 1, doctor.stderr  # keylab's exit status comes back
    report = json.loads(doctor.stdout)
    assert "KD005" in [f["code"] for f in report["findings"]] and report["api"] == "not checked (offline)"
    progress = _course_py("progress", cwd=tmp_path)
    assert progress.returncode == 0, progress.stderr
    assert "Lab 01" in progress.stdout or "no labs" in progress.stdout.lower()


def test_course_py_names_its_commands(tmp_path: Path) -> None:
    unknown = _course_py("nosuch", cwd=tmp_path)
    assert unknown.returncode == 2 and "invalid choice" in unknown.stderr and "progress" in unknown.stderr
    helped = _course_py("--help", cwd=tmp_path)
    assert helped.returncode == 0 and "python3 course.py progress" in helped.stdout and "doctor" in helped.stdout

"""JupyterLab for `keylab start`: terminals in the course's environment, and one block saying where to go.

Terminals: JupyterLab's terminals run a shell as a child of the server. On Linux and macOS,
jupyter_server_terminals starts a *login* shell (`-l`) when the server has no terminal of its own,
and a login shell reads /etc/profile (Debian's resets PATH) or /etc/zprofile (macOS's path_helper
reorders it), so a PATH inherited from here is lost and `keylab` is "command not found". So the
server gets its own shell command: a small launcher in `.keylab/jupyter/` that starts the learner's
shell (bash, zsh or another) non-login, reading their usual rc files first and then putting the
course's `.venv` first on PATH. On Windows terminals are PowerShell with the server's environment,
which already has `.venv\\Scripts` first on PATH (see `lab_environ`).

Where to go: the server gets a token chosen here (`JUPYTER_TOKEN`) and writes its log to
`.keylab/jupyter/jupyterlab.log`; once it answers, `keylab start` prints one block with the
JupyterLab address (token included), the sandbox dashboard and API, and how to stop.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from keylab.processes import stop

LOG_NAME = "jupyterlab.log"
READY_TIMEOUT_S = 120.0  # a first start after installing can be slow (JupyterLab builds its settings)


def environment_bin() -> Path:
    """The folder with this environment's commands (`.venv/bin` or `.venv\\Scripts`), where `keylab` is."""
    return Path(sys.executable).parent


def lab_environ(base: Mapping[str, str], bin_dir: Path, token: str, runtime_dir: Path) -> dict[str, str]:
    """The JupyterLab server's environment: the course's commands first on PATH (its kernels and,
    on Windows, its terminals inherit it), the token to use, and where to write its runtime info."""
    env = dict(base)
    env["PATH"] = str(bin_dir) + os.pathsep + env.get("PATH", "")
    env["VIRTUAL_ENV"] = str(bin_dir.parent)
    env.pop("PYTHONHOME", None)
    env["JUPYTER_TOKEN"] = token
    env["JUPYTER_RUNTIME_DIR"] = str(runtime_dir)
    return env


# The launcher is POSIX sh; {venv} and {rc_dir} are filled in quoted (shlex.quote).
_LAUNCHER = """\
#!/bin/sh
# Written by `keylab start`: JupyterLab's terminals open in the course's environment ({venv}).
VIRTUAL_ENV={venv}
export VIRTUAL_ENV
shell="${{SHELL:-/bin/sh}}"
case "${{shell##*/}}" in
  bash) exec "$shell" --rcfile {rc_dir}/bashrc -i ;;
  zsh) KEYLAB_USER_ZDOTDIR="${{ZDOTDIR:-$HOME}}"; ZDOTDIR={rc_dir}/zsh
       export KEYLAB_USER_ZDOTDIR ZDOTDIR; exec "$shell" -i ;;
  *) PATH="$VIRTUAL_ENV/bin:$PATH"; export PATH; exec "$shell" -i ;;
esac
"""

_BASHRC = """\
# Written by `keylab start`: your usual ~/.bashrc, then the course's commands first on PATH.
if [ -f "$HOME/.bashrc" ]; then . "$HOME/.bashrc"; fi
PATH="$VIRTUAL_ENV/bin:$PATH"; export PATH
"""

_ZSHENV = """\
# Written by `keylab start`: your usual zsh start-up files are read from your own folder.
if [ -f "$KEYLAB_USER_ZDOTDIR/.zshenv" ]; then . "$KEYLAB_USER_ZDOTDIR/.zshenv"; fi
"""

_ZSHRC = """\
# Written by `keylab start`: your usual ~/.zprofile and ~/.zshrc, then the course's commands first on PATH.
ZDOTDIR="$KEYLAB_USER_ZDOTDIR"
if [ -f "$ZDOTDIR/.zprofile" ]; then . "$ZDOTDIR/.zprofile"; fi
if [ -f "$ZDOTDIR/.zshrc" ]; then . "$ZDOTDIR/.zshrc"; fi
PATH="$VIRTUAL_ENV/bin:$PATH"; export PATH
"""


def write_terminal_shell(state_dir: Path, venv: Path) -> Path:
    """Write the terminal launcher and its rc files under `state_dir`; return the launcher (POSIX only)."""
    rc_dir = state_dir / "terminal"
    (rc_dir / "zsh").mkdir(parents=True, exist_ok=True)
    (rc_dir / "bashrc").write_text(_BASHRC)
    (rc_dir / "zsh" / ".zshenv").write_text(_ZSHENV)
    (rc_dir / "zsh" / ".zshrc").write_text(_ZSHRC)
    launcher = rc_dir / "shell"
    launcher.write_text(_LAUNCHER.format(venv=shlex.quote(str(venv)), rc_dir=shlex.quote(str(rc_dir))))
    launcher.chmod(0o755)
    return launcher


def write_server_config(state_dir: Path, venv: Path) -> Path:
    """The server's config file: on POSIX, terminals run the launcher (see the module's docstring)."""
    config: dict[str, object] = {}
    if os.name != "nt":
        launcher = write_terminal_shell(state_dir, venv)
        config["ServerApp"] = {"terminado_settings": {"shell_command": [str(launcher)]}}
    path = state_dir / "jupyter_server_config.json"
    path.write_text(json.dumps(config, indent=2) + "\n")
    return path


def lab_command(root: Path, notebook: str, config: Path, *, no_browser: bool) -> list[str]:
    command = [sys.executable, "-m", "jupyterlab", str(root / notebook), f"--ServerApp.root_dir={root}",
               f"--config={config}"]
    if no_browser:
        command.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # a container or a classroom VM
        command.append("--allow-root")
    return command


def _server_info(runtime_dir: Path, pid: int) -> dict[str, object] | None:
    try:
        return json.loads((runtime_dir / f"jpserver-{pid}.json").read_text())
    except (OSError, ValueError):
        return None


def _answers(base_url: str, token: str) -> bool:
    request = urllib.request.Request(f"{base_url.rstrip('/')}/api/status", headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310 (this computer)
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


def wait_until_ready(process: subprocess.Popen[bytes], runtime_dir: Path, token: str,
                     timeout: float = READY_TIMEOUT_S) -> str | None:
    """The server's base URL once it answers with our token; None if it exited or took too long."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        info = _server_info(runtime_dir, process.pid)
        if info and isinstance(info.get("url"), str) and _answers(str(info["url"]), token):
            return str(info["url"]).rstrip("/") + "/"
        time.sleep(0.2)
    return None


def where_to_go(lab_url: str, token: str, notebook: str, sandbox_url: str, log: Path) -> str:
    """The block `keylab start` prints once everything answers."""
    stop = "press Ctrl-C in this window" + (" (or close it)" if os.name == "nt" else "")
    rows = [
        ("JupyterLab", f"{lab_url}lab/tree/{notebook}?token={token}"),
        ("", "(open this address in your browser; the token in it lets you in)"),
        ("Dashboard", f"{sandbox_url}/  (the sandbox platform: keys, credit, usage, Outbox)"),
        ("API", f"{sandbox_url}/v1  (OPENAI_BASE_URL in .env)"),
        ("Terminal", "JupyterLab > File > New > Terminal has the course's commands: `keylab progress`"),
        ("Stop", f"{stop}: it stops JupyterLab and the sandbox"),
        ("Log", f"Jupyter's messages go to {log}"),
    ]
    rule = "=" * 78
    body = [f"  {name + ':' if name else '':<12}{value}" for name, value in rows]
    return "\n".join([rule, "  The course is running.", *body, rule])


def run_lab(root: Path, notebook: str, sandbox_url: str, state_dir: Path, *, no_browser: bool) -> int:
    """Run JupyterLab until it stops (Ctrl-C), after printing where to go. Returns its exit status."""
    state_dir.mkdir(parents=True, exist_ok=True)
    runtime_dir = state_dir / "runtime"
    runtime_dir.mkdir(exist_ok=True)
    token = secrets.token_hex(24)
    bin_dir = environment_bin()
    config = write_server_config(state_dir, bin_dir.parent)
    log = state_dir / LOG_NAME
    print("Starting JupyterLab …", flush=True)
    with open(log, "wb") as log_file:  # this run's messages only: the place to look when it fails
        # stdin from /dev/null: with no terminal to ask "Shutdown this server (y/[n])?" on (its
        # output goes to the log), one Ctrl-C stops JupyterLab at once.
        process = subprocess.Popen(lab_command(root, notebook, config, no_browser=no_browser), cwd=root,
                                   env=lab_environ(os.environ, bin_dir, token, runtime_dir),
                                   stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            lab_url = wait_until_ready(process, runtime_dir, token)
            if lab_url is None:
                print(f"JupyterLab did not start; its messages are in {log}:\n" + _tail(log), flush=True)
                return process.poll() or 1
            print(where_to_go(lab_url, token, notebook, sandbox_url, log), flush=True)
            return process.wait()
        except KeyboardInterrupt:
            print("\nStopping JupyterLab and the sandbox …", flush=True)
            _stop(process, grace=10.0)  # it got the same Ctrl-C: let it shut its kernels down
            return 0
        finally:
            _stop(process, grace=0.0)  # any other way out (SIGTERM, an error): never leave it running


def _stop(process: subprocess.Popen[bytes], grace: float) -> None:
    """Wait `grace` seconds for the server to exit by itself, then terminate it (SIGTERM: it shuts its
    kernels down) and kill it only if it is still there 10 s later."""
    if process.poll() is not None:
        return
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        stop(process)


def _tail(log: Path, lines: int = 20) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


__all__ = ["environment_bin", "lab_command", "lab_environ", "run_lab", "wait_until_ready", "where_to_go",
           "write_server_config", "write_terminal_shell"]

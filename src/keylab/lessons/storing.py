"""Props for lesson 02 (storing your key): a practice keychain and throwaway projects.

Every demo in lesson 02 works on copies: a temporary folder with its own `.env`, a fake variable
name, and a keychain that lives only in memory. The learner's real `.env`, shell and OS keychain
are never touched, in a lesson run or in the tests.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import keyring
import keyring.backend
from keyring.errors import PasswordDeleteError


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A keychain that forgets everything when Python stops: the same API as the real one.

    `keyring.set_password`, `get_password` and `delete_password` behave exactly as with the
    macOS Keychain, Windows Credential Manager or the Secret Service on Linux, but nothing is written
    anywhere, so a lesson (or a test) can demonstrate them safely.
    """

    priority = 0.1  # type: ignore[assignment]  # never chosen on its own: only set explicitly

    def __init__(self) -> None:
        super().__init__()
        self._items: dict[tuple[str, str], str] = {}

    def set_password(self, service: str, username: str, password: str) -> None:
        self._items[(service, username)] = password

    def get_password(self, service: str, username: str) -> str | None:
        return self._items.get((service, username))

    def delete_password(self, service: str, username: str) -> None:
        try:
            del self._items[(service, username)]
        except KeyError:
            raise PasswordDeleteError(f"nothing stored for {service}/{username}") from None


@contextmanager
def practice_keyring() -> Iterator[MemoryKeyring]:
    """Use a `MemoryKeyring` as *the* keyring inside the `with` block, then restore the real one."""
    previous = keyring.get_keyring()
    practice = MemoryKeyring()
    keyring.set_keyring(practice)
    try:
        yield practice
    finally:
        keyring.set_keyring(previous)


@contextmanager
def scratch_folder(prefix: str = "keylab-lesson-") -> Iterator[Path]:
    """A temporary folder, deleted afterwards (with everything written inside it)."""
    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        yield Path(folder)


# ---------------------------------------------------------------- find_dotenv(usecwd=...) demo

_HELPER_SCRIPT = """\
from dotenv import find_dotenv
print("find_dotenv()            ->", find_dotenv() or "(nothing found)")
print("find_dotenv(usecwd=True) ->", find_dotenv(usecwd=True) or "(nothing found)")
"""


@dataclass(frozen=True)
class UsecwdDemo:
    project: Path
    helper: Path
    output: str


def usecwd_demo(root: Path) -> UsecwdDemo:
    """Run a helper script that lives outside the project, from inside the project folder.

    `root/project/.env` exists; `root/shared_tools/find_env.py` calls `find_dotenv()` both ways.
    Without `usecwd=True`, python-dotenv starts searching next to the *calling file*
    (shared_tools/), not in the folder you are working in, so it misses the project's `.env`.
    """
    project = root / "project"
    tools = root / "shared_tools"
    project.mkdir()
    tools.mkdir()
    (project / ".env").write_text("DEMO_SETTING=from-the-project\n")
    helper = tools / "find_env.py"
    helper.write_text(_HELPER_SCRIPT)
    result = subprocess.run([sys.executable, str(helper)], cwd=project, capture_output=True, text=True,
                            timeout=60, check=False)
    return UsecwdDemo(project, helper, (result.stdout + result.stderr).strip())


# ---------------------------------------------------------------- a broken project for the doctor


def make_broken_project(root: Path) -> Path:
    """A project folder with four classic mistakes, for `keylab.doctor` to find.

    1. `.env` still holds the template's placeholder instead of a key;
    2. OPENAI_BASE_URL lacks its `/v1`;
    3. the folder is a git repository and no `.gitignore` rule covers `.env`;
    4. `.env` is readable by every user of the computer (mode 644).
    """
    project = root / "broken-project"
    project.mkdir()
    env_file = project / ".env"
    env_file.write_text("OPENAI_API_KEY=sk-your-key-here\nOPENAI_BASE_URL=http://127.0.0.1:8765\n")
    env_file.chmod(0o644)
    subprocess.run(["git", "init", "-q", str(project)], capture_output=True, check=False, timeout=60)
    return project


__all__ = ["MemoryKeyring", "UsecwdDemo", "make_broken_project", "practice_keyring", "scratch_folder",
           "usecwd_demo"]

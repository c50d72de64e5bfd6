"""Load the learner's `.env` and say, in plain words, what happened.

`python-dotenv` loads silently: it does not say which file it read, and by default it does not
replace a variable the shell already exported, so an old key in the shell quietly beats the new
one in `.env` (problems learners report most: docs/sources.md). `load_env()` does the same loading
but returns an `EnvLoad` that says which file it used, what it set, and what it left alone and why.
Key values are never returned or printed, only their masked form (`keylab.keys.mask`).
"""

from __future__ import annotations

import ipaddress
import os
import weakref
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values, find_dotenv

from keylab.keys import KeyKind, classify, mask

ENV_FILE_VAR = "KEYLAB_ENV_FILE"
KEY_VAR = "OPENAI_API_KEY"
BASE_URL_VAR = "OPENAI_BASE_URL"
ADMIN_KEY_VAR = "OPENAI_ADMIN_KEY"  # the variable the official SDK reads an admin key from
LIVE_HOST = "api.openai.com"
DEFAULT_BASE_URL = "https://api.openai.com/v1"

# Values this module put into os.environ, so a re-run after editing .env can refresh them:
# only values that came from outside Python (the shell, the notebook server) should win.
_set_by_us: dict[str, str] = {}
# openai clients that already existed when load_env() changed OPENAI_API_KEY/OPENAI_BASE_URL.
clients_made_before_load: weakref.WeakSet[object] = weakref.WeakSet()


def forget_session_state() -> None:
    """Forget what load_env() did in this process (tests start each case from a clean slate)."""
    _set_by_us.clear()
    clients_made_before_load.clear()


# ---------------------------------------------------------------- showing values safely


def is_secret_name(name: str) -> bool:
    """Variables whose value is shown masked. Everything except URLs counts as secret."""
    return not name.upper().endswith("_URL")


def safe_url(url: str) -> str:
    """A URL fit to print: any `user:password@` part is removed."""
    parts = urlsplit(url.strip())
    if parts.hostname and "@" in parts.netloc:
        netloc = parts.netloc.rsplit("@", 1)[1]
        return parts._replace(netloc=netloc).geturl()
    return url.strip()


def shown(name: str, value: str | None) -> str:
    """How keylab displays the value of variable `name`: URLs in clear, everything else masked."""
    if value is None:
        return "(no value)"
    return safe_url(value) if not is_secret_name(name) else mask(value)


# ---------------------------------------------------------------- finding the file


@dataclass(frozen=True)
class EnvLocation:
    """Which `.env` file to use, how it was chosen and every place that was checked."""

    path: Path | None
    how: str  # "argument", "KEYLAB_ENV_FILE" or "search"
    searched: tuple[Path, ...]

    @property
    def looked_in(self) -> str:
        """A short human sentence naming where keylab looked."""
        if self.how != "search":
            via = "given as an argument" if self.how == "argument" else f"set in {ENV_FILE_VAR}"
            return f"{self.searched[0]} ({via})"
        if not self.searched:
            return "(nowhere)"
        first = self.searched[0]
        more = len(self.searched) - 1
        return f"{first} and {more} parent folder{'s' if more != 1 else ''} up to {self.searched[-1]}"


def _walk_up(start: Path) -> tuple[Path, ...]:
    start = start.resolve()
    return tuple(folder / ".env" for folder in (start, *start.parents))


def locate_env_file(
    env_file: str | os.PathLike[str] | None = None,
    *,
    start: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> EnvLocation:
    """Pick the `.env` file: the argument, else `$KEYLAB_ENV_FILE`, else search upwards.

    The search starts in `start` (default: the current folder, like `find_dotenv(usecwd=True)`;
    without `usecwd` python-dotenv would start next to the calling file, which in a notebook
    is not where the learner thinks).
    """
    env = os.environ if environ is None else environ
    if env_file is not None and str(env_file) != "":
        path = Path(env_file).expanduser()
        return EnvLocation(path if path.is_file() else None, "argument", (path,))
    if env.get(ENV_FILE_VAR):
        path = Path(env[ENV_FILE_VAR]).expanduser()
        return EnvLocation(path if path.is_file() else None, ENV_FILE_VAR, (path,))
    if start is None:
        found = find_dotenv(usecwd=True)
        searched = _walk_up(Path.cwd())
        if found:
            found_path = Path(found)
            searched = tuple(p for p in searched[: _index_of(searched, found_path) + 1])
            return EnvLocation(found_path, "search", searched)
        return EnvLocation(None, "search", searched)
    searched = _walk_up(Path(start))
    for i, candidate in enumerate(searched):
        if candidate.is_file():
            return EnvLocation(candidate, "search", searched[: i + 1])
    return EnvLocation(None, "search", searched)


def _index_of(paths: tuple[Path, ...], found: Path) -> int:
    resolved = found.resolve()
    for i, path in enumerate(paths):
        if path.resolve() == resolved:
            return i
    return len(paths) - 1


# ---------------------------------------------------------------- loading


@dataclass(frozen=True)
class KeptVar:
    """A variable `.env` wanted to set but the shell already had (masked values only)."""

    name: str
    shell_value: str
    file_value: str


@dataclass(frozen=True)
class EnvLoad:
    """What `load_env()` did. Holds variable names and masked values, never a full key."""

    location: EnvLocation
    set: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    kept: tuple[KeptVar, ...] = ()
    override: bool = False
    notes: tuple[str, ...] = ()
    read_error: str = ""  # set when the file was found but could not be read; nothing was loaded

    @property
    def path(self) -> Path | None:
        return self.location.path

    @property
    def found(self) -> bool:
        return self.location.path is not None

    def lines(self) -> list[str]:
        if not self.found:
            return [
                f"No .env file found. Looked in {self.location.looked_in}.",
                "Fix: copy .env.example to .env in the course folder, put your key in it, "
                "then run this cell again (or run `python3 course.py doctor`).",
            ]
        if self.read_error:
            return [f"Found {self.location.path} but loaded nothing.", self.read_error]
        out = [f"Loaded {self.location.path}"]
        out.append("Set: " + (", ".join(self.set) if self.set else "nothing new"))
        if self.unchanged:
            out.append("Already set to the same value: " + ", ".join(self.unchanged))
        for kept in self.kept:
            out.append(
                f"NOT set: {kept.name}. Your shell already has {kept.shell_value}, "
                f".env has {kept.file_value}; the shell wins."
            )
        if self.kept:
            names = " ".join(k.name for k in self.kept)
            out.append(
                f"Fix: remove the old value from your shell (`unset {names}` on macOS/Linux, or delete "
                "it from your shell profile / the Windows environment variables), then restart "
                "Jupyter; or call load_env(override=True)."
            )
        out.extend(self.notes)
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def _repr_pretty_(self, printer: object, cycle: bool) -> None:
        printer.text(str(self))  # type: ignore[attr-defined]


def load_env(
    env_file: str | os.PathLike[str] | None = None, *, override: bool = False
) -> EnvLoad:
    """Load `.env` into `os.environ` and report what happened.

    Parameters:
        env_file: the file to load. Default: `$KEYLAB_ENV_FILE`, else the nearest `.env` from the
            current folder upwards.
        override: replace variables the shell already set. Default False, like python-dotenv:
            the shell wins, and the result lists every variable that was not set because of it.

    A value this function set in an earlier call is refreshed, so editing `.env` and running
    the cell again works; only values that came from outside Python win.
    """
    location = locate_env_file(env_file)
    if location.path is None:
        return EnvLoad(location, override=override)
    try:
        values = dotenv_values(location.path, interpolate=True)
    except (OSError, UnicodeDecodeError) as exc:
        reason = "it is not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else exc.strerror
        error = f"Could not read {location.path}: {reason}. Run `python3 course.py doctor` for the fix."
        return EnvLoad(location, override=override, read_error=error)
    set_names: list[str] = []
    unchanged: list[str] = []
    kept: list[KeptVar] = []
    for name, value in values.items():
        if value is None:
            continue
        current = os.environ.get(name)
        if current == value:
            unchanged.append(name)
            continue
        ours = name in _set_by_us and _set_by_us[name] == current
        if current is not None and not override and not ours:
            kept.append(KeptVar(name, shown(name, current), shown(name, value)))
            continue
        _apply(os.environ, name, value)
        set_names.append(name)
    notes: list[str] = []
    if {KEY_VAR, BASE_URL_VAR} & set(set_names):
        stale = _remember_existing_clients()
        if stale:
            notes.append(
                f"Warning: {stale} OpenAI client(s) were created before this load and still use "
                "the old settings. Create the client again: client = OpenAI()"
            )
    return EnvLoad(location, tuple(set_names), tuple(unchanged), tuple(kept), override, tuple(notes))


def _apply(environ: MutableMapping[str, str], name: str, value: str) -> None:
    environ[name] = value
    _set_by_us[name] = value


def _remember_existing_clients() -> int:
    """Remember the clients made before this load; return how many now disagree with it."""
    from keylab.doctor.clients import live_clients, stale_reasons  # local: the doctor imports us

    stale = 0
    for client in live_clients():
        try:
            clients_made_before_load.add(client)
        except TypeError:  # pragma: no cover - not weak-referenceable
            pass
        stale += bool(stale_reasons(client, os.environ))
    return stale


# ---------------------------------------------------------------- mode and status


def is_loopback_url(url: str | None) -> bool:
    """True when the URL's host is this computer (127.0.0.0/8, ::1 or localhost)."""
    host = _host(url)
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_live_url(url: str | None) -> bool:
    """True when the URL is unset/empty (the SDK then uses api.openai.com) or points at it."""
    if url is None or not url.strip():
        return True
    return _host(url) == LIVE_HOST


def _host(url: str | None) -> str:
    if not url:
        return ""
    try:
        return (urlsplit(url.strip()).hostname or "").lower()
    except ValueError:
        return ""


def mode(environ: Mapping[str, str] | None = None, *, probe: bool = True) -> str:
    """"sandbox", "live" or "not configured", from OPENAI_BASE_URL and OPENAI_API_KEY.

    A base URL on this computer is the sandbox; one elsewhere (a class sandbox on the room's
    network, a JupyterHub proxy) is the sandbox when the server there says it is one. With
    `probe=False` (the doctor's --offline) that server is not asked: only loopback counts."""
    env = os.environ if environ is None else environ
    base_url = env.get(BASE_URL_VAR)
    if is_loopback_url(base_url):
        return "sandbox"
    if probe and base_url and not is_live_url(base_url):
        from keylab.sandbox_probe import is_sandbox  # local: only for a base URL elsewhere

        if is_sandbox(base_url):
            return "sandbox"
    if env.get(KEY_VAR) and is_live_url(base_url):
        return "live"
    return "not configured"


# How status() (and lesson 00's check) describe a key of each kind.
KIND_WORDS = {
    KeyKind.REAL: "a real OpenAI key",
    KeyKind.SANDBOX: "a sandbox key",
    KeyKind.PLACEHOLDER: "the placeholder from .env.example, not a key",
}


@dataclass(frozen=True)
class Status:
    """Where API calls from this kernel will go and with which key (masked)."""

    mode: str
    base_url: str
    base_url_is_default: bool
    key_masked: str
    key_kind: KeyKind
    key_problem: str = ""

    def lines(self) -> list[str]:
        where = self.base_url + (", the default" if self.base_url_is_default else "")
        if self.mode == "not configured":
            head = f"Mode: not configured ({where}); keylab.doctor.doctor() says why"
        else:
            head = f"Mode: {self.mode} ({where})"
        if self.key_kind is KeyKind.EMPTY:
            return [head, f"Key:  (not set: {KEY_VAR} is missing)"]
        words = KIND_WORDS.get(self.key_kind, "does not look like an API key")
        if self.key_problem:
            words += f"; problem: {self.key_problem}"
        return [head, f"Key:  {self.key_masked} ({words})"]

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def _repr_pretty_(self, printer: object, cycle: bool) -> None:
        printer.text(str(self))  # type: ignore[attr-defined]


def status(environ: Mapping[str, str] | None = None, *, probe: bool = True) -> Status:
    """The mode, base URL and masked key the SDK will use, for the first cell of each notebook.

    `probe=False` never goes on the network (see `mode`)."""
    env = os.environ if environ is None else environ
    key = env.get(KEY_VAR) or ""
    base_url = (env.get(BASE_URL_VAR) or "").strip()
    info = classify(key)
    return Status(
        mode=mode(env, probe=probe),
        base_url=safe_url(base_url) if base_url else DEFAULT_BASE_URL,
        base_url_is_default=not base_url,
        key_masked=mask(key.strip()) if key else "(not set)",
        key_kind=info.kind,
        key_problem=info.problem if info.kind is not KeyKind.PLACEHOLDER else "",
    )


__all__ = [
    "DEFAULT_BASE_URL",
    "ENV_FILE_VAR",
    "EnvLoad",
    "EnvLocation",
    "KIND_WORDS",
    "KeptVar",
    "Status",
    "is_live_url",
    "is_loopback_url",
    "load_env",
    "locate_env_file",
    "mode",
    "safe_url",
    "shown",
    "status",
]

"""Lesson 00's environment check: one `[OK]`/`[WARN]`/`[FAIL]` line per requirement, with the fix.

    from keylab.lessons import welcome_check
    welcome_check()          # prints the lines, returns a WelcomeReport

It checks, in order: the Python version, the packages the course imports (with versions), the
tiktoken encoding files (offline), the `.env` file (found and loaded with `keylab.load_env()`),
`OPENAI_API_KEY` (present and well-formed, shown masked), the mode and base URL, and finally one
real call through the official SDK (`client.models.list()`). The wording of each fix comes from the
doctor's codes table (`keylab.doctor.codes`), so the welcome check and `keylab doctor` never disagree.
Nothing here prints a key beyond its masked form.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from keylab.doctor.codes import problem
from keylab.doctor.keycheck import check_base_url, check_key_value, is_name_drift
from keylab.environment import KEY_VAR, KIND_WORDS, EnvLoad, load_env, status
from keylab.keys import KeyKind

Level = Literal["OK", "WARN", "FAIL", "SKIP"]

MIN_PYTHON = (3, 10)
# (module to import, distribution whose version to show, what the course uses it for)
REQUIRED_PACKAGES: tuple[tuple[str, str, str], ...] = (
    ("openai", "openai", "the official SDK: every API call"),
    ("dotenv", "python-dotenv", "loads .env"),
    ("tiktoken", "tiktoken", "counts tokens"),
    ("httpx", "httpx", "raw HTTP calls"),
    ("keyring", "keyring", "the OS keychain"),
    ("ipywidgets", "ipywidgets", "interactive widgets"),
)
ENCODINGS = ("o200k_base", "cl100k_base")
SANDBOX_START_FIX = (
    "Start the sandbox: run `python3 course.py start` in a terminal in the course folder (Windows: "
    "`py course.py start`; or `python3 course.py sandbox` to start only the sandbox), then run this cell again."
)


@dataclass(frozen=True)
class CheckLine:
    """One requirement's verdict. `fix` is filled in for WARN and FAIL lines."""

    level: Level
    what: str
    detail: str
    fix: str = ""

    def lines(self) -> list[str]:
        out = [f"{'[' + self.level + ']':<7}{self.what}: {self.detail}"]
        if self.fix:
            out.append(f"{'':7}Fix: {self.fix}")
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


class WelcomeReport(list[CheckLine]):
    """The list of check lines; prints as the lines plus a one-line summary."""

    @property
    def ok(self) -> bool:
        """True when no line is a FAIL (warnings are allowed)."""
        return not any(line.level == "FAIL" for line in self)

    def failed(self) -> list[CheckLine]:
        return [line for line in self if line.level == "FAIL"]

    def find(self, what: str) -> CheckLine:
        """The line whose label starts with `what` (for tests and lessons)."""
        for line in self:
            if line.what.startswith(what):
                return line
        raise KeyError(what)

    def summary(self) -> str:
        fails = len(self.failed())
        warns = sum(line.level == "WARN" for line in self)
        if fails:
            return (f"{fails} problem(s) to fix: follow each 'Fix:' line above, then run this cell "
                    "again. `python3 course.py doctor` explains more.")
        if warns:
            return "Ready, with warning(s) above: the course works, but read them."
        return "All set: you are ready for lesson 01."

    def __str__(self) -> str:
        return "\n".join([*(text for line in self for text in line.lines()), "", self.summary()])

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.summary())


# ---------------------------------------------------------------- the individual checks


def check_python(version: Sequence[int] | None = None) -> CheckLine:
    version = tuple(sys.version_info[:3] if version is None else version)
    shown = ".".join(str(part) for part in version[:3])
    need = ".".join(map(str, MIN_PYTHON))
    if version[:2] >= MIN_PYTHON:
        return CheckLine("OK", "Python", f"{shown} ({need} or newer is needed)")
    return CheckLine(
        "FAIL", "Python", f"Python {shown} is too old; the course needs {need} or newer",
        f"install Python {need} or newer (python.org), create the course's virtual environment "
        "again with it, and pick that kernel in Jupyter.",
    )


def check_package(module: str, dist: str, purpose: str,
                  importer: Callable[[str], Any] = importlib.import_module) -> CheckLine:
    try:
        importer(module)
    except Exception as error:  # ImportError, or a broken install raising anything
        return CheckLine(
            "FAIL", f"package {dist}", f"cannot be imported ({type(error).__name__}); the course "
            f"uses it for: {purpose}",
            "install the course's packages into the Python this notebook runs: "
            "`python -m pip install -r requirements.txt` in the course folder, then restart the kernel.",
        )
    try:
        version = importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return CheckLine("OK", f"package {dist}", f"{dist}=={version} imports ({purpose})")


def check_encodings(available: Callable[[str], bool] | None = None) -> CheckLine:
    if available is None:
        from keylab.pricing import encoding_available as available
    missing = [name for name in ENCODINGS if not available(name)]
    if not missing:
        return CheckLine("OK", "tiktoken encodings", f"{', '.join(ENCODINGS)} load offline (exact token counts)")
    return CheckLine(
        "WARN", "tiktoken encodings",
        f"counts are approximate: {', '.join(missing)} not available offline (neither from the bpe-openai "
        "package nor in tiktoken's cache)",
        "install the course's packages into the Python this notebook runs (`python -m pip install -r "
        "requirements.txt`; bpe-openai has wheels for Linux, Windows and Apple-silicon Macs). Elsewhere, "
        "once, with internet, run `python -c \"import tiktoken; tiktoken.get_encoding('o200k_base'); "
        "tiktoken.get_encoding('cl100k_base')\"` and set TIKTOKEN_CACHE_DIR in .env to the folder it "
        "saved them in; then restart the kernel.",
    )


def check_env_file(loaded: EnvLoad) -> CheckLine:
    if not loaded.found:
        return CheckLine("FAIL", ".env", f"not found (looked in {loaded.location.looked_in})",
                         problem("KD001").fix)
    if loaded.read_error:
        return CheckLine("FAIL", ".env", f"found {loaded.path} but could not load it", loaded.read_error)
    if loaded.kept:
        names = ", ".join(kept.name for kept in loaded.kept)
        return CheckLine("WARN", ".env", f"loaded {loaded.path}, but your shell's {names} won over it",
                         problem("KD004").fix)
    return CheckLine("OK", ".env", f"loaded {loaded.path}")


def check_key(environ: Mapping[str, str]) -> tuple[CheckLine, KeyKind]:
    key = environ.get(KEY_VAR)
    if not key:
        drift = sorted(name for name in environ if is_name_drift(name) and environ[name])
        if drift:
            return CheckLine("FAIL", KEY_VAR, f"not set, but {', '.join(drift)} is: wrong name",
                             problem("KD006").fix), KeyKind.EMPTY
        return CheckLine("FAIL", KEY_VAR, "not set (neither in your environment nor in .env)",
                         problem("KD005").fix), KeyKind.EMPTY
    findings, info = check_key_value(key, "your environment")
    masked = status(environ).key_masked
    if findings:
        first = findings[0]
        return CheckLine("FAIL", KEY_VAR, f"{masked}: {first.title.lower()}", first.fix), info.kind
    return CheckLine("OK", KEY_VAR, f"{masked} ({KIND_WORDS.get(info.kind, info.kind.value)})"), info.kind


def check_mode(environ: Mapping[str, str], kind: KeyKind) -> CheckLine:
    shown = status(environ)
    url = shown.base_url + (" (the default, because OPENAI_BASE_URL is not set)" if shown.base_url_is_default else "")
    findings = check_base_url(environ.get("OPENAI_BASE_URL"), "your environment", kind)
    if findings:
        return CheckLine("FAIL", "mode", f"{shown.mode}, {url}: {findings[0].title.lower()}", findings[0].fix)
    if shown.mode == "not configured":
        return CheckLine("FAIL", "mode", f"not configured ({url})",
                         "set OPENAI_API_KEY (and, for the sandbox, OPENAI_BASE_URL) in .env; "
                         "`python3 course.py doctor` says what is missing.")
    return CheckLine("OK", "mode", f"{shown.mode}, requests go to {url}")


def check_api(environ: Mapping[str, str], *, timeout: float = 10.0, client_factory: Callable[..., Any] | None = None,
              course_model: str | None = None) -> CheckLine:
    """List models through the official SDK: proves the key, the URL and the network together."""
    import openai

    from keylab.pricing import COURSE_MODEL

    model = course_model or COURSE_MODEL
    shown = status(environ)
    mode_now = shown.mode
    factory = client_factory or openai.OpenAI
    try:
        client = factory(api_key=environ.get(KEY_VAR), base_url=environ.get("OPENAI_BASE_URL") or None,
                         max_retries=0, timeout=timeout)
        ids = {item.id for item in client.models.list()}
    except openai.APIConnectionError:
        where = shown.base_url
        if mode_now == "sandbox":
            return CheckLine("FAIL", "API", f"the sandbox at {where} does not answer", SANDBOX_START_FIX)
        return CheckLine("FAIL", "API", f"cannot connect to {where}",
                         "check your internet connection (and any proxy or firewall), then run this cell again.")
    except openai.AuthenticationError as error:
        fix = ("the sandbox does not know this key (was its data reset?): create a new key in the "
               "sandbox dashboard, put it in .env, restart the kernel."
               if mode_now == "sandbox" else
               "copy the key again from the API keys page (the whole key, nothing around it), or "
               "create a new one; put it in .env and restart the kernel.")
        return CheckLine("FAIL", "API", f"the key was rejected (401 {error.code or 'unauthorized'})", fix)
    except openai.APIStatusError as error:
        return CheckLine("FAIL", "API", f"error {error.status_code} {error.code or ''}".rstrip(),
                         "`python3 course.py doctor` explains most errors; lesson 04 covers all of them.")
    if model in ids:
        return CheckLine("OK", "API", f"reachable: client.models.list() answered through the official SDK; {model} is available")
    return CheckLine("WARN", "API", f"reachable, but {model} (the course's model) is not in your model list",
                     "the lessons may need another model; see keylab.pricing.MODELS for the choices.")


# ---------------------------------------------------------------- all together


def check_environment(
    env_file: str | os.PathLike[str] | None = None,
    *,
    reach_api: bool = True,
    timeout: float = 10.0,
    python_version: Sequence[int] | None = None,
) -> WelcomeReport:
    """Run every check (loading `.env` into this process like `load_env()`) and return the lines."""
    report = WelcomeReport([check_python(python_version)])
    report += [check_package(*spec) for spec in REQUIRED_PACKAGES]
    report.append(check_encodings())
    report.append(check_env_file(load_env(env_file)))
    environ = dict(os.environ)
    key_line, kind = check_key(environ)
    report.append(key_line)
    mode_line = check_mode(environ, kind)
    report.append(mode_line)
    if not reach_api:
        return report
    if key_line.level == "FAIL" or mode_line.level == "FAIL":
        report.append(CheckLine("SKIP", "API", "not called until the lines above are fixed"))
    else:
        report.append(check_api(environ, timeout=timeout))
    return report


def welcome_check(env_file: str | os.PathLike[str] | None = None, **kwargs: Any) -> WelcomeReport:
    """Print the environment check for lesson 00 and return it."""
    report = check_environment(env_file, **kwargs)
    print(report)
    return report


__all__ = [
    "CheckLine",
    "WelcomeReport",
    "check_api",
    "check_encodings",
    "check_env_file",
    "check_environment",
    "check_key",
    "check_mode",
    "check_package",
    "check_python",
    "welcome_check",
]

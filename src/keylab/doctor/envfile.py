"""Read a `.env` file the way python-dotenv does, keeping line numbers of the lines it cannot use.

`load_dotenv()` only logs "could not parse statement starting at line N" and moves on, and a
bare key pasted without `OPENAI_API_KEY=` in front is silently read as a variable *name*. The
doctor needs both facts, and line numbers, without ever showing the line itself.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

from dotenv.parser import parse_stream

from keylab.keys import looks_real, looks_sandbox

_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*\Z")
_NEWLINE_RE = re.compile(r"\r\n|\n|\r")

REASONS = {
    "unparseable": "python-dotenv cannot read it",
    "key-without-name": "it holds a value with no NAME= in front",
    "invalid-name": "the name before = is not a valid variable name (shell syntax such as $env: ?)",
    "not-utf8": "the file is not UTF-8 text (PowerShell's `echo ... > .env` writes UTF-16; "
    "save it again as UTF-8)",
}


@dataclass(frozen=True)
class BadLine:
    """A line keylab cannot use, by number and reason (see REASONS); line 0 means the whole file."""

    line: int
    reason: str

    def describe(self) -> str:
        where = "the file" if self.line == 0 else f"line {self.line}"
        return f"{where}: {REASONS[self.reason]}"


@dataclass(frozen=True)
class EnvFile:
    """The parsed contents of one `.env`: values (last one wins, no `${VAR}` expansion) and bad lines."""

    path: Path
    values: dict[str, str | None]
    bad_lines: tuple[BadLine, ...]
    crlf: bool


def read_env_file(path: Path) -> EnvFile:
    """Parse `path` with python-dotenv's parser. Never raises for bad content."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return EnvFile(path, {}, (BadLine(0, "not-utf8"),), b"\r\n" in raw)
    text = text.replace("\r\n", "\n").replace("\r", "\n")  # what open() in text mode does
    values: dict[str, str | None] = {}
    bad: list[BadLine] = []
    for binding in parse_stream(io.StringIO(text)):
        line = _first_content_line(binding.original.string, binding.original.line)
        if binding.error:
            bad.append(BadLine(line, "unparseable"))
            continue
        name = binding.key
        if name is None:
            continue
        if _looks_like_key(name):
            bad.append(BadLine(line, "key-without-name"))
            continue
        if not _NAME_RE.match(name):
            bad.append(BadLine(line, "invalid-name"))
            continue
        values[name] = binding.value
    return EnvFile(path, values, tuple(bad), b"\r\n" in raw)


def _first_content_line(original: str, start_line: int) -> int:
    """The parser's line number points at leading blank lines; skip them."""
    leading = original[: len(original) - len(original.lstrip())]
    return start_line + len(_NEWLINE_RE.findall(leading))


def _looks_like_key(name: str) -> bool:
    return name.startswith("sk-") or looks_real(name) or looks_sandbox(name)

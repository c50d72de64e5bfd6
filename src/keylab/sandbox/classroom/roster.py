"""Reading a class roster: a CSV file with a header row naming at least `name` and `email`.

Rosters come from spreadsheets, so the reader accepts what spreadsheets write (a UTF-8 byte-order
mark, `;` as the separator, blank lines, extra columns, any case and spacing in the header) and
refuses, with the line numbers, what would give a student the wrong account: a missing column,
an empty or malformed email, the same email twice.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from keylab.sandbox.auth.flow import EMAIL_RE

REQUIRED_COLUMNS = ("name", "email")


class RosterError(ValueError):
    """The roster cannot be used as it is; the message says where and how to fix it."""


@dataclass(frozen=True)
class RosterEntry:
    name: str
    email: str  # lower-cased: the platform treats emails case-insensitively
    line: int


def read_roster(path: str | Path) -> list[RosterEntry]:
    """The students of the roster file at `path` (see `parse_roster`)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise RosterError(f"No roster file at {path}. Give the path of a CSV file with the columns name,email.") from None
    except OSError as error:
        raise RosterError(f"Could not read the roster {path}: {error.strerror}.") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RosterError(f"The roster {path} is not UTF-8 text. In your spreadsheet, save it as "
                          "\"CSV UTF-8 (comma delimited)\" and try again.") from None
    return parse_roster(text, source=str(path))


def parse_roster(text: str, *, source: str = "the roster") -> list[RosterEntry]:
    """Parse roster text into entries, in file order. Raises RosterError listing every problem."""
    text = text.removeprefix("\ufeff")
    lines = text.splitlines()
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise RosterError(f"{source} is empty. Write a header line `name,email`, then one student per line.")
    delimiter = ";" if lines[first].count(";") > lines[first].count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header: list[str] | None = None
    columns: dict[str, int] = {}
    entries: list[RosterEntry] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if header is None:
            header = [cell.strip().lower() for cell in row]
            missing = [name for name in REQUIRED_COLUMNS if name not in header]
            if missing:
                found = ", ".join(cell for cell in header if cell) or "nothing"
                raise RosterError(
                    f"{source}, line {line}: the header must name the columns name and email "
                    f"(missing: {', '.join(missing)}; found: {found}). Put `name,email` as the first line."
                )
            columns = {name: header.index(name) for name in REQUIRED_COLUMNS}
            continue
        cells = [row[columns[name]].strip() if columns[name] < len(row) else "" for name in REQUIRED_COLUMNS]
        name, email = cells[0], cells[1].lower()
        if not email:
            problems.append(f"line {line}: no email")
            continue
        if not EMAIL_RE.match(email):  # what sign-up and alert recipients accept
            problems.append(f"line {line}: {email!r} is not an email address")
            continue
        if email in seen:
            problems.append(f"line {line}: {email} is already on line {seen[email]}")
            continue
        seen[email] = line
        entries.append(RosterEntry(name or email.split("@")[0], email, line))
    if problems:
        listed = "; ".join(problems[:10]) + (f"; and {len(problems) - 10} more" if len(problems) > 10 else "")
        raise RosterError(f"{source} has {len(problems)} problem(s): {listed}. Fix them and run the command "
                          "again; nothing was created.")
    if not entries:
        raise RosterError(f"{source} has a header but no students. Add one line per student: name,email.")
    return entries

"""How a doctor's report looks: plain text for people, JSON for tools. Masked values only."""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from keylab.doctor.finding import Finding
from keylab.environment import Status

_WIDTH = 96


class Findings(list[Finding]):
    """The list `doctor()` returns; in a notebook it echoes as one short line, not a wall of reprs."""

    def summary(self) -> str:
        if not self:
            return "No problems found."
        return f"{len(self)} problem(s): " + ", ".join(f"{f.code} {f.name}" for f in self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.summary())


@dataclass(frozen=True)
class Report:
    """Everything one doctor run found: the findings, notes on skipped checks, and where it looked."""

    findings: tuple[Finding, ...]
    notes: tuple[str, ...]
    env_file: Path | None
    looked_in: str
    status: Status
    api: str = "not checked"

    @property
    def ok(self) -> bool:
        """True when nothing of severity "error" was found (warnings are allowed)."""
        return not any(f.severity == "error" for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "env_file": str(self.env_file) if self.env_file else None,
            "mode": self.status.mode,
            "base_url": self.status.base_url,
            "key": self.status.key_masked,
            "key_kind": self.status.key_kind.value,
            "api": self.api,
            "findings": [f.to_dict() for f in self.findings],
            "notes": list(self.notes),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def to_text(self) -> str:
        env_line = str(self.env_file) if self.env_file else f"not found (looked in {self.looked_in})"
        out = ["keylab doctor", f"  .env: {env_line}"]
        out += ["  " + line for line in self.status.lines()]
        out.append(f"  API:  {self.api}")
        out.append("")
        if not self.findings:
            out.append("All clear: no problems found.")
        else:
            errors = sum(f.severity == "error" for f in self.findings)
            warnings = len(self.findings) - errors
            counts = [_count(n, word) for n, word in ((errors, "error"), (warnings, "warning")) if n]
            out.append(f"Found {' and '.join(counts)}:")
            for finding in self.findings:
                out.append("")
                out.append(f"{finding.severity.upper()} {finding.code} {finding.name}: {finding.title}")
                out += _wrapped("What we found: ", finding.detail)
                out += _wrapped("What to do:    ", finding.fix)
        if self.notes:
            out.append("")
            out.append("Notes:")
            for note in self.notes:
                out += _wrapped("- ", note)
        return "\n".join(out)

    def __str__(self) -> str:
        return self.to_text()


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _wrapped(label: str, text: str) -> list[str]:
    return textwrap.wrap(text, width=_WIDTH, initial_indent="  " + label,
                         subsequent_indent="  " + " " * len(label), break_on_hyphens=False,
                         break_long_words=False)

"""One problem found in a learner's set-up, built from the codes table so wording cannot drift."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from keylab.doctor.codes import Problem, Severity, problem


@dataclass(frozen=True)
class Finding:
    """A problem: stable `code`/`name`, `severity`, one-line `title`, what was seen, what to do.

    `detail` and `data` hold only names, paths, line numbers and masked values, never a key.
    """

    code: str
    name: str
    severity: Severity
    title: str
    detail: str
    fix: str
    data: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, code: str, detail: str, **data: Any) -> Finding:
        """Make a finding for problem `code` (or its name) with this detail and extra data."""
        p: Problem = problem(code)
        return cls(p.code, p.name, p.severity, p.title, detail, p.fix, MappingProxyType(dict(data)))

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape: code, name, severity, title, detail, fix, then any extra data."""
        out: dict[str, Any] = {
            "code": self.code,
            "name": self.name,
            "severity": self.severity,
            "title": self.title,
            "detail": self.detail,
            "fix": self.fix,
        }
        for key, value in self.data.items():
            out.setdefault(key, value)
        return out

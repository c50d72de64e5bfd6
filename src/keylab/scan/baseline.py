"""Known findings a team has dealt with (a revoked key still in old history): accepted, not reported.

A baseline is the JSON output of an earlier scan (`keylab scan --format json > .keylab-baseline.json`).
It holds key fingerprints (SHA-256) and masked forms, never a key, so it can be committed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from keylab.scan.detect import Finding


class BaselineError(ValueError):
    """The baseline file cannot be used; the message says how to make a good one."""


def load_baseline(path: Path) -> set[tuple[str, str]]:
    """(path, fingerprint) pairs accepted by the baseline file."""
    how = f"make one with `keylab scan --format json > {path}`"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise BaselineError(f"baseline {path} does not exist: {how}") from error
    except (OSError, ValueError) as error:
        raise BaselineError(f"baseline {path} is not readable JSON ({error}): {how}") from error
    entries = data.get("findings") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise BaselineError(f"baseline {path} has no \"findings\" list: {how}")
    return {(str(e.get("path")), str(e.get("fingerprint"))) for e in entries if isinstance(e, dict)}


def filter_known(findings: Iterable[Finding], known: set[tuple[str, str]]) -> list[Finding]:
    return [f for f in findings if (f.path, f.fingerprint) not in known]

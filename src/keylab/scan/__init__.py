"""`keylab scan`: find OpenAI API keys in files, notebooks and git history, and show them only masked.

`detect` knows what a key looks like (reusing keylab.keys), `sources` turns files, notebooks and
history into lines to look at, `report` prints findings as text, JSON or SARIF, and `baseline`
accepts findings someone has already dealt with.
"""

from __future__ import annotations

from keylab.scan.baseline import filter_known, load_baseline
from keylab.scan.detect import Finding, KeyHit, find_keys
from keylab.scan.sources import scan_history, scan_paths

__all__ = ["Finding", "KeyHit", "filter_known", "find_keys", "load_baseline", "scan_history", "scan_paths"]

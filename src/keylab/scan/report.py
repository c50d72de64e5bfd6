"""Findings as text for people, JSON for scripts and SARIF 2.1.0 for code-scanning tools.

Every format shows keys masked (`sk-proj-...abcd`) and a SHA-256 fingerprint, never the key.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from keylab.platform_facts import API_KEYS_URL, KEY_SAFETY_URL
from keylab.scan.detect import REAL, Finding

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFO_URL = KEY_SAFETY_URL
RULES = {
    REAL: ("openai-api-key", "OpenAI API key",
           "An OpenAI API key is in this file. Revoke it first on the API keys page, then rotate "
           "(`keylab rotate`), then remove it from the file and from history."),
    "sandbox": ("keylab-sandbox-key", "keylab sandbox key",
                "A keylab sandbox key. It works only against a local sandbox, but treat it as a secret anyway."),
}


def _place(f: Finding) -> str:
    place = f"{f.path}:{f.line}"
    if f.where:
        place += f" ({f.where})"
    if f.commit:
        place += f" in commit {f.commit}"
    return place


def to_text(findings: Sequence[Finding], scanned: str) -> str:
    if not findings:
        return f"keylab scan: no keys found. Scanned: {scanned}"
    lines = []
    for f in findings:
        label = "REAL KEY" if f.kind == REAL else "sandbox key (harmless outside this course)"
        note = "  [git-ignored: not committed, but still on disk]" if f.ignored else ""
        lines.append(f"{_place(f)}: {label} {f.masked}{note}\n    {f.excerpt}")
    real = sum(f.kind == REAL for f in findings)
    lines.append(f"\n{len(findings)} finding(s), {real} real. Scanned: {scanned}. Keys are shown masked.")
    if real:
        lines.append(f"Next: revoke each real key first ({API_KEYS_URL}), rotate it "
                     "(`keylab rotate`), then remove it from the files and from git history.")
    return "\n".join(lines)


def to_json(findings: Sequence[Finding]) -> str:
    return json.dumps({"findings": [f.to_dict() for f in findings]}, indent=2)


def to_sarif(findings: Sequence[Finding], version: str) -> str:
    kinds = sorted({f.kind for f in findings} | {REAL})
    rules = [{"id": RULES[k][0], "name": RULES[k][1].title().replace(" ", ""),
              "shortDescription": {"text": RULES[k][1]}, "fullDescription": {"text": RULES[k][2]},
              "helpUri": INFO_URL,
              "defaultConfiguration": {"level": "error" if k == REAL else "note"}} for k in kinds]
    results = []
    for f in findings:
        location = {"physicalLocation": {"artifactLocation": {"uri": f.path},
                                         "region": {"startLine": max(f.line, 1), "snippet": {"text": f.excerpt}}}}
        if f.where:
            location["message"] = {"text": f.where}
        result = {
            "ruleId": RULES[f.kind][0],
            "level": "error" if f.kind == REAL else "note",
            "message": {"text": f"{RULES[f.kind][1]} {f.masked}" + (f" added in commit {f.commit}" if f.commit else "")},
            "locations": [location],
            "partialFingerprints": {"keyHash/v1": f.fingerprint},
        }
        if f.commit:
            result["properties"] = {"commit": f.commit}
        results.append(result)
    log = {"version": "2.1.0", "$schema": SARIF_SCHEMA, "runs": [{
        "tool": {"driver": {"name": "keylab-scan", "version": version, "informationUri": INFO_URL, "rules": rules}},
        "results": results,
    }]}
    return json.dumps(log, indent=2)

"""Checks on the value of OPENAI_API_KEY and OPENAI_BASE_URL (pure functions, no I/O).

Each check reports what is wrong with the value using masked forms only. The key is first
"cleaned" (whitespace, quotes and a `Bearer ` prefix removed) so that one copy-paste slip does
not hide the next, e.g. a quoted *and* truncated key gives two findings.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from keylab.doctor.finding import Finding
from keylab.environment import LIVE_HOST, is_live_url, is_loopback_url, safe_url
from keylab.keys import (
    KEY_PREFIXES,
    REAL_MARKER,
    SANDBOX_MARKER,
    KeyInfo,
    KeyKind,
    classify,
    key_prefix,
    mask,
)

QUOTES = "'\"\u201c\u201d\u2018\u2019`"
_BEARER_RE = re.compile(r"bearer[\s:]+", re.IGNORECASE)
LEGACY_KEY_LENGTH = 51  # sk- + 20 + marker + 20 (facts.md section 3)
_DRIFT_WORDS = ("KEY", "TOKEN", "SECRET")
_NOT_DRIFT = {"OPENAI_API_KEY", "OPENAI_ADMIN_KEY"}


def clean_key(value: str) -> str:
    """The key with surrounding whitespace, quotes and a `Bearer ` prefix removed."""
    core = value.strip().strip(QUOTES).strip()
    match = _BEARER_RE.match(core)
    if match:
        core = core[match.end():].strip().strip(QUOTES).strip()
    return core


def check_key_value(value: str, where: str, var: str = "OPENAI_API_KEY") -> tuple[list[Finding], KeyInfo]:
    """Findings for one key value, and the classification of its cleaned form.

    `where` names the source for the learner ("your shell environment", ".env").
    """
    found: list[Finding] = []
    raw_info = classify(value)
    if raw_info.kind is KeyKind.PLACEHOLDER:
        found.append(Finding.of("KD007", f"{var} in {where} is {mask(value)}, a placeholder.", variable=var))
        return found, raw_info
    outer = value.strip(" \t")
    if outer[:1] in "\r\n" or outer[-1:] in "\r\n":
        what = "a Windows line ending (\\r)" if "\r" in (outer[:1] + outer[-1:]) else "a line break (\\n)"
        found.append(Finding.of("KD010", f"{var} in {where} has {what} at its edge.", variable=var))
    unquoted = value.strip()
    if unquoted[:1] in QUOTES or unquoted[-1:] in QUOTES:
        found.append(Finding.of("KD008", f"{var} in {where} starts or ends with a quote mark.", variable=var))
    if _BEARER_RE.match(unquoted.strip(QUOTES).strip()):
        found.append(Finding.of("KD011", f"{var} in {where} starts with 'Bearer'.", variable=var))
    core = clean_key(value)
    edge_space = value.strip("\r\n")[:1] in " \t" or value.strip("\r\n")[-1:] in " \t"
    inner_space = any(ch.isspace() for ch in core)
    if edge_space or inner_space:
        spot = " and ".join(s for s, on in (("around it", edge_space), ("inside it", inner_space)) if on)
        found.append(Finding.of("KD009", f"{var} in {where} has whitespace {spot}.", variable=var))
    info = classify(core)
    if info.kind is KeyKind.PLACEHOLDER:
        found.append(Finding.of("KD007", f"{var} in {where} is {mask(core)}, a placeholder.", variable=var))
        return found, info
    short = truncation("".join(core.split()))
    if short:
        found.append(Finding.of("KD012", f"{var} in {where} ({mask(core)}): {short}.", variable=var))
    elif info.kind is KeyKind.MALFORMED and not inner_space:
        found.append(Finding.of("KD013", f"{var} in {where} ({mask(core)}): {info.problem}.", variable=var))
    return found, info


def truncation(key: str) -> str:
    """Why `key` looks cut off, or "" when it does not. Works for real and sandbox shapes."""
    prefix = key_prefix(key)
    if not prefix:
        return ""
    for marker in (REAL_MARKER, SANDBOX_MARKER):
        at = key.find(marker)
        if at < 0:
            continue
        before = at - len(prefix)
        after = len(key) - at - len(marker)
        if after < before:
            return (f"it is {len(key)} characters long and its second half is "
                    f"{before - after} characters short")
        return ""
    if prefix == "sk-":
        full = LEGACY_KEY_LENGTH
    else:  # the shorter of the two real lengths (58-character halves), facts.md section 3
        full = len(prefix) + 2 * min(KEY_PREFIXES.get(prefix, 58), 58) + len(REAL_MARKER)
    if len(key) < full:
        return f"it is {len(key)} characters long; a {prefix}... key has at least {full}"
    return ""


def is_name_drift(name: str) -> bool:
    """A variable name that was probably meant to be OPENAI_API_KEY (OPENAI_KEY, OPEN_AI_API_KEY...)."""
    if name in _NOT_DRIFT or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        return False
    squashed = re.sub(r"[^A-Z0-9]", "", name.upper())
    return "OPENAI" in squashed and any(word in squashed for word in _DRIFT_WORDS)


def check_base_url(url: str | None, where: str, key_kind: KeyKind) -> list[Finding]:
    """Findings for OPENAI_BASE_URL given the kind of key that will be sent to it."""
    if url is None or not url.strip():
        if key_kind is KeyKind.SANDBOX:
            return [Finding.of(
                "KD014", "The key is a sandbox key and OPENAI_BASE_URL is not set, so the SDK would "
                f"send it to https://{LIVE_HOST}/v1.",
            )]
        return []
    shown_url = safe_url(url)
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError:
        parts, host = None, None
    if parts is None or parts.scheme not in ("http", "https") or not host:
        return [Finding.of("KD016", f"OPENAI_BASE_URL in {where} is {shown_url!r}.", url=shown_url)]
    found: list[Finding] = []
    if not parts.path.rstrip("/").endswith("/v1"):
        found.append(Finding.of("KD017", f"OPENAI_BASE_URL in {where} is {shown_url}.", url=shown_url))
    if key_kind is KeyKind.SANDBOX and is_live_url(url):
        found.append(Finding.of(
            "KD014", f"The key is a sandbox key and OPENAI_BASE_URL in {where} is {shown_url}.",
            url=shown_url,
        ))
    if key_kind is KeyKind.REAL and is_loopback_url(url):
        found.append(Finding.of(
            "KD015", f"The key is a real OpenAI key and OPENAI_BASE_URL in {where} is {shown_url}.",
            url=shown_url,
        ))
    return found

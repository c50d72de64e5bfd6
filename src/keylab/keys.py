"""What an OpenAI API key looks like, and how keylab tells real keys from sandbox keys.

Real keys carry the marker ``T3BlbkFJ`` (base64 of "OpenAI") that secret scanners key on.
Sandbox keys have the same prefixes and lengths but carry ``a2V5bGFi`` (base64 of "keylab")
instead, so no sandbox key can ever trip GitHub push protection or be mistaken for a real one.
Sources: docs/sources.md, "API key formats" (gitleaks, trufflehog and detect-secrets rules).
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass
from enum import Enum

# Assembled at import time so this file itself never holds the marker next to a key shape.
REAL_MARKER = "T3Blbk" + "FJ"
SANDBOX_MARKER = "a2V5bGFi"

_BODY_ALPHABET = string.ascii_letters + string.digits + "_-"

# prefix -> length of each half around the marker (real keys: docs/sources.md)
KEY_PREFIXES: dict[str, int] = {
    "sk-proj-": 74,
    "sk-svcacct-": 74,
    "sk-admin-": 58,
}

ENV_EXAMPLE_PLACEHOLDER = "sk-your-key-here"  # the value in the course's .env.example

# What placeholders are made of: "sk-your-key-here" (.env.example), "YOUR_API_KEY", "<your key>",
# "sk-proj-REPLACE_ME", "paste-your-openai-api-key-here", "OPENAI_API_KEY" typed as its own value.
# A value is a placeholder only when EVERY word of it (after the key prefix) is one of these, or a
# run of x's, so a real key's random body (dozens of characters between its few - and _) never is.
PLACEHOLDER_WORDS = frozenset({
    "a", "actual", "add", "ai", "an", "api", "change", "changeme", "enter", "example", "fake", "fixme",
    "goes", "here", "insert", "key", "me", "my", "open", "openai", "own", "paste", "placeholder", "put",
    "real", "redacted", "replace", "replaceme", "secret", "the", "this", "todo", "token", "value", "with",
    "your", "yours",
})
# Characters a placeholder's "body" may be made of alone: "sk-...", "sk-xxxx", "sk-proj-****", "…".
# Plain and curly quote marks: python-dotenv removes plain ones around a .env value, but cmd's
# `set NAME="..."` keeps them and curly ones pasted from a document are never removed.
QUOTE_MARKS = "'\"\u201c\u201d\u2018\u2019"
_QUOTE_CHARS = QUOTE_MARKS + "`"  # and backticks, pasted from Markdown
# The words example text puts between dashes around a key-shaped string: `sk-your-key-here-…T3Blb…`.
EXAMPLE_WORDS = frozenset({"your", "key", "here", "replace", "placeholder", "example", "own", "put"})
_FILLER_CHARS = frozenset(".x*…•_- ")
_WORD_RE = re.compile(r"[a-z0-9]+")

_REAL_KEY_RE = re.compile(r"sk-[A-Za-z0-9_-]*" + REAL_MARKER + r"[A-Za-z0-9_-]+")
_SANDBOX_KEY_RE = re.compile(r"sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]+" + SANDBOX_MARKER + r"[A-Za-z0-9_-]+")


class KeyKind(str, Enum):
    """What a string that claims to be an API key most likely is."""

    EMPTY = "empty"
    PLACEHOLDER = "placeholder"
    REAL = "real"
    SANDBOX = "sandbox"
    MALFORMED = "malformed"


@dataclass(frozen=True)
class KeyInfo:
    kind: KeyKind
    prefix: str
    length: int
    problem: str = ""


# byte -> one of the 64 body characters: 256 is a multiple of 64, so every character is equally likely.
_BYTE_TO_BODY = bytes(ord(_BODY_ALPHABET[byte % 64]) for byte in range(256))


def _random_key(prefix: str, marker: str) -> str:
    half = KEY_PREFIXES[prefix]
    body = secrets.token_bytes(2 * half).translate(_BYTE_TO_BODY).decode("ascii")  # one OS read, not one per character
    return f"{prefix}{body[:half]}{marker}{body[half:]}"


def generate_sandbox_key(prefix: str = "sk-proj-") -> str:
    """A fresh sandbox key: realistic prefix and length, sandbox marker in the middle."""
    return _random_key(prefix, SANDBOX_MARKER)


def real_shaped_key(prefix: str = "sk-proj-") -> str:
    """A random string with the *shape* of a real key (never a working one), for tests and lab
    exercises that must show what keylab does with a real key. Built at run time, so no file ever
    holds a real-key-shaped literal."""
    return _random_key(prefix, REAL_MARKER)


def key_prefix(key: str) -> str:
    for prefix in KEY_PREFIXES:
        if key.startswith(prefix):
            return prefix
    return "sk-" if key.startswith("sk-") else ""


def looks_real(key: str) -> bool:
    """True when the string carries the marker of a real OpenAI key."""
    # The substring test first: the sandbox asks this of every request's key, and nearly none has it.
    return REAL_MARKER in key and bool(_REAL_KEY_RE.search(key))


def looks_sandbox(key: str) -> bool:
    return bool(_SANDBOX_KEY_RE.fullmatch(key))


def is_placeholder(key: str) -> bool:
    """True for a stand-in such as ``sk-your-key-here``, ``sk-...``, ``<your key>`` or ``YOUR_API_KEY``.

    Never true for a real key: a real key's body is dozens of random characters, and a value is a
    placeholder only if its body is filler characters alone, ends with an ellipsis, or is made only
    of placeholder words (see PLACEHOLDER_WORDS). Looking for "your" or "here" anywhere would call
    about one random key in 1,500 a placeholder.
    """
    text = key.strip().strip(_QUOTE_CHARS).strip().lower()
    if not text:
        return False
    body = text
    for prefix in ("sk-proj-", "sk-svcacct-", "sk-admin-", "sk-none-", "sk-"):
        if body.startswith(prefix):
            body = body[len(prefix):]
            break
    if not body:
        return False  # a bare prefix: an incomplete key, not a placeholder
    if set(body) <= _FILLER_CHARS or text.endswith(("...", "\u2026")):
        return True
    words = _WORD_RE.findall(body)
    return bool(words) and all(word in PLACEHOLDER_WORDS or set(word) == {"x"} for word in words)



def spells_placeholder_words(text: str) -> bool:
    """True when two or more of EXAMPLE_WORDS stand between dashes or underscores in `text`: example
    text shaped like a key (`sk-your-key-here-…`). A random key body has no such whole words."""
    words = {part.lower() for part in re.split(r"[-_]", text)}
    return len(words & EXAMPLE_WORDS) >= 2



def classify(key: str | None) -> KeyInfo:
    """Classify a key string without ever returning it: kind, prefix, length and the first problem."""
    if not key:
        return KeyInfo(KeyKind.EMPTY, "", 0, "the value is empty")
    prefix = key_prefix(key)
    if is_placeholder(key):
        where = "the placeholder from .env.example" if ENV_EXAMPLE_PLACEHOLDER in key else "a placeholder, not a key"
        return KeyInfo(KeyKind.PLACEHOLDER, prefix, len(key), f"this is {where}")
    problem = ""
    if key != key.strip():
        problem = "it has spaces or a newline around it"
    elif key[:1] in QUOTE_MARKS or key[-1:] in QUOTE_MARKS:
        problem = "it is wrapped in quotes"
    elif key.lower().startswith("bearer "):
        problem = "it starts with 'Bearer ' (the SDK adds that itself)"
    elif any(ch.isspace() for ch in key):
        problem = "it has a space inside"
    if looks_real(key):
        return KeyInfo(KeyKind.REAL, prefix, len(key), problem)
    if SANDBOX_MARKER in key:
        if problem:
            return KeyInfo(KeyKind.MALFORMED, prefix, len(key), problem)
        if looks_sandbox(key) and _expected_length(prefix) == len(key):
            return KeyInfo(KeyKind.SANDBOX, prefix, len(key))
        return KeyInfo(
            KeyKind.MALFORMED, prefix, len(key),
            f"it is {len(key)} characters long, a full {prefix}… key has {_expected_length(prefix)}: "
            "it was probably cut off when copied",
        )
    if not prefix:
        return KeyInfo(KeyKind.MALFORMED, "", len(key), problem or "it does not start with 'sk-'")
    return KeyInfo(KeyKind.MALFORMED, prefix, len(key), problem or "it has neither the real nor the sandbox key shape")


def _expected_length(prefix: str) -> int:
    return len(prefix) + 2 * KEY_PREFIXES.get(prefix, 0) + 8


def mask(key: str) -> str:
    """The masked form keylab shows anywhere a key is displayed: prefix, an ellipsis, the last four."""
    if not key:
        return "(empty)"
    if len(key) <= 12:
        return "*" * len(key)
    prefix = key_prefix(key) or key[:3]
    return f"{prefix}...{key[-4:]}"


def mask_like_openai(key: str) -> str:
    """The masking the real API uses in 'Incorrect API key provided' (first 8, stars, last 4)."""
    if len(key) <= 12:
        return key
    return key[:8] + "*" * (len(key) - 12) + key[-4:]


__all__ = [
    "KEY_PREFIXES",
    "PLACEHOLDER_WORDS",
    "REAL_MARKER",
    "SANDBOX_MARKER",
    "KeyInfo",
    "KeyKind",
    "classify",
    "generate_sandbox_key",
    "is_placeholder",
    "key_prefix",
    "looks_real",
    "looks_sandbox",
    "mask",
    "mask_like_openai",
    "real_shaped_key",
]

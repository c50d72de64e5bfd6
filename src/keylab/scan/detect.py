"""What counts as a key in a line of text, what is only a decoy, and the finding that reports it.

A real key is `sk-`, an optional kind (`proj-`, `svcacct-`, `admin-`, `None-`, …), a body and the
real-key marker from keylab.keys; sandbox keys carry the sandbox marker instead. Requiring a marker is
what keeps placeholders, masked keys (`sk-proj-...abcd`), `sk-learn` and random strings of key length
out. Decoys that do carry a marker (`sk-XXXX…T3Bl…XXXX` in documentation) are caught by their
low-entropy body.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from dataclasses import asdict, dataclass

from keylab.keys import KEY_PREFIXES, REAL_MARKER, SANDBOX_MARKER, spells_placeholder_words

_BODY = r"[A-Za-z0-9_-]"
# No left boundary on purpose: a key right after `\n` in a JSON string or after an ANSI colour code
# (`...[31msk-proj-…`) has a letter before it, which is where `\b`-anchored rules miss it.
_KEY_RE = re.compile(
    rf"sk-{_BODY}{{16,}}?(?P<marker>{REAL_MARKER}|{SANDBOX_MARKER}){_BODY}{{16,}}"
)
# Terminal colour codes, raw (ESC) or as they are written inside JSON and source strings.
_ANSI_RE = re.compile(r"(?:\x1b|\\u001b|\\x1b|\\033|\\e)\[[0-9;]*[A-Za-z]")
_FRAGMENT_RE = re.compile(rf"{_BODY}*(?:{REAL_MARKER}|{SANDBOX_MARKER}){_BODY}*")
# Below this many bits per character the body is a pattern someone typed (xxxx, 0000, abcabc), not a key.
MIN_ENTROPY = 3.0

REAL = "real"
SANDBOX = "sandbox"


@dataclass(frozen=True)
class KeyHit:
    """A key found in a text: `text[start:end]` (positions after colour codes are removed), its kind
    (real/sandbox), its type (`sk-proj-`…) and its masked form."""

    start: int
    end: int
    kind: str
    prefix: str
    masked: str
    fingerprint: str


@dataclass(frozen=True)
class Finding:
    """One key at one place. `excerpt` is the line with every key in it masked; the key is never kept."""

    path: str
    line: int
    kind: str
    key_type: str
    masked: str
    excerpt: str
    fingerprint: str
    commit: str | None = None
    where: str | None = None
    ignored: bool = False

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def masked_key(key: str) -> str:
    """Kind and last four characters, the way the dashboard shows a key: `sk-proj-...abcd`."""
    return f"{key_type(key)}...{key[-4:]}"


def fingerprint(key: str) -> str:
    """A SHA-256 of the key: lets a baseline recognise a key without anyone storing it."""
    return hashlib.sha256(key.encode()).hexdigest()


def strip_ansi(text: str) -> str:
    return _ANSI_RE.sub("", text) if ("\x1b" in text or "\\" in text) else text


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def is_decoy(key: str, marker: str) -> bool:
    """A string with a key's shape that nobody could use: a placeholder or a typed pattern.

    A match always carries the marker, so `keys.is_placeholder` (whole placeholder strings) never
    applies; example text that spells placeholder words between dashes does, but only for strings
    without a published key's exact shape, which a real key always has."""
    body = key[len(key_type(key)):].replace(marker, "")  # key_type knows sk-None- too
    if _entropy(body) < MIN_ENTROPY:
        return True
    return spells_placeholder_words(key) and not has_published_shape(key, marker)


def key_type(key: str) -> str:
    """`sk-proj-`, `sk-svcacct-`, `sk-admin-`, `sk-None-` … or `sk-` for the legacy user key."""
    match = re.match(r"sk-([A-Za-z]+)-", key)
    return match.group(0) if match and len(match.group(1)) <= 10 else "sk-"


# Every published shape has the same number of characters on each side of the marker: the lengths
# keylab.keys knows per prefix (74 and 58, also used by sk-proj-/sk-None- keys), and the legacy sk- key's.
LEGACY_HALF = 20
_KNOWN_HALVES = frozenset({*KEY_PREFIXES.values(), LEGACY_HALF})


def has_published_shape(key: str, marker: str) -> bool:
    """Equal halves of a published length around the marker (see keylab.scan.corpus.KEY_SHAPES)."""
    left = key.index(marker) - len(key_type(key))
    return left in _KNOWN_HALVES and len(key) == len(key_type(key)) + 2 * left + len(marker)


def _trimmed(key: str, marker: str) -> str:
    """Cut what a match took past the key's end (bytes after a key in a binary file, say)."""
    left = key.index(marker) - len(key_type(key))
    if left in _KNOWN_HALVES:
        return key[: len(key_type(key)) + 2 * left + len(marker)]
    return key


def has_marker(text: str) -> bool:
    """The cheap test every line passes first: no marker, no key."""
    return REAL_MARKER in text or SANDBOX_MARKER in text


def find_keys(text: str) -> list[KeyHit]:
    """Every key in `text` (colour codes removed first), decoys left out."""
    if not has_marker(text):
        return []
    clean = strip_ansi(text)
    hits = []
    for match in _KEY_RE.finditer(clean):
        key, marker = _trimmed(match.group(0), match.group("marker")), match.group("marker")
        if is_decoy(key, marker):
            continue
        kind = REAL if marker == REAL_MARKER else SANDBOX
        kt = key_type(key)
        hits.append(KeyHit(match.start(), match.start() + len(key), kind, kt, masked_key(key), fingerprint(key)))
    return hits


def masked_excerpt(text: str, limit: int = 120) -> str:
    """The line with every key (decoys too) replaced by its masked form, cut to `limit` characters."""
    clean = strip_ansi(text).strip()
    out = _KEY_RE.sub(lambda m: masked_key(_trimmed(m.group(0), m.group("marker"))), clean)
    out = _FRAGMENT_RE.sub("[redacted]", out)  # a cut-off key is still most of a key
    out = "".join(ch if ch.isprintable() else " " for ch in out)  # bytes around a key in a binary file
    if len(out) > limit:
        first = out.find("...")
        start = max(0, min(first - limit // 3, len(out) - limit)) if first >= 0 else 0
        out = ("…" if start else "") + out[start:start + limit] + ("…" if start + limit < len(out) else "")
    return out

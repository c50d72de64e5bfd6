"""keylab.keys: telling real, sandbox, placeholder and broken keys apart, and masking them.

Real-looking keys are assembled at run time from REAL_MARKER so this file holds no string a
secret scanner would flag.
"""

from __future__ import annotations

import secrets
import string
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keylab.keys import (
    KEY_PREFIXES,
    PLACEHOLDER_WORDS,
    REAL_MARKER,
    SANDBOX_MARKER,
    KeyKind,
    classify,
    generate_sandbox_key,
    is_placeholder,
    looks_real,
    looks_sandbox,
    mask,
    mask_like_openai,
    real_shaped_key,
)


def real_key(prefix: str = "sk-proj-", half: int = 74) -> str:
    return prefix + "A" * half + REAL_MARKER + "b" * half


@pytest.mark.parametrize(("prefix", "length"), [("sk-proj-", 164), ("sk-admin-", 133), ("sk-svcacct-", 167)])
def test_generated_keys_have_real_lengths(prefix: str, length: int) -> None:
    """Sandbox keys are as long as real ones of the same kind (facts.md §3), so length checks teach true things."""
    key = generate_sandbox_key(prefix)
    assert len(key) == length and key.startswith(prefix)
    assert classify(key).kind is KeyKind.SANDBOX


def test_generated_keys_never_carry_the_real_marker() -> None:
    """The sandbox marker replaces the real one; no random body may spell the real marker by chance."""
    for _ in range(300):
        for prefix in KEY_PREFIXES:
            key = generate_sandbox_key(prefix)
            assert REAL_MARKER not in key and SANDBOX_MARKER in key
            assert not looks_real(key)


@pytest.mark.parametrize(("value", "kind"), [
    (None, KeyKind.EMPTY),
    ("", KeyKind.EMPTY),
    ("sk-your-key-here", KeyKind.PLACEHOLDER),
    ("sk-...", KeyKind.PLACEHOLDER),
    ("hello", KeyKind.MALFORMED),
    ("sk-proj-abc", KeyKind.MALFORMED),
], ids=["none", "empty", "placeholder", "ellipsis", "no-sk", "unknown-shape"])
def test_classify_simple(value: str | None, kind: KeyKind) -> None:
    assert classify(value).kind is kind


def test_classify_real_keys() -> None:
    for prefix, half in (("sk-proj-", 74), ("sk-admin-", 58), ("sk-svcacct-", 74)):
        info = classify(real_key(prefix, half))
        assert info.kind is KeyKind.REAL and info.prefix == prefix


@pytest.mark.parametrize(("damage", "problem"), [
    (lambda k: k[:-10], "cut off"),
    (lambda k: f'"{k}"', "quotes"),
    (lambda k: k + "\n", "newline"),
    (lambda k: "Bearer " + k, "Bearer"),
], ids=["truncated", "quoted", "trailing-newline", "bearer-prefix"])
def test_classify_explains_broken_sandbox_keys(damage: object, problem: str) -> None:
    """The classic copy-paste accidents each get a named problem, never the key itself."""
    key = generate_sandbox_key()
    info = classify(damage(key))  # type: ignore[operator]
    assert info.kind is KeyKind.MALFORMED
    assert problem in info.problem
    assert key not in info.problem


def test_mask_like_openai() -> None:
    key = generate_sandbox_key()
    masked = mask_like_openai(key)
    assert masked == key[:8] + "*" * (len(key) - 12) + key[-4:]
    assert len(masked) == len(key)
    assert mask_like_openai("sk jj") == "sk jj", "very short keys are echoed, as the real API does"
    assert mask_like_openai("OPENAI_API_KEY") == "OPENAI_A**_KEY"  # openai-python#715


def test_mask_for_display() -> None:
    key = generate_sandbox_key("sk-admin-")
    assert mask(key) == f"sk-admin-...{key[-4:]}"
    assert mask("") == "(empty)" and mask("short") == "*****"


@pytest.mark.parametrize("prefix", sorted(KEY_PREFIXES))
def test_real_shaped_keys_are_recognised_as_real(prefix: str) -> None:
    key = real_shaped_key(prefix)
    assert key.startswith(prefix) and looks_real(key) and not looks_sandbox(key)
    assert classify(key).kind is KeyKind.REAL


# -- placeholders -----------------------------------------------------------------------------------------

PLACEHOLDER_VALUES = [
    "sk-your-key-here", "sk-...", "sk-proj-...", "sk-\u2026", "...", "sk-xxxxxxxxxxxxxxxxxxxx", "sk-proj-XXXX-XXXX",
    "xxx", "sk-****", "<your key>", "<YOUR_OPENAI_API_KEY>", "YOUR_API_KEY", "your-api-key", "your_api_key",
    "your-api-key-here", "your-key-here", "sk-proj-REPLACE_ME", "replace-me", "changeme", "OPENAI_API_KEY",
    "${OPENAI_API_KEY}", "paste-your-openai-api-key-here", "sk-...here", "Insert your key here",
    '"sk-..."', "'sk-your-key-here'", "\u201csk-your-key-here\u201d", "  sk-your-key-here\n",
]
NOT_PLACEHOLDERS = [
    "", "sk-", "sk-proj-", "hello", "sk-proj-abc", "sk-proj-...abcd", "sk-your-key-here-Q3nVx81kd0s9",
    "sk-ant-api03-herehere", "sk-proj-hereXz81kd0s9Lm",
]


@pytest.mark.parametrize("value", PLACEHOLDER_VALUES)
def test_placeholders_are_recognised(value: str) -> None:
    """The placeholders of .env.example, the lessons and other courses' templates."""
    assert is_placeholder(value)
    assert classify(value).kind is KeyKind.PLACEHOLDER


@pytest.mark.parametrize("value", NOT_PLACEHOLDERS)
def test_near_placeholders_are_not(value: str) -> None:
    """An incomplete key, a masked key or a key that merely contains a placeholder word is not one."""
    assert not is_placeholder(value)


def test_the_env_example_placeholder_is_one() -> None:
    assert classify("sk-your-key-here").problem == "this is the placeholder from .env.example"
    assert classify("YOUR_API_KEY").problem == "this is a placeholder, not a key"
    env_example = Path(__file__).resolve().parents[1] / ".env.example"
    line = next(line for line in env_example.read_text().splitlines()
                if line.startswith("OPENAI_API_KEY="))
    assert is_placeholder(line.partition("=")[2])


# Every shape of real key (facts: gitleaks rules): (prefix, body alphabet, length of each half around the marker)
_URL_SAFE = string.ascii_letters + string.digits + "_-"
REAL_SHAPES = [
    ("sk-proj-", _URL_SAFE, 74), ("sk-proj-", _URL_SAFE, 58), ("sk-svcacct-", _URL_SAFE, 74),
    ("sk-svcacct-", _URL_SAFE, 58), ("sk-admin-", _URL_SAFE, 58), ("sk-None-", _URL_SAFE, 74),
    ("sk-", string.ascii_letters + string.digits, 20),  # legacy user keys
]


@st.composite
def real_shaped_keys(draw: st.DrawFn, marker: str = REAL_MARKER) -> str:
    """A key of any real shape; half the time with a placeholder word ("your", "here", …) planted
    in its body, as random keys sometimes have by chance."""
    prefix, alphabet, half = draw(st.sampled_from(REAL_SHAPES))
    body = draw(st.text(alphabet=alphabet, min_size=2 * half, max_size=2 * half))
    if draw(st.booleans()):
        word = draw(st.sampled_from(sorted(PLACEHOLDER_WORDS)))
        word = draw(st.sampled_from([word, word.upper(), word.title()]))
        at = draw(st.integers(0, 2 * half - len(word)))
        body = body[:at] + word + body[at + len(word):]
    return prefix + body[:half] + marker + body[half:]


@settings(max_examples=600, deadline=None)
@given(real_shaped_keys())
def test_real_shaped_keys_are_never_placeholders(key: str) -> None:
    assert not is_placeholder(key)
    assert classify(key).kind is KeyKind.REAL


@settings(max_examples=300, deadline=None)
@given(real_shaped_keys(marker=SANDBOX_MARKER))
def test_sandbox_shaped_keys_are_never_placeholders(key: str) -> None:
    assert not is_placeholder(key)


def test_thousands_of_random_keys_are_not_placeholders() -> None:
    """The figure of the bug report: 'your' or 'here' somewhere in 2 of 3,000 random keys."""
    for _ in range(3000):
        for prefix in KEY_PREFIXES:
            assert not is_placeholder(real_shaped_key(prefix))
            assert not is_placeholder(generate_sandbox_key(prefix))
        legacy = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(40))
        assert not is_placeholder("sk-" + legacy[:20] + REAL_MARKER + legacy[20:])

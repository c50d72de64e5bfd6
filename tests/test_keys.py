"""keylab.keys: telling real, sandbox, placeholder and broken keys apart, and masking them.

Real-looking keys are assembled at run time from REAL_MARKER so this file holds no string a
secret scanner would flag.
"""

from __future__ import annotations

import pytest

from keylab.keys import (
    KEY_PREFIXES,
    REAL_MARKER,
    SANDBOX_MARKER,
    KeyKind,
    classify,
    generate_sandbox_key,
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

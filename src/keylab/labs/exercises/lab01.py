"""Lab 01 (what a key is): tell keys apart by shape, price a call, pick the least privilege.

Keys used by these checks are generated in memory and never printed: feedback shows a short label
("a complete sandbox project key") instead of the string, and `describe()` masks anything key-shaped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from keylab.keys import KEY_PREFIXES, REAL_MARKER, generate_sandbox_key, real_shaped_key
from keylab.labs.feedback import Feedback, describe
from keylab.labs.registry import exercise
from keylab.pricing import cost_of

TITLE = "What a key is"

KINDS = ("real", "sandbox", "placeholder", "truncated")


def _cases() -> list[tuple[str, str, str]]:
    """(label shown in feedback, key string, expected kind)."""
    sandbox = generate_sandbox_key()
    service = generate_sandbox_key("sk-svcacct-")
    admin = generate_sandbox_key("sk-admin-")
    real = real_shaped_key()
    real_admin = real_shaped_key("sk-admin-")
    return [
        ("a complete sandbox project key", sandbox, "sandbox"),
        ("a complete sandbox service-account key", service, "sandbox"),
        ("a complete sandbox admin key", admin, "sandbox"),
        ("a complete real-shaped project key", real, "real"),
        ("a complete real-shaped admin key", real_admin, "real"),
        ("the template's 'sk-your-key-here'", "sk-your-key-here", "placeholder"),
        ("the docs' 'sk-...'", "sk-...", "placeholder"),
        ("a sandbox key cut off 30 characters before its end", sandbox[:-30], "truncated"),
        ("a real-shaped key cut off right after its marker", real[: real.index(REAL_MARKER) + 12], "truncated"),
    ]


@exercise(
    "01.1",
    names=["kind_of"],
    hint="split the key at its marker: no marker means placeholder; "
    "a part after the marker shorter than the part before it (without the prefix) means truncated",
)
def check_kind_of(fb: Feedback, kind_of: Callable[[str], str]) -> None:
    wrong_truncation = False
    for label, key, expected in _cases():
        got = fb.call(kind_of, key)
        if got == expected:
            fb.ok(f"{label} → {expected!r}")
        else:
            fb.fail(f"{label} → you said {describe(got)}, expected {expected!r}")
            wrong_truncation |= expected == "truncated" or got == "truncated"
    if wrong_truncation:
        fb.hint("a complete key has as many characters after the marker as between its prefix "
                "(like 'sk-proj-') and the marker")


@exercise(
    "01.2",
    names=["call_cost"],
    hint="MODELS[model].input and .output are dollars per 1,000,000 tokens: "
    "tokens * price / 1_000_000, for each side, then add them up",
)
def check_call_cost(fb: Feedback, call_cost: Callable[[str, int, int], Any]) -> None:
    # Prompts of at most 272K tokens: the plain per-1M formula (longer ones bill at long-context rates).
    cases = [("gpt-6-luna", 200_000, 1_000_000), ("gpt-6.1-terra", 1_200, 300),
             ("gpt-4o-mini", 16, 37), ("gpt-6-luna", 0, 0)]
    floats = False
    for model, tokens_in, tokens_out in cases:
        got = fb.call(call_cost, model, tokens_in, tokens_out)
        floats |= isinstance(got, float)
        expected = cost_of(model, tokens_in, tokens_out).total_usd
        try:
            close = abs(Decimal(str(got)) - expected) <= Decimal("1e-12")
        except (ArithmeticError, ValueError, TypeError):
            close = False
        fb.expect(
            close,
            f"call_cost({model!r}, {tokens_in:,}, {tokens_out:,}) = ${expected.normalize():f}",
            f"call_cost({model!r}, {tokens_in:,}, {tokens_out:,}) returned {describe(got)}, "
            f"expected {expected.normalize():f} (dollars)",
        )
    if floats and fb.failed:
        fb.hint("floats round: keep the prices as the Decimal values MODELS holds")
    swapped = cost_of("gpt-6.1-terra", 300, 1_200).total_usd
    try:
        if abs(Decimal(str(call_cost("gpt-6.1-terra", 1_200, 300))) - swapped) <= Decimal("1e-12"):
            fb.hint("input and output look swapped: the second argument is input tokens")
    except Exception:  # already reported above
        pass


# Jobs for exercise 01.3, with the least permission that fits and why.
JOBS: dict[str, tuple[str, str]] = {
    "status_page": ("Read only", "it only lists models and reads past results; it never creates anything"),
    "support_bot": ("Restricted", "it needs to send requests to one API (Request/Write there) and nothing else"),
    "my_experiments": ("All", "your own notebook on your laptop, trying every endpoint"),
    "nightly_summaries": ("Restricted", "a server job that only calls the model: grant that and leave the rest None"),
}


@exercise("01.3", names=["permission_for"], todo="fill in `permission_for` in the cell above and run it.")
def check_permissions(fb: Feedback, permission_for: Mapping[str, str]) -> None:
    if not isinstance(permission_for, Mapping):
        fb.fail(f"permission_for should be a dict, got {describe(permission_for)}")
        return
    if all(value in (None, "", "...") for value in permission_for.values()):
        fb.not_attempted("choose 'All', 'Restricted' or 'Read only' for each job, then run the cell.")
    for job, (expected, why) in JOBS.items():
        got = permission_for.get(job)
        if isinstance(got, str) and got.strip().lower() == expected.lower():
            fb.ok(f"{job}: {expected} ({why})")
        elif job not in permission_for:
            fb.fail(f"{job}: missing from the dict")
        elif isinstance(got, str) and got.strip().lower() == "all":
            fb.fail(f"{job}: 'All' works, but if this key leaks it can do everything; {expected} is enough")
        else:
            fb.fail(f"{job}: you chose {describe(got)}; the least that works is {expected!r}")
    fb.hint("ask: what is the least this program must be able to do? Read only < Restricted < All")


__all__ = ["JOBS", "KINDS", "check_call_cost", "check_kind_of", "check_permissions"]

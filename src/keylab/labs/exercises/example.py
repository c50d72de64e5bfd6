'''Lab 00: example exercises, the pattern every `labNN.py` follows (keylab's tests use it).

In the solution notebook an exercise cell marks its answer, and the next cell checks it (here
the lab's third exercise):

    def mask_key(key):
        """Show only the start and the last four characters, so a key can be printed safely."""
        ### BEGIN SOLUTION
        ### HINT: keep key[:3] and key[-4:] and put "…" between them
        return key[:3] + "…" + key[-4:]
        ### END SOLUTION

    check("00.3")

The lab generated from it defines `mask_key` with a body that raises NotImplementedError, so the
check prints "not attempted yet" until the learner writes the body. The checker below receives the
learner's objects by name, calls their code through `fb.call`, and reports ✓/✗ lines.
'''

from __future__ import annotations

from collections.abc import Callable

from keylab.labs.feedback import Feedback, describe
from keylab.labs.registry import exercise

TITLE = "Example exercises"

FAKE_KEY = "sk-demo-1234WXYZ"  # short and obviously fake: feedback lines may show it


@exercise("00.1", names=["add"], hint="return a + b")
def check_add(fb: Feedback, add: Callable[[int, int], int]) -> None:
    """A function exercise: called with a few inputs, each result reported."""
    for a, b in [(2, 3), (-1, 1)]:
        result = fb.call(add, a, b)
        fb.expect(
            result == a + b,
            f"add({a}, {b}) returns {a + b}",
            f"add({a}, {b}) returned {describe(result)}, expected {a + b}",
        )


@exercise(
    "00.3",
    names=["mask_key"],
    hint='keep key[:3] and key[-4:] and put "…" between them',
)
def check_mask_key(fb: Feedback, mask_key: Callable[[str], str]) -> None:
    """Several properties of one result; stop early when the type is wrong."""
    masked = fb.call(mask_key, FAKE_KEY)
    fb.require(
        isinstance(masked, str),
        "returns a string",
        f"mask_key(key) returned {describe(masked)}, expected a string",
    )
    fb.expect(
        masked.startswith("sk-"), "keeps the 'sk-' prefix", f"{describe(masked)} should start with 'sk-'"
    )
    fb.expect(
        masked.endswith("WXYZ"),
        "keeps the last four characters",
        f"{describe(masked)} should end with 'WXYZ'",
    )
    if "1234" in masked:
        fb.fail(f"{describe(masked)} still shows the middle of the key")
        fb.hint("anything between the first 3 and the last 4 characters must be hidden")
    else:
        fb.ok("hides the middle of the key")


@exercise("00.2", names=["KEY_NAME"], todo="set `KEY_NAME` in the cell above and run it.")
def check_key_name(fb: Feedback, KEY_NAME: object) -> None:
    """A value exercise: the cell defines a name at top level."""
    fb.expect(
        KEY_NAME == "OPENAI_API_KEY",
        "KEY_NAME is the variable the openai SDK reads",
        f"KEY_NAME is {describe(KEY_NAME)}; the SDK reads 'OPENAI_API_KEY'",
    )

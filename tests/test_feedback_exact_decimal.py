"""keylab.labs.feedback.exact_decimal: the money check labs 05 and 06 share."""

from __future__ import annotations

from decimal import Decimal

from keylab.labs.feedback import Feedback, exact_decimal


def test_exact_decimal_lines() -> None:
    fb = Feedback()
    exact_decimal(fb, "a", Decimal("0.0002"), Decimal("0.0002"), not_decimal="return a Decimal")
    exact_decimal(fb, "b", 0.0002, Decimal("0.0002"), not_decimal="return the Decimal from cost_of")
    exact_decimal(fb, "c", Decimal("0.0003"), Decimal("0.0002"), not_decimal="return a Decimal")
    assert [(line.ok, line.text) for line in fb.lines] == [
        (True, "a → 0.0002"),
        (False, "b: returned 0.0002; return the Decimal from cost_of"),
        (False, "c: returned 0.0003, expected 0.0002"),
    ]

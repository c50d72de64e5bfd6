"""What the budget guard raises and says."""

from __future__ import annotations

from decimal import Decimal

from keylab.pricing import format_usd


class BudgetExceeded(RuntimeError):
    """A call's worst case would take spending over the budget; the call was not sent."""

    def __init__(self, *, budget_usd: Decimal, spent_usd: Decimal, reserved_usd: Decimal, needed_usd: Decimal,
                 what: str, period: str) -> None:
        self.budget_usd = budget_usd
        self.spent_usd = spent_usd
        self.reserved_usd = reserved_usd
        self.needed_usd = needed_usd
        self.period = period
        in_flight = f" and {format_usd(reserved_usd)} held for calls in flight" if reserved_usd else ""
        when = "" if period == "total" else " or wait for next month (the guard starts again on the 1st, UTC)"
        super().__init__(
            f"Not sent: this call could cost up to {format_usd(needed_usd)} ({what}). With "
            f"{format_usd(spent_usd)} spent{in_flight}, that would cross your budget of "
            f"{format_usd(budget_usd)} for {period}. Lower the output cap, pick a cheaper model, "
            f"raise the budget{when}."
        )


class OutputCapNotice(UserWarning):
    """A call set no output cap, so the guard set one to know its worst case."""

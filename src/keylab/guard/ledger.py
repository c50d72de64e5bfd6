"""The guard's books: what is spent and what calls in flight may still cost, exact and thread-safe.

Money is `Decimal` dollars. A call first *reserves* its worst case; afterwards it *settles* with
its real cost. A reservation is refused when spent + reserved + the new worst case would exceed
the budget, so the spending the guard has seen never crosses it.

With a state file, every change is written atomically (a temporary file, then `os.replace`), so a
kernel restart picks up where the last one stopped. Calls that were in flight when a process died
may have been billed without the guard seeing their bill: a new guard counts them at their worst
case. Spending is kept per calendar month (UTC) by default, like the platform's monthly budget,
and starts again from zero when the month changes on the guard's clock; `period="total"` never
resets. One process at a time should use a state file.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from keylab.guard.errors import BudgetExceeded

STATE_VERSION = 1
PERIODS = ("month", "total")


@dataclass(frozen=True)
class Hold:
    """A call's worst case, set aside while it runs."""

    id: str
    usd: Decimal
    period: str


def period_key(period: str, now_s: float) -> str:
    """"2026-12" for a monthly budget (UTC), "total" for one that never resets."""
    if period == "total":
        return "total"
    return dt.datetime.fromtimestamp(now_s, dt.timezone.utc).strftime("%Y-%m")


class Ledger:
    def __init__(self, budget_usd: Decimal, *, state_file: Path | None = None,
                 clock: Callable[[], float], period: str = "month") -> None:
        if period not in PERIODS:
            raise ValueError(f"period must be 'month' (resets on the 1st, UTC) or 'total' (never); got {period!r}")
        self.budget_usd = budget_usd
        self.state_file = state_file
        self.clock = clock
        self.period = period
        self._lock = threading.Lock()
        self._holds: dict[str, Hold] = {}
        self._reserved = Decimal(0)
        self.spent_usd = Decimal(0)
        self.calls = 0
        self.overshoot_usd = Decimal(0)  # real costs above their reservation (should stay 0)
        self.key = period_key(period, clock())
        if state_file is not None:
            self._load(state_file)

    # --- reading -----------------------------------------------------------------------------

    @property
    def reserved_usd(self) -> Decimal:
        return self._reserved

    @property
    def remaining_usd(self) -> Decimal:
        """What new calls may still reserve: budget - spent - reserved."""
        return self.budget_usd - self.spent_usd - self._reserved

    def _roll(self, key: str) -> None:
        """A new month: spending starts again from zero (calls in flight stay reserved)."""
        if key != self.key:
            self.key = key
            self.spent_usd = Decimal(0)
            self.calls = 0

    def refresh(self) -> None:
        """Move to the clock's current period (e.g. after the sandbox's clock moved to next month)."""
        key = period_key(self.period, self.clock())
        with self._lock:
            if key != self.key:
                self._roll(key)
                self._save()

    # --- writing -----------------------------------------------------------------------------

    def reserve(self, usd: Decimal, what: str) -> Hold:
        """Set aside `usd`, or raise BudgetExceeded (nothing is reserved then)."""
        key = period_key(self.period, self.clock())  # outside the lock: the clock may ask a server
        with self._lock:
            self._roll(key)
            if self.spent_usd + self._reserved + usd > self.budget_usd:
                raise BudgetExceeded(budget_usd=self.budget_usd, spent_usd=self.spent_usd,
                                     reserved_usd=self._reserved, needed_usd=usd, what=what, period=self.key)
            hold = Hold(uuid.uuid4().hex, usd, self.key)
            self._holds[hold.id] = hold
            self._reserved += usd
            self._save()
            return hold

    def settle(self, hold: Hold, usd: Decimal) -> None:
        """Book the call's real cost and free its reservation (once; later calls do nothing)."""
        self._close(hold, usd)

    def release(self, hold: Hold) -> None:
        """A call that was refused before it ran: it costs nothing."""
        self._close(hold, None)

    def _close(self, hold: Hold, usd: Decimal | None) -> None:
        """Free a reservation and book its cost in the period it was reserved in. No clock reading
        here (it may ask a server that does not answer): a period that has ended since is rolled
        over, and its spending dropped, at the next reading (`reserve`, `refresh`)."""
        with self._lock:
            if self._holds.pop(hold.id, None) is None:
                return
            self._reserved -= hold.usd
            # A call from a month that is over does not count against this one.
            if usd is not None and hold.period == self.key:
                self.spent_usd += usd
                self.calls += 1
                if usd > hold.usd:
                    self.overshoot_usd += usd - hold.usd
            self._save()

    # --- the state file ----------------------------------------------------------------------

    def _state(self) -> dict[str, object]:
        return {
            "version": STATE_VERSION,
            "what": "keylab BudgetGuard spending; safe to delete to start again from zero",
            "period": self.key,
            "budget_usd": str(self.budget_usd),
            "spent_usd": str(self.spent_usd),
            "calls": self.calls,
            "in_flight": {hold.id: str(hold.usd) for hold in self._holds.values() if hold.period == self.key},
        }

    def _save(self) -> None:
        """Write the state atomically (caller holds the lock)."""
        path = self.state_file
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        temporary.write_text(json.dumps(self._state(), indent=1) + "\n", encoding="utf-8")
        os.replace(temporary, path)

    def _load(self, path: Path) -> None:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        try:
            data = json.loads(text)
            if data.get("version") != STATE_VERSION:
                raise ValueError("unknown version")
            file_key = str(data["period"])
            spent = Decimal(data["spent_usd"])
            in_flight = [Decimal(value) for value in data.get("in_flight", {}).values()]
            calls = int(data.get("calls", 0))
        except (ValueError, KeyError, TypeError, AttributeError, InvalidOperation):
            raise ValueError(
                f"{path} is not a budget guard's state file (or it is damaged). Nothing was changed: "
                "move it away to start from zero, or pass another state_file."
            ) from None
        if file_key != self.key:
            return  # a new month (or another period setting): start from zero
        # Calls in flight when the last process stopped may have been billed: count their worst case.
        self.spent_usd = spent + sum(in_flight, Decimal(0))
        self.calls = calls + len(in_flight)

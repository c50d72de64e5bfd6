"""The sandbox's clock: real time plus an offset the control plane can move.

Lessons move it to show a monthly spend limit resetting or a rate-limit window passing, without
waiting. The offset is kept in the database so a restart keeps the same "now".
"""

from __future__ import annotations

import datetime as dt
import functools
import time

from keylab.sandbox.store import Store

_META_KEY = "clock_offset_s"


class Clock:
    def __init__(self, store: Store) -> None:
        self._store = store
        self.offset_s = float(store.get_meta(_META_KEY, "0") or 0)
        self.frozen_at: float | None = None  # in memory only: a restart lets time run again

    def now(self) -> float:
        if self.frozen_at is not None:
            return self.frozen_at + self.offset_s
        return time.time() + self.offset_s

    def freeze(self) -> None:
        """Stop the clock (advance() still moves it): rate-limit windows then drain only on demand,
        so a lesson or a test sees the exact numbers of a full bucket ("Please try again in 20s")."""
        if self.frozen_at is None:
            self.frozen_at = time.time()

    def unfreeze(self) -> None:
        self.frozen_at = None

    def now_s(self) -> int:
        return int(self.now())

    def today(self) -> dt.date:
        return _utc_date(int(self.now() // 86400))

    def month_start_s(self) -> int:
        """Unix time of the first instant of the current UTC month (spend limits are monthly)."""
        today = self.today()
        start = dt.datetime(today.year, today.month, 1, tzinfo=dt.timezone.utc)
        return int(start.timestamp())

    def advance(self, seconds: float) -> None:
        self.offset_s += seconds
        self._store.set_meta(_META_KEY, repr(self.offset_s))

    def reset(self) -> None:
        self.frozen_at = None
        self.offset_s = 0.0
        self._store.set_meta(_META_KEY, "0")


@functools.lru_cache(maxsize=64)
def _utc_date(day: int) -> dt.date:
    """The UTC date of a Unix day number (every request checks it; computed once a day)."""
    return dt.date(1970, 1, 1) + dt.timedelta(days=day)

"""The sandbox's clock: real time plus an offset the control plane can move.

Lessons move it to show a monthly spend limit resetting or a rate-limit window passing, without
waiting. The offset is kept in the database so a restart keeps the same "now".

On a class sandbox each student's lessons move the clock too, and one student's "next month"
must not be everyone's. So a *tenant* (a class student's organization and the practice accounts
it created) may have its own offset on top of the sandbox's, and its own freeze. The practice
accounts live on it; the account the class gave the student stays on the sandbox's time, so its
monthly budget and the instructor's report follow the real month (`KeyRecord.clock_tenant`).
Which tenant is asking is request-scoped state: `authenticate` enters the key's tenant
(`enter_tenant`) and every reading of the clock later in that request (rate limits, usage rows, the
month of a spend limit, key expiry) sees that tenant's time, without the clock being passed down by
hand. Code that runs for no request (the operator's control plane, the CLI) sees the sandbox's own time.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import functools
import time

from keylab.sandbox.store import Store

_META_KEY = "clock_offset_s"

# The tenant of the request in hand (None: the sandbox's own time). A ContextVar, so each request's
# task (and the threads and callbacks it starts with its context) sees its own.
_TENANT: contextvars.ContextVar[str | None] = contextvars.ContextVar("keylab_sandbox_tenant", default=None)


def enter_tenant(tenant_id: str | None) -> contextvars.Token[str | None]:
    """From now on in this request (this context), the clock reads `tenant_id`'s time."""
    return _TENANT.set(tenant_id)


def leave_tenant(token: contextvars.Token[str | None]) -> None:
    _TENANT.reset(token)


def current_tenant() -> str | None:
    return _TENANT.get()


class Clock:
    def __init__(self, store: Store) -> None:
        self._store = store
        self.offset_s = float(store.get_meta(_META_KEY, "0") or 0)
        self.frozen_at: float | None = None  # in memory only: a restart lets time run again

    def now(self) -> float:
        tenant = _TENANT.get()
        return self._sandbox_now() if tenant is None else self.now_for(tenant)

    def _sandbox_now(self) -> float:
        if self.frozen_at is not None:
            return self.frozen_at + self.offset_s
        return time.time() + self.offset_s

    def now_for(self, tenant: str | None) -> float:
        """The time `tenant` sees (None: the sandbox's own), whoever is asking."""
        if tenant is None:
            return self._sandbox_now()
        offset, frozen_at = self._tenant(tenant)
        return (self._sandbox_now() if frozen_at is None else frozen_at) + offset

    def _tenant(self, tenant: str) -> tuple[float, float | None]:
        """(offset, the sandbox's time when it froze) of a tenant's clock. Kept in the database and
        read through the store's cache, so what another process wrote (`keylab classroom reset`)
        applies at the next request."""
        cache = self._store.cache(external=False)  # the request's key lookup has just checked it
        found = cache.get(("tenant_clock", tenant))
        if found is None:
            row = self._store.query_one("SELECT offset_s, frozen_at FROM tenant_clocks WHERE tenant_id = ?", (tenant,))
            found = cache[("tenant_clock", tenant)] = (float(row[0]), row[1]) if row else (0.0, None)
        return found  # type: ignore[return-value]

    def offset_for(self, tenant: str | None) -> float:
        """How far from real time `tenant`'s clock is (None: the sandbox's): the sandbox's offset
        plus the tenant's own."""
        return self.offset_s + (self._tenant(tenant)[0] if tenant is not None else 0.0)

    def is_frozen(self, tenant: str | None = None) -> bool:
        """Whether `tenant`'s clock stands still: the sandbox's is frozen, or the tenant froze its own."""
        return self.frozen_at is not None or (tenant is not None and self._tenant(tenant)[1] is not None)

    def freeze(self, tenant: str | None = None) -> None:
        """Stop the clock (advance() still moves it): rate-limit windows then drain only on demand,
        so a lesson or a test sees the exact numbers of a full bucket ("Please try again in 20s")."""
        if tenant is not None:
            offset, frozen_at = self._tenant(tenant)
            if frozen_at is None:
                self._set_tenant(tenant, offset, self._sandbox_now())
        elif self.frozen_at is None:
            self.frozen_at = time.time()

    def unfreeze(self, tenant: str | None = None) -> None:
        if tenant is None:
            self.frozen_at = None
        else:
            self._set_tenant(tenant, self._tenant(tenant)[0], None)

    def now_s(self) -> int:
        return int(self.now())

    def today(self) -> dt.date:
        return _utc_date(int(self.now() // 86400))

    def today_for(self, tenant: str | None) -> dt.date:
        return _utc_date(int(self.now_for(tenant) // 86400))

    def month_start_s(self) -> int:
        """Unix time of the first instant of the current UTC month (spend limits are monthly)."""
        today = self.today()
        start = dt.datetime(today.year, today.month, 1, tzinfo=dt.timezone.utc)
        return int(start.timestamp())

    def advance(self, seconds: float, tenant: str | None = None) -> None:
        if tenant is not None:
            offset, frozen_at = self._tenant(tenant)
            self._set_tenant(tenant, offset + seconds, frozen_at)
            return
        self.offset_s += seconds
        self._store.set_meta(_META_KEY, repr(self.offset_s))

    def reset(self, tenant: str | None = None) -> None:
        """Back to real time: the sandbox's clock, or only `tenant`'s own offset and freeze."""
        if tenant is not None:
            self._set_tenant(tenant, 0.0, None)
            return
        self.frozen_at = None
        self.offset_s = 0.0
        self._store.set_meta(_META_KEY, "0")

    def thaw_tenants(self) -> None:
        """Let every tenant's clock run again (a server starts: its own clock runs again too)."""
        if self._store.query_one("SELECT 1 FROM tenant_clocks WHERE frozen_at IS NOT NULL LIMIT 1"):  # rarely
            with self._store.transaction() as db:
                db.execute("UPDATE tenant_clocks SET frozen_at = NULL WHERE frozen_at IS NOT NULL")

    def forget_tenants(self) -> None:
        """Every tenant back on the sandbox's time (the sandbox was reset)."""
        with self._store.transaction() as db:
            db.execute("DELETE FROM tenant_clocks")

    def _set_tenant(self, tenant: str, offset_s: float, frozen_at: float | None) -> None:
        with self._store.transaction() as db:  # a configuration write: the cached state is dropped
            if offset_s or frozen_at is not None:
                db.execute("INSERT INTO tenant_clocks (tenant_id, offset_s, frozen_at) VALUES (?, ?, ?)"
                           " ON CONFLICT(tenant_id) DO UPDATE SET offset_s = excluded.offset_s,"
                           " frozen_at = excluded.frozen_at", (tenant, offset_s, frozen_at))
            else:
                db.execute("DELETE FROM tenant_clocks WHERE tenant_id = ?", (tenant,))


@functools.lru_cache(maxsize=64)
def _utc_date(day: int) -> dt.date:
    """The UTC date of a Unix day number (every request checks it; computed once a day)."""
    return dt.date(1970, 1, 1) + dt.timedelta(days=day)

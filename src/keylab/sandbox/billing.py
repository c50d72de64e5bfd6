"""Prepaid credit and spend limits, exact under concurrency: reserve before a call, settle after.

Before a call runs, `reserve` checks the balance and the monthly spend limits and sets aside
the call's maximum cost (all of its prompt plus the longest answer it may get). After the call,
`settle` writes one usage row with the real cost and debits the balance in the same transaction,
then releases the reservation. So:

- a balance never pays for more than it holds, and 100 parallel calls debit exactly the sum of
  their costs (each debit is one atomic UPDATE);
- spend passes a limit by at most one call's maximum cost: a call is admitted only while
  spent + reserved is below the limit.

Reservations live in the server's memory: a killed server loses only calls that never finished,
and those were never billed.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from keylab.pricing import Cost, format_usd
from keylab.sandbox.accounts import KeyRecord
from keylab.sandbox.clock import Clock
from keylab.sandbox.errors import ApiError
from keylab.sandbox.store import Store

QUOTA_VARIANTS = ("insufficient_quota", "credit_balance_exhausted")


@dataclass(frozen=True)
class Reservation:
    id: int
    org_id: str
    project_id: str
    pico: int


@dataclass(frozen=True)
class Settled:
    """A billed call, handed to listeners (spend alerts)."""

    org_id: str
    project_id: str
    key_id: str
    cost_pico: int


class Billing:
    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._reserved: dict[int, Reservation] = {}
        self.listeners: list[Callable[[Settled], None]] = []

    @property
    def quota_variant(self) -> str:
        value = self.store.get_meta("quota_error", "insufficient_quota")
        return value if value in QUOTA_VARIANTS else "insufficient_quota"

    def _reserved_for(self, attr: str, ident: str) -> int:
        return sum(r.pico for r in self._reserved.values() if getattr(r, attr) == ident)

    def month_spend_pico(self, scope: str, ident: str) -> int:
        column = "org_id" if scope == "organization" else "project_id"
        row = self.store.query_one(
            f"SELECT COALESCE(SUM(cost_pico), 0) FROM usage WHERE {column} = ? AND created_at >= ?",
            (ident, self.clock.month_start_s()),
        )
        return int(row[0]) if row else 0

    def balance_pico(self, org_id: str) -> int:
        row = self.store.query_one("SELECT balance_pico FROM organizations WHERE id = ?", (org_id,))
        return int(row[0]) if row else 0

    def reserve(self, key: KeyRecord, max_cost_pico: int) -> Reservation:
        """Admit a call or raise the 429 the real platform would send (no credit, limit reached)."""
        project_id = key.project_id or ""
        with self._lock:
            if self.balance_pico(key.org_id) - self._reserved_for("org_id", key.org_id) <= 0:
                raise ApiError(self.quota_variant)
            for scope, ident, error in (
                ("organization", key.org_id, "organization_spend_limit_exceeded"),
                ("project", project_id, "project_spend_limit_exceeded"),
            ):
                limit = self.store.query_one(
                    "SELECT threshold_cents FROM spend_limits WHERE scope = ? AND scope_id = ?", (scope, ident)
                )
                if limit is None:
                    continue
                limit_pico = int(limit[0]) * 10**10  # cents -> picodollars
                attr = "org_id" if scope == "organization" else "project_id"
                if self.month_spend_pico(scope, ident) + self._reserved_for(attr, ident) >= limit_pico:
                    raise ApiError(error, limit=format_usd(Decimal(int(limit[0])) / 100))
            reservation = Reservation(next(self._ids), key.org_id, project_id, max_cost_pico)
            self._reserved[reservation.id] = reservation
            return reservation

    def release(self, reservation: Reservation) -> None:
        with self._lock:
            self._reserved.pop(reservation.id, None)

    def settle(self, reservation: Reservation, *, key: KeyRecord, request_id: str, endpoint: str,
               cost: Cost) -> None:
        """Write the usage row and debit the balance in one transaction, then free the reservation."""
        now = self.clock.now_s()
        pico = cost.total_pico
        try:
            with self.store.transaction() as db:
                db.execute(
                    "INSERT INTO usage (request_id, org_id, project_id, key_id, endpoint, model, input_tokens,"
                    " cached_tokens, output_tokens, input_pico, cached_pico, output_pico, cost_pico, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        request_id, key.org_id, reservation.project_id, key.id, endpoint, cost.model,
                        cost.input_tokens, cost.cached_tokens, cost.output_tokens,
                        _pico(cost.input_usd), _pico(cost.cached_usd), _pico(cost.output_usd), pico, now,
                    ),
                )
                db.execute("UPDATE organizations SET balance_pico = balance_pico - ? WHERE id = ?",
                           (pico, key.org_id))
                db.execute("UPDATE api_keys SET last_used_at = ? WHERE id = ?", (now, key.id))
        finally:
            self.release(reservation)
        event = Settled(key.org_id, reservation.project_id, key.id, pico)
        for listener in self.listeners:
            listener(event)


def _pico(usd: Decimal) -> int:
    from keylab.pricing import to_pico

    return to_pico(usd)

"""Prepaid credit and spend limits, exact under concurrency: reserve before a call, settle after.

Before a call runs, `reserve` checks the balance and the monthly spend limits and sets aside
the call's most expensive outcome: its prompt plus the answer the sandbox has already simulated
(an answer that streams can only be cut short, so cost less). After the call, `settle` writes one
usage row with the real cost and debits the balance in the same transaction, and the reservation
is released as soon as that transaction commits (not before: until then the spend is in neither
the database nor the reservations, and a concurrent call could be admitted against it). So:

- a balance never pays for more than it holds, and 100 parallel calls debit exactly the sum of
  their costs (each debit is one atomic UPDATE);
- the bound: spend passes a limit (or the balance goes below zero) by at most the cost of ONE
  call, the last one admitted: a call is admitted only while spent + reserved is below the limit,
  and every admitted call's cost is already in `reserved`;
- a burst is refused only when the credit is really spent: reservations are what the calls will
  cost, not a worst case (bench/README.md, "Budgets under a burst", has the figures).

Reservations live in the server's memory: a killed server loses only calls that never finished,
and those were never billed.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import logging
import sqlite3
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import NamedTuple

from keylab.pricing import TIERS, Cost, format_usd
from keylab.sandbox.accounts import KeyRecord, balance_pico
from keylab.sandbox.clock import Clock
from keylab.sandbox.errors import ApiError
from keylab.sandbox.platform.limits import LIMIT_ERRORS, PICO_PER_CENT, month_spend_pico
from keylab.sandbox.store import Store

QUOTA_VARIANTS = ("insufficient_quota", "credit_balance_exhausted")
log = logging.getLogger("keylab.sandbox")
# A key's last use never moves back: a call that started earlier may finish after a later one.
_SET_LAST_USED = "UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)"


class Reservation(NamedTuple):
    """A call's maximum cost, set aside while it runs."""

    id: int
    org_id: str
    project_id: str
    pico: int


class Settled(NamedTuple):
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
        # Sums of the reservations in flight, by ("org_id", id) and ("project_id", id): kept up to
        # date in reserve/release rather than summed over every call in flight on each admission.
        self._reserved_sums: dict[tuple[str, str], int] = {}
        self.listeners: list[Callable[[Settled], None]] = []
        self._last_used: dict[str, int] = {}  # key id -> the last_used_at last written for it
        self._used_pending: dict[str, int] = {}  # key id -> last_used_at still to write (mark_used)
        self._batch_lock = threading.Lock()
        # (loop, calls, their futures) of the calls settling in the current loop turn: see settle_async
        self._batch: tuple[asyncio.AbstractEventLoop, list[tuple], list[asyncio.Future[None]],
                           list[contextvars.Context | None]] | None = None

    @property
    def quota_variant(self) -> str:
        value = self.store.get_meta("quota_error", "insufficient_quota")
        return value if value in QUOTA_VARIANTS else "insufficient_quota"

    def _reserved_for(self, attr: str, ident: str) -> int:
        return self._reserved_sums.get((attr, ident), 0)

    def _add_reserved(self, reservation: Reservation, sign: int) -> None:
        sums = self._reserved_sums
        for key in (("org_id", reservation.org_id), ("project_id", reservation.project_id)):
            total = sums.get(key, 0) + sign * reservation.pico
            if total:
                sums[key] = total
            else:
                sums.pop(key, None)

    def month_spend_pico(self, scope: str, ident: str) -> int:
        return month_spend_pico(self.store, self.clock, scope, ident)

    def balance_pico(self, org_id: str) -> int:
        return balance_pico(self.store, org_id)

    def reserve(self, key: KeyRecord, max_cost_pico: int) -> Reservation:
        """Admit a call or raise the 429 the real platform would send (no credit, limit reached)."""
        project_id = key.project_id or ""
        with self._lock:
            balance, org_limit, project_limit = self._account(key.org_id, project_id)
            if balance - self._reserved_for("org_id", key.org_id) <= 0:
                raise ApiError(self.quota_variant)
            limits = () if org_limit is None and project_limit is None else (  # none set: the usual case
                ("organization", key.org_id, "org_id", org_limit, LIMIT_ERRORS["organization"]),
                ("project", project_id, "project_id", project_limit, LIMIT_ERRORS["project"]),
            )
            for scope, ident, attr, cents, error in limits:
                if cents is None:
                    continue
                if self.month_spend_pico(scope, ident) + self._reserved_for(attr, ident) >= cents * PICO_PER_CENT:
                    raise ApiError(error, limit=format_usd(Decimal(cents) / 100))
            reservation = Reservation(next(self._ids), key.org_id, project_id, max_cost_pico)
            self._reserved[reservation.id] = reservation
            self._add_reserved(reservation, +1)
            return reservation

    def _account(self, org_id: str, project_id: str) -> tuple[int, int | None, int | None]:
        """The balance and both spend limits (cents), from `Store.cache` when it holds them.

        The cached balance is exact: it is read from the database and every debit this process
        commits afterwards is applied to it under the same lock hold as its COMMIT (`_debited`);
        any other write to a balance (credit grants, resets, other processes) empties the cache.
        The caller's key lookup (`find_key`) has just checked for other processes' commits.
        """
        store = self.store
        with store.lock:
            cache = store.cache(external=False)
            balance = cache.get(("balance", org_id))
            limits = cache.get(("spend_limits", org_id, project_id))
            if balance is None or limits is None:
                row = store.query_one(
                    "SELECT o.balance_pico,"
                    " (SELECT threshold_cents FROM spend_limits WHERE scope = 'organization' AND scope_id = o.id),"
                    " (SELECT threshold_cents FROM spend_limits WHERE scope = 'project' AND scope_id = ?)"
                    " FROM organizations o WHERE o.id = ?",
                    (project_id, org_id),
                ) or (0, None, None)
                balance = cache[("balance", org_id)] = [int(row[0])]
                limits = cache[("spend_limits", org_id, project_id)] = (row[1], row[2])
            return balance[0], limits[0], limits[1]  # type: ignore[index]

    def _debited(self, org_id: str, pico: int) -> None:
        """Apply a committed debit to the cached balance (caller holds store.lock since the COMMIT)."""
        balance = self.store.cached(("balance", org_id))
        if balance is not None:
            balance[0] -= pico  # type: ignore[index]

    def release(self, *reservations: Reservation) -> None:
        with self._lock:
            for reservation in reservations:
                if self._reserved.pop(reservation.id, None) is not None:
                    self._add_reserved(reservation, -1)

    def _commit(self, calls: list[tuple[Reservation, KeyRecord, str, str, Cost, int]]) -> None:
        """Usage rows and debits of calls in one transaction, then the cached balances (under the
        same store.lock hold as the COMMIT, see `_account`). Raises, with nothing written, if any fails."""
        with self.store.lock:
            # config=False: a usage row and a balance change leave cached configuration valid.
            with self.store.transaction(config=False) as db:
                debits, last_used = self._write_many(db, calls)
            self._last_used.update(last_used)  # only once committed: a rollback leaves it to rewrite
            for org_id, pico in debits.items():
                self._debited(org_id, pico)

    def _write_many(self, db: sqlite3.Connection,
                    calls: list[tuple[Reservation, KeyRecord, str, str, Cost, int]]
                    ) -> tuple[dict[str, int], dict[str, int]]:
        """Usage rows and debits of calls, inside the caller's transaction: one row per call, one
        debit per organization (the sum of its calls' costs: integers, so exactly the same).
        Returns the debits by organization and the last_used_at values written, by key id."""
        rows = []
        debits: dict[str, int] = {}
        last_used: dict[str, int] = {}
        for reservation, key, request_id, endpoint, cost, now in calls:
            rows.append((
                request_id, key.org_id, reservation.project_id, key.id, endpoint, cost.model,
                cost.input_tokens, cost.cached_tokens, cost.output_tokens,
                cost.input_pico, cost.cached_pico, cost.output_pico, cost.total_pico, now,
                TIERS[cost.tier].service_tier or "default",
            ))
            debits[key.org_id] = debits.get(key.org_id, 0) + cost.total_pico
            last_used[key.id] = now
        db.executemany(
            "INSERT INTO usage (request_id, org_id, project_id, key_id, endpoint, model, input_tokens,"
            " cached_tokens, output_tokens, input_pico, cached_pico, output_pico, cost_pico, created_at,"
            " service_tier) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        for org_id, pico in debits.items():
            db.execute("UPDATE organizations SET balance_pico = balance_pico - ? WHERE id = ?", (pico, org_id))
        written = {key_id: now for key_id, now in last_used.items()
                   if self._last_used.get(key_id) != now}  # "last used" has one-second resolution
        if written:
            db.executemany(_SET_LAST_USED, [(now, key_id, now) for key_id, now in written.items()])
        return debits, written

    def mark_used(self, key_id: str) -> None:
        """Note that an authenticated request used a key, billed or not (listing models counts too).

        A key's `last_used_at` has one-second resolution: a second use in the same second costs
        two dict lookups. A new second's write waits for the end of the event-loop turn and goes
        out in one transaction for every key marked in that turn, as billing batches its calls;
        billed calls of the same second then find it written. Outside an event loop it is written
        at once.
        """
        now = self.clock.now_s()
        if self._last_used.get(key_id) == now or self._used_pending.get(key_id) == now:
            return
        first = not self._used_pending
        self._used_pending[key_id] = now
        if first:
            try:
                asyncio.get_running_loop().call_soon(self._write_used)
            except RuntimeError:  # no loop: a synchronous caller
                self._write_used()

    def _write_used(self) -> None:
        pending, self._used_pending = self._used_pending, {}
        if not pending:
            return
        try:
            with self.store.transaction(config=False) as db:
                db.executemany(_SET_LAST_USED, [(now, key_id, now) for key_id, now in pending.items()])
        except Exception:  # "last used" is informational: never fail or retry a request for it
            log.exception("could not record the last use of %d key(s)", len(pending))
            return
        self._last_used.update(pending)

    def _notify(self, reservation: Reservation, key: KeyRecord, cost: Cost) -> None:
        event = Settled(key.org_id, reservation.project_id, key.id, cost.total_pico)
        for listener in self.listeners:
            listener(event)

    def settle(self, reservation: Reservation, *, key: KeyRecord, request_id: str, endpoint: str,
               cost: Cost) -> None:
        """Write the usage row and debit the balance in one transaction, then free the reservation."""
        now = self.clock.now_s()
        try:
            self._commit([(reservation, key, request_id, endpoint, cost, now)])
        finally:
            self.release(reservation)
        self._notify(reservation, key, cost)

    async def settle_async(self, reservation: Reservation, *, key: KeyRecord, request_id: str, endpoint: str,
                           cost: Cost) -> None:
        """`settle`, group-committed: the calls that settle in the same event-loop turn share one
        transaction. Returns once that transaction is committed (the usage row is durable before the
        caller answers), or raises what settling this call raised."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        call = (reservation, key, request_id, endpoint, cost, self.clock.now_s())
        with self._batch_lock:
            batch = self._batch
            if batch is None or batch[0] is not loop:
                batch = self._batch = (loop, [], [], [])
                # In a context of its own, not this first call's: no class student's clock (clock.py).
                loop.call_soon(self._flush, batch, context=contextvars.Context())
            batch[1].append(call)
            batch[2].append(future)
            # Its listeners run in its own context: they read the clock of its class student (clock.py).
            batch[3].append(contextvars.copy_context() if key.clock_tenant is not None else None)
        await future  # a cancelled request still gets its call billed: _flush does not depend on it

    def _flush(self, batch: tuple[asyncio.AbstractEventLoop, list[tuple], list[asyncio.Future[None]],
                                  list[contextvars.Context | None]]) -> None:
        with self._batch_lock:
            if self._batch is batch:
                self._batch = None
        _, calls, futures, contexts = batch
        errors: dict[int, BaseException] = {}
        try:
            self._commit(calls)
        except Exception:
            # Something in the batch failed and the whole batch rolled back: settle one by one,
            # so each call gets its own outcome.
            for index, call in enumerate(calls):
                try:
                    self._commit([call])
                except Exception as error:
                    errors[index] = error
        self.release(*(call[0] for call in calls))
        for index, ((reservation, key, _, _, cost, _), future, context) in enumerate(
                zip(calls, futures, contexts, strict=True)):
            if index in errors:
                if not future.done():
                    future.set_exception(errors[index])
                continue
            try:
                if context is None:
                    self._notify(reservation, key, cost)
                else:
                    context.run(self._notify, reservation, key, cost)
            except Exception as error:  # as `settle` would have raised it into the request
                if not future.done():
                    future.set_exception(error)
            else:
                if not future.done():
                    future.set_result(None)

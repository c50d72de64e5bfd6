"""What the instructor's view counts besides billed usage: API errors and lab progress, per organization.

Both are small upserts (one row per organization and error code, one per organization and
exercise), so a storm of 429s or a student re-running a check cell a hundred times stays one row.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections import Counter

from keylab.sandbox.clock import Clock
from keylab.sandbox.store import Store

log = logging.getLogger("keylab.sandbox")

PROGRESS_STATUSES = ("passed", "failed", "not-attempted")
_RANK = {"not-attempted": 0, "failed": 1, "passed": 2}


_ADD_ERRORS = (
    "INSERT INTO api_error_counts (org_id, code, status, count, last_at) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT(org_id, code) DO UPDATE SET count = count + excluded.count, status = excluded.status,"
    " last_at = excluded.last_at"
)


class ErrorTally:
    """Counts error answers per organization and code, written once per event-loop turn.

    A storm of 429s must not cost a write transaction each on the server's loop: the counts of one
    turn go out in one transaction at its end, as billing does with its calls. Outside an event loop
    each count is written at once. Counting is informational, so a failed write is logged, never
    turned into a failed request.
    """

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self._pending: Counter[tuple[str, str, int]] = Counter()

    def add(self, org_id: str, code: str, status: int) -> None:
        first = not self._pending
        self._pending[(org_id, code, status)] += 1
        if first:
            try:
                # On the sandbox's time, not the clock of this first error's class student (clock.py).
                asyncio.get_running_loop().call_soon(self.flush, context=contextvars.Context())
            except RuntimeError:  # no loop: a synchronous caller
                self.flush()

    def flush(self) -> None:
        pending, self._pending = self._pending, Counter()
        if not pending:
            return
        now = self.clock.now_s()
        try:
            with self.store.transaction(config=False) as db:
                db.executemany(_ADD_ERRORS, [(org, code, status, count, now)
                                             for (org, code, status), count in pending.items()])
        except Exception:
            log.exception("could not count %d error answer(s)", sum(pending.values()))


def record_progress(store: Store, clock: Clock, org_id: str, exercise_id: str, status: str) -> dict[str, object]:
    """Record one check of `exercise_id`: the latest status, the best one so far, and the attempts
    (checks that passed or failed; a not-attempted check is not an attempt)."""
    if status not in PROGRESS_STATUSES:
        raise ValueError(f"status must be one of {', '.join(PROGRESS_STATUSES)}")
    attempt = int(status != "not-attempted")
    with store.transaction(config=False) as db:
        row = db.execute("SELECT best, attempts FROM lab_progress WHERE org_id = ? AND exercise_id = ?",
                         (org_id, exercise_id)).fetchone()
        best = status if row is None or _RANK[status] > _RANK[row["best"]] else row["best"]
        attempts = (row["attempts"] if row else 0) + attempt
        db.execute(
            "INSERT INTO lab_progress (org_id, exercise_id, best, latest, attempts, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(org_id, exercise_id) DO UPDATE SET best = excluded.best,"
            " latest = excluded.latest, attempts = excluded.attempts, updated_at = excluded.updated_at",
            (org_id, exercise_id, best, status, attempts, clock.now_s()),
        )
    return {"exercise_id": exercise_id, "best": best, "latest": status, "attempts": attempts}

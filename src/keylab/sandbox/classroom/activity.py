"""What the instructor's view counts besides billed usage: API errors and lab progress, per organization.

Both are small upserts (one row per organization and error code, one per organization and
exercise), so a storm of 429s or a student re-running a check cell a hundred times stays one row.
"""

from __future__ import annotations

from keylab.sandbox.clock import Clock
from keylab.sandbox.store import Store

PROGRESS_STATUSES = ("passed", "failed", "not-attempted")
_RANK = {"not-attempted": 0, "failed": 1, "passed": 2}


def record_error(store: Store, clock: Clock, org_id: str, code: str, status: int) -> None:
    """Count one error answer to a request made with a key of `org_id`."""
    with store.transaction(config=False) as db:
        db.execute(
            "INSERT INTO api_error_counts (org_id, code, status, count, last_at) VALUES (?, ?, ?, 1, ?)"
            " ON CONFLICT(org_id, code) DO UPDATE SET count = count + 1, status = excluded.status,"
            " last_at = excluded.last_at",
            (org_id, code, status, clock.now_s()),
        )


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

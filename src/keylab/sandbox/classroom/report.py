"""The instructor's view of a class: per student, spend, requests, errors and lab progress.

Never a full key: the report carries each key's redacted form (`sk-proj-...abcd`) only.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from dataclasses import asdict, dataclass
from decimal import Decimal

from keylab.pricing import from_pico
from keylab.sandbox.store import Store


@dataclass(frozen=True)
class StudentReport:
    name: str
    email: str
    organization_id: str
    key: str  # redacted
    budget_usd: Decimal
    spend_usd: Decimal
    balance_usd: Decimal
    requests: int
    errors: int
    top_error: str  # the most frequent error code, or ""
    exercises_passed: int
    exercises_tried: int  # checked at least once with an attempt (passed or not)
    last_check: str  # the most recent exercise checked, e.g. "03.2 passed", or ""

    def as_json(self) -> dict[str, object]:
        data = asdict(self)
        for name in ("budget_usd", "spend_usd", "balance_usd"):
            data[name] = str(data[name])
        return data


def class_report(store: Store) -> list[StudentReport]:
    """Every student of the class sandbox, in roster order (the order they were created)."""
    rows = store.query(
        """
        SELECT s.name, s.email, s.org_id, s.budget_cents, k.redacted, o.balance_pico,
          (SELECT COALESCE(SUM(cost_pico), 0) FROM usage u WHERE u.org_id = s.org_id) AS spend_pico,
          (SELECT COUNT(*) FROM usage u WHERE u.org_id = s.org_id) AS requests,
          (SELECT COALESCE(SUM(count), 0) FROM api_error_counts e WHERE e.org_id = s.org_id) AS errors,
          (SELECT code FROM api_error_counts e WHERE e.org_id = s.org_id ORDER BY count DESC, code LIMIT 1) AS top_error,
          (SELECT COUNT(*) FROM lab_progress p WHERE p.org_id = s.org_id AND p.best = 'passed') AS passed,
          (SELECT COUNT(*) FROM lab_progress p WHERE p.org_id = s.org_id AND p.attempts > 0) AS tried,
          (SELECT exercise_id || ' ' || latest FROM lab_progress p WHERE p.org_id = s.org_id
             ORDER BY updated_at DESC, exercise_id DESC LIMIT 1) AS last_check
        FROM classroom_students s
        JOIN organizations o ON o.id = s.org_id
        LEFT JOIN api_keys k ON k.id = s.key_id
        ORDER BY s.created_at, s.rowid
        """
    )
    return [
        StudentReport(
            name=row["name"], email=row["email"], organization_id=row["org_id"], key=row["redacted"] or "(none)",
            budget_usd=Decimal(row["budget_cents"]) / 100, spend_usd=from_pico(row["spend_pico"]),
            balance_usd=from_pico(row["balance_pico"]), requests=row["requests"], errors=row["errors"],
            top_error=row["top_error"] or "", exercises_passed=row["passed"], exercises_tried=row["tried"],
            last_check=row["last_check"] or "",
        )
        for row in rows
    ]


CSV_COLUMNS = tuple(field.name for field in dataclasses.fields(StudentReport))


def report_csv(report: list[StudentReport]) -> str:
    """The report as CSV (what a gradebook or spreadsheet imports)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for student in report:
        data = student.as_json()
        writer.writerow([data[column] for column in CSV_COLUMNS])
    return out.getvalue()

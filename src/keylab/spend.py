"""What was really spent, read from the usage and costs APIs with an admin key.

The calls are the ones a learner would write with the official SDK (`client.admin.organization
.usage.costs(...)` and `.usage.completions(...)`), so the same code reads the sandbox's bill or
the real one. Amounts become exact `Decimal` dollars (the API sends JSON numbers; each goes
through its shortest text form, so 0.1 stays 0.1).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from keylab.pricing.cost import as_usd

DAY = 86_400
_MAX_BUCKETS = 31  # the costs API's 1-day buckets per page we ask for (it allows up to 180)


@dataclass(frozen=True)
class SpendReport:
    """Dollars per UTC day, per model and per API key over [start, end), and requests per model."""

    start: dt.date
    end: dt.date  # exclusive
    per_day: dict[dt.date, Decimal] = field(default_factory=dict)
    per_model: dict[str, Decimal] = field(default_factory=dict)
    per_key: dict[str, Decimal] = field(default_factory=dict)  # by API key id
    requests_per_model: dict[str, int] = field(default_factory=dict)
    key_names: dict[str, str] = field(default_factory=dict)  # key id -> "name (sk-proj-…abcd)", where known

    def key_label(self, key_id: str) -> str:
        return self.key_names.get(key_id, key_id)

    @property
    def total(self) -> Decimal:
        return sum(self.per_day.values(), Decimal(0))

    @property
    def requests(self) -> int:
        return sum(self.requests_per_model.values())

    def days(self) -> list[dt.date]:
        """Every day of the period, spend or not."""
        return [self.start + dt.timedelta(days=n) for n in range((self.end - self.start).days)]


def _amount(result: Any) -> Decimal:
    """A costs result's amount as exact dollars (the API sends a JSON number, or no amount)."""
    return as_usd(result.amount.value if result.amount else 0)


def unix_day(day: dt.date) -> int:
    return int(dt.datetime.combine(day, dt.time(), dt.timezone.utc).timestamp())


def _day_of(seconds: int) -> dt.date:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).date()


def _pages(fetch: Any, **query: Any) -> Iterator[Any]:
    """Every bucket of a usage or costs query, following `next_page`."""
    page: str | None = None
    while True:
        answer = fetch(**query, **({"page": page} if page else {}))
        yield from answer.data
        page = answer.next_page if answer.has_more else None
        if not page:
            return


def model_of(line_item: str | None) -> str:
    """The model named in a costs line item such as "gpt-6-luna, input_tokens"."""
    return (line_item or "other").split(",")[0].strip() or "other"


def _key_names(admin: Any, projects: dict[str, str]) -> dict[str, str]:
    """Each key's name and redacted form, as the API keys page shows them (never the key itself).
    A key that cannot be looked up (deleted, or a service account's) keeps its id."""
    names = {}
    for key_id, project_id in projects.items():
        try:
            key = admin.admin.organization.projects.api_keys.retrieve(key_id, project_id=project_id)
        except Exception:  # noqa: BLE001 - a label is a nicety: the id still identifies the key
            continue
        names[key_id] = f"{key.name} ({key.redacted_value})" if key.name else key.redacted_value
    return names


def fetch_spend(admin: Any, start: dt.date, end: dt.date) -> SpendReport:
    """Read the organization's costs (per day, model and key) and requests per model from `start`
    to `end` (exclusive) with an admin client: `OpenAI(admin_api_key=...)`."""
    if end <= start:
        raise ValueError(f"end ({end}) must come after start ({start}): the period is [start, end)")
    usage = admin.admin.organization.usage
    query = {"start_time": unix_day(start), "end_time": unix_day(end), "bucket_width": "1d"}
    report = SpendReport(start, end)
    for bucket in _pages(usage.costs, **query, group_by=["line_item"], limit=_MAX_BUCKETS):
        day = _day_of(bucket.start_time)
        report.per_day.setdefault(day, Decimal(0))
        for result in bucket.results:
            amount = _amount(result)
            report.per_day[day] += amount
            model = model_of(result.line_item)
            report.per_model[model] = report.per_model.get(model, Decimal(0)) + amount
    projects: dict[str, str] = {}
    for bucket in _pages(usage.costs, **query, group_by=["api_key_id", "project_id"], limit=_MAX_BUCKETS):
        for result in bucket.results:
            key = result.api_key_id or "(no key)"
            report.per_key[key] = report.per_key.get(key, Decimal(0)) + _amount(result)
            if result.api_key_id and result.project_id:
                projects[result.api_key_id] = result.project_id
    report.key_names.update(_key_names(admin, projects))
    for bucket in _pages(usage.completions, **query, group_by=["model"], limit=_MAX_BUCKETS):
        for result in bucket.results:
            model = result.model or "other"
            report.requests_per_model[model] = report.requests_per_model.get(model, 0) + result.num_model_requests
    return report


__all__ = ["SpendReport", "fetch_spend", "model_of", "unix_day"]

"""Everything one running sandbox holds, created once per app: store, clock, billing, limits, faults."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from keylab.sandbox.billing import Billing, Settled
from keylab.sandbox.clock import Clock
from keylab.sandbox.dashboard import payments
from keylab.sandbox.platform import alerts
from keylab.sandbox.ratelimit import DEFAULT_RPM, DEFAULT_TPM, Limits, RateLimiter
from keylab.sandbox.store import Store


@dataclass
class Fault:
    """A failure the control plane staged for the next matching requests."""

    kind: str  # "server_error" | "overloaded" | "latency" | "stream_error"
    remaining: int = 1
    path: str | None = None  # e.g. "/v1/chat/completions"; None = any /v1 path
    latency_ms: int = 0

    def matches(self, path: str) -> bool:
        return self.remaining > 0 and (self.path is None or self.path == path)


@dataclass
class Faults:
    items: list[Fault] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, path: str, kinds: tuple[str, ...]) -> Fault | None:
        """Use up one matching staged fault of one of `kinds`, if any."""
        if not self.items:  # the usual case, decided without the lock
            return None
        with self.lock:
            for fault in self.items:
                if fault.kind in kinds and fault.matches(path):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self.items.remove(fault)
                    return fault
        return None

    def clear(self) -> None:
        with self.lock:
            self.items.clear()


def _only_when(store: Store, what: str, sql: str, listener: Callable[[Settled], None]) -> Callable[[Settled], None]:
    """A billing listener that runs only for calls whose organization or project has `what` set up
    (`sql` finds it from :org and :project). Nearly no call has, so the answer is cached until the
    configuration changes (see Store.cache)."""

    def on_settled(settled: Settled) -> None:
        cache = store.cache(external=False)
        key = (what, settled.org_id, settled.project_id)
        found = cache.get(key)
        if found is None:
            found = store.query_one(sql, {"org": settled.org_id, "project": settled.project_id}) is not None
            cache[key] = found
        if found:
            listener(settled)

    return on_settled


class SandboxState:
    def __init__(self, data_dir: str | Path) -> None:
        self.store = Store(data_dir)
        self.clock = Clock(self.store)
        self.billing = Billing(self.store, self.clock)
        self.billing.listeners += [
            _only_when(self.store, "spend alerts",
                       "SELECT 1 FROM spend_alerts WHERE (scope = 'organization' AND scope_id = :org)"
                       " OR (scope = 'project' AND scope_id = :project) LIMIT 1",
                       alerts.listener(self.store, self.clock)),
            _only_when(self.store, "auto-recharge",
                       "SELECT 1 FROM billing_settings WHERE org_id = :org AND auto_recharge = 1"
                       " AND card_last4 IS NOT NULL",
                       payments.recharge_listener(self.store, self.clock)),
        ]
        self.limiter = RateLimiter()
        self.faults = Faults()

    def project_limits(self, project_id: str, model: str) -> Limits:
        cache = self.store.cache(external=False)  # emptied by any write to the limits (see Store.cache)
        limits = cache.get(("project_limits", project_id, model))
        if limits is None:
            row = self.store.query_one(
                "SELECT max_requests_per_1_minute, max_tokens_per_1_minute FROM project_rate_limits"
                " WHERE project_id = ? AND model = ?",
                (project_id, model),
            )
            limits = Limits(rpm=row[0], tpm=row[1]) if row else Limits(DEFAULT_RPM, DEFAULT_TPM)
            cache[("project_limits", project_id, model)] = limits
        return limits  # type: ignore[return-value]

    def close(self) -> None:
        self.store.close()

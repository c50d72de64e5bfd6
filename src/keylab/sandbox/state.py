"""Everything one running sandbox holds, created once per app: store, clock, billing, limits, faults."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from keylab.sandbox.billing import Billing
from keylab.sandbox.clock import Clock
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


class SandboxState:
    def __init__(self, data_dir: str | Path) -> None:
        self.store = Store(data_dir)
        self.clock = Clock(self.store)
        self.billing = Billing(self.store, self.clock)
        self.billing.listeners.append(alerts.listener(self.store, self.clock))
        self.limiter = RateLimiter()
        self.faults = Faults()

    def project_limits(self, project_id: str, model: str) -> Limits:
        row = self.store.query_one(
            "SELECT max_requests_per_1_minute, max_tokens_per_1_minute FROM project_rate_limits"
            " WHERE project_id = ? AND model = ?",
            (project_id, model),
        )
        return Limits(rpm=row[0], tpm=row[1]) if row else Limits(DEFAULT_RPM, DEFAULT_TPM)

    def close(self) -> None:
        self.store.close()

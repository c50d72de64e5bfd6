"""Everything one running sandbox holds, created once per app: store, clock, billing, limits, faults."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from keylab.pricing.tokens import get_encoding
from keylab.sandbox.billing import Billing, Settled
from keylab.sandbox.classroom.activity import ErrorTally
from keylab.sandbox.clock import Clock
from keylab.sandbox.ratelimit import DEFAULT_RPM, DEFAULT_TPM, Limits, RateLimiter
from keylab.sandbox.store import Store


class Fault:
    """A failure the control plane staged for the next matching requests.

    A plain class, not a dataclass: a dataclass compiles its generated methods at import, ~1 ms
    of every sandbox start. `vars(fault)` is its JSON form.
    """

    def __init__(self, kind: str, remaining: int = 1, path: str | None = None, latency_ms: int = 0) -> None:
        self.kind = kind  # "server_error" | "overloaded" | "latency" | "stream_error"
        self.remaining = remaining
        self.path = path  # e.g. "/v1/chat/completions"; None = any /v1 path
        self.latency_ms = latency_ms

    def matches(self, path: str) -> bool:
        return self.remaining > 0 and (self.path is None or self.path == path)

    def __repr__(self) -> str:
        return f"Fault({self.kind!r}, remaining={self.remaining}, path={self.path!r}, latency_ms={self.latency_ms})"


class Faults:
    """The staged faults, in the order they were staged, kept per tenant (None: the operator's,
    for every request; else a class student's, for their requests only: keylab.sandbox.clock)."""

    def __init__(self) -> None:
        self.by_tenant: dict[str | None, list[Fault]] = {}
        self.lock = threading.Lock()

    def __bool__(self) -> bool:
        """Whether anything is staged (read without the lock: the usual answer is no)."""
        return bool(self.by_tenant)

    def stage(self, tenant: str | None, fault: Fault) -> list[Fault]:
        """Add a fault for `tenant`'s requests (None: everyone's); returns what is now staged for it."""
        with self.lock:
            staged = self.by_tenant.setdefault(tenant, [])
            staged.append(fault)
            return list(staged)

    def staged(self, tenant: str | None) -> list[Fault]:
        with self.lock:
            return list(self.by_tenant.get(tenant, ()))

    def staged_for(self, tenant: str) -> bool:
        """Whether a class student staged something (read without the lock, as in `take`)."""
        return tenant in self.by_tenant

    def take(self, path: str, kinds: tuple[str, ...], tenants: tuple[str | None, ...] = (None,)) -> Fault | None:
        """Use up one matching staged fault of one of `kinds` staged for one of `tenants`, if any."""
        if not self.by_tenant:  # the usual case, decided without the lock
            return None
        with self.lock:
            for tenant in tenants:
                staged = self.by_tenant.get(tenant)
                for fault in staged or ():
                    if fault.kind in kinds and fault.matches(path):
                        fault.remaining -= 1
                        if fault.remaining <= 0:
                            staged.remove(fault)  # type: ignore[union-attr]
                            if not staged:
                                del self.by_tenant[tenant]
                        return fault
        return None

    def clear(self, tenant: str | None = None) -> None:
        """Forget the faults staged for `tenant` (None: the operator's)."""
        with self.lock:
            self.by_tenant.pop(tenant, None)

    def clear_all(self) -> None:
        with self.lock:
            self.by_tenant.clear()


def _imported_listener(name: str, *args: Any) -> Callable[[Settled], None]:
    """The listener `module:factory(*args)` (`name`) made for this sandbox on its first call.

    Its module (the dashboard's payments, the platform's alerts) is imported only then, not at
    start-up: a sandbox start and most calls never need it (see `_only_when`).
    """
    module, factory = name.split(":")
    listener: Callable[[Settled], None] | None = None

    def on_settled(settled: Settled) -> None:
        nonlocal listener
        if listener is None:
            listener = getattr(importlib.import_module(module), factory)(*args)
        listener(settled)

    return on_settled


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


_UNRESOLVED = object()

# Where the dashboard is when the server does not say (a state built without a server, in tests).
DEFAULT_SITE_URL = "http://127.0.0.1:8765"


class SandboxState:
    def __init__(self, data_dir: str | Path, *, public_url: str | None = None) -> None:
        self.store = Store(data_dir)
        self.clock = Clock(self.store)
        self.clock.thaw_tenants()  # a restart lets every clock run again, the sandbox's own too
        # The base URL of links in e-mails (hosts.public_url), set from the server's configuration;
        # None only for an app not served by keylab's server: pages answering a request then use the
        # request's address, and e-mails the platform sends on its own (spend alerts, budget
        # reached) use DEFAULT_SITE_URL.
        self.public_url = public_url.rstrip("/") if public_url else None
        self.site_url = self.public_url or DEFAULT_SITE_URL
        self.errors = ErrorTally(self.store, self.clock)
        self.billing = Billing(self.store, self.clock)
        self.billing.listeners += [
            _only_when(self.store, "spend alerts",
                       "SELECT 1 FROM spend_alerts WHERE (scope = 'organization' AND scope_id = :org)"
                       " OR (scope = 'project' AND scope_id = :project) LIMIT 1",
                       _imported_listener("keylab.sandbox.platform.alerts:listener", self.store, self.clock,
                                          self.site_url)),
            _only_when(self.store, "spend limits",
                       "SELECT 1 FROM spend_limits WHERE (scope = 'organization' AND scope_id = :org)"
                       " OR (scope = 'project' AND scope_id = :project) LIMIT 1",
                       _imported_listener("keylab.sandbox.platform.limit_notices:listener", self.store,
                                          self.clock, self.site_url)),
            _only_when(self.store, "auto-recharge",
                       "SELECT 1 FROM billing_settings WHERE org_id = :org AND auto_recharge = 1"
                       " AND card_last4 IS NOT NULL",
                       _imported_listener("keylab.sandbox.dashboard.payments:recharge_listener",
                                          self.store, self.clock)),
        ]
        self.limiter = RateLimiter()
        self.faults = Faults()
        self._encodings: dict[str, Any] = {}

    def encoding_for(self, model: str) -> Any | None:
        """tiktoken's encoding for `model`, as this sandbox counts with it (None: approximate counts).

        Resolved once per model for the server's run (the first call waits for the start-up
        preload), rather than from the environment on every request as `get_encoding` does.
        """
        encoding = self._encodings.get(model, _UNRESOLVED)
        if encoding is _UNRESOLVED:
            encoding = self._encodings[model] = get_encoding(model)
        return encoding

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

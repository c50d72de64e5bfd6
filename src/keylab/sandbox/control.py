"""The control plane, `/sandbox/…`: what an instructor or a lesson does to stage a situation.

It lives outside `/v1` so the API surface stays identical to OpenAI's. Lessons reach it over HTTP
with `keylab.sandbox.client.ControlClient`, like any other client would. It answers to two callers:

- the operator token kept in the data dir (`operator_token`): the whole sandbox (a learner's own
  sandbox, an instructor, the tests);
- on a class sandbox, a student's key: only that student's *tenant* (clock.py), so lessons 04–07
  run for thirty students on one server. The student's practice accounts join the tenant; the
  clock and faults a student stages apply to their tenant's requests only; credit, rate limits and
  the Outbox reach only the tenant's own practice accounts; `settings` and `reset` stay the
  operator's. A student cannot add credit to their own organization: their budget means something.

    POST   /sandbox/accounts        {"email"?, "credits_usd"?}        a verified account and its keys
    POST   /sandbox/credit          {"organization_id", "amount_usd"}  add prepaid credit
    GET    /sandbox/clock           the sandbox's now
    POST   /sandbox/clock           {"advance_seconds"} | {"reset": true} | {"frozen": true|false}
    POST   /sandbox/faults          {"kind", "count"?, "path"?, "latency_ms"?}
    DELETE /sandbox/faults          clear staged faults
    POST   /sandbox/keys/{id}/limits {"rpm"?, "tpm"?}                 per-key rate limits (null clears)
    POST   /sandbox/settings        {"quota_error": "insufficient_quota" | "credit_balance_exhausted"}
    POST   /sandbox/reset           forget every account, key, balance and usage row
    GET    /sandbox/outbox?to=ADDRESS  the messages sent to an address
    GET    /sandbox/health          no token needed; `instance` tells a client whether its operator
                                    token belongs to this sandbox (`sandbox_probe.instance_id`)
"""

from __future__ import annotations

import hmac
import json
import math
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from keylab.keys import looks_real, mask_like_openai
from keylab.pricing import from_pico
from keylab.pricing.cost import as_usd
from keylab.sandbox.accounts import create_account, find_key, grant_credit
from keylab.sandbox.billing import QUOTA_VARIANTS
from keylab.sandbox.state import Fault, SandboxState
from keylab.sandbox_probe import SANDBOX_HEADER, instance_id  # how a client knows a keylab sandbox, and which

FAULT_KINDS = ("server_error", "overloaded", "latency", "stream_error")
_KEEP_ON_RESET = ("schema_version", "meta")
# What one class student may stage: enough practice accounts for every lesson several times over,
# and no more credit per account than a lesson could want (the sandbox's dollars are make-believe,
# but a student's server load is not).
STUDENT_PRACTICE_ACCOUNTS = 200
STUDENT_CREDIT_MAX_USD = Decimal(100)  # the most credit a practice account can hold
STUDENT_FAULTS = 20  # staged at once by one student: every request of theirs looks through them
# Bounds on what anyone stages, so no value can break the clock's date arithmetic, SQLite's integers
# or a request's wait: the clock stays within a century of real time, a fault within a day's requests.
MAX_OFFSET_S = 100 * 366 * 86_400
MAX_FAULT_COUNT = 10_000
MAX_LATENCY_MS = 60_000
MAX_KEY_LIMIT = 10**9


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _state(request: Request) -> SandboxState:
    return request.app.state.sandbox


_NEEDS_TOKEN = ("The control plane needs the operator token (the file operator_token in the sandbox data dir) "
                "as 'Authorization: Bearer <token>', or on a class sandbox a student's key.")


def _authorize(request: Request) -> str | None:
    """Who is asking: None for the operator (the whole sandbox), else the tenant of a student's key."""
    state = _state(request)
    token = request.headers.get("authorization", "").partition(" ")[2].strip()
    if not token:
        raise ControlError(401, _NEEDS_TOKEN)
    if hmac.compare_digest(token.encode("utf-8", "surrogatepass"), state.store.operator_token.encode()):
        return None
    if looks_real(token):  # never looked up, as on /v1
        raise ControlError(401, f"The key {mask_like_openai(token)} is a real OpenAI key: the sandbox never uses "
                                "one. Put your class sandbox key in .env.")
    key = find_key(state.store, state.clock, token)
    if key is None:
        raise ControlError(401, _NEEDS_TOKEN)
    if key.tenant_id is None:
        raise ControlError(403, "Only class students' keys can stage lessons on this sandbox (see `keylab classroom"
                                " create`); everyone else needs its operator token (the file operator_token in the "
                                "data dir it was started with).")
    if key.org_id != key.tenant_id:  # a practice account's key (a leaked one, in lesson 07) is not the student
        raise ControlError(403, "Only the key your class gave you can stage lessons; a practice account's keys "
                                "cannot. Use the OPENAI_API_KEY of your .env.")
    return key.tenant_id


def _operator_only(tenant: str | None, what: str) -> None:
    if tenant is not None:
        raise ControlError(403, f"{what} changes the whole class sandbox: only the instructor (the operator "
                                "token) can do that.")


def _in_tenant(state: SandboxState, org_id: Any, tenant: str | None, *, own: bool = True) -> bool:
    """Whether the organization exists and, for a student, is one of their practice accounts (or,
    with own=True, their own organization)."""
    if not isinstance(org_id, str):
        return False
    row = state.store.query_one("SELECT tenant_id FROM organizations WHERE id = ?", (org_id,))
    if row is None:
        return False
    return tenant is None or (row[0] == tenant and (own or org_id != tenant))


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise ControlError(400, "The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ControlError(400, "The body must be a JSON object.")
    return body


def _usd(value: Any, name: str) -> Decimal:
    try:
        amount = as_usd(value)
    except InvalidOperation:
        raise ControlError(400, f"'{name}' must be a number of US dollars, like 5 or 10.50.") from None
    if not amount.is_finite() or amount < 0:
        raise ControlError(400, f"'{name}' must be zero or more.")
    return amount


def _control(handler: Any) -> Any:
    async def route(request: Request) -> Response:
        try:
            tenant = _authorize(request)
            return JSONResponse(await handler(request, _state(request), tenant))
        except ControlError as error:
            return JSONResponse({"error": {"message": error.message}}, status_code=error.status)

    return route


def _student_credit(balance: Decimal, tenant: str | None) -> None:
    if tenant is not None and balance > STUDENT_CREDIT_MAX_USD:
        raise ControlError(400, f"A practice account can hold at most {STUDENT_CREDIT_MAX_USD} US dollars of credit "
                                "on a class sandbox.")


async def accounts(request: Request, state: SandboxState, tenant: str | None) -> dict[str, Any]:
    body = await _body(request)
    amount = _usd(body.get("credits_usd", 0), "credits_usd")
    _student_credit(amount, tenant)
    email = body.get("email")
    if email is not None and tenant is not None:  # or a student could take a classmate's address
        raise ControlError(400, "A practice account gets an email address of its own: leave out 'email'.")
    if email is not None and (not isinstance(email, str) or "@" not in email):
        raise ControlError(400, "'email' must be an email address.")
    if email and state.store.query_one("SELECT 1 FROM users WHERE email = ?", (email,)):
        raise ControlError(409, f"An account with the email {email} already exists.")
    if tenant is not None:
        made = state.store.query_one("SELECT count(*) FROM organizations WHERE tenant_id = ?", (tenant,))[0]
        if made > STUDENT_PRACTICE_ACCOUNTS:  # their own organization is one of them
            raise ControlError(429, f"You have made {made - 1} practice account(s), the most a class sandbox allows. "
                                    "Ask your instructor to reset you (`keylab classroom reset`).")
    return create_account(state.store, state.clock, email=email, credits_usd=amount, tenant_id=tenant).as_json()


async def credit(request: Request, state: SandboxState, tenant: str | None) -> dict[str, Any]:
    body = await _body(request)
    org_id = body.get("organization_id")
    if not _in_tenant(state, org_id, tenant, own=False):
        raise ControlError(404, "No organization with that 'organization_id'" + (
            " among your practice accounts (your own budget is your instructor's to change)." if tenant else "."))
    amount = _usd(body.get("amount_usd"), "amount_usd")
    _student_credit(from_pico(state.billing.balance_pico(org_id)) + amount, tenant)
    grant_credit(state.store, state.clock, org_id, amount, "control plane")
    return {"organization_id": org_id, "balance_usd": str(from_pico(state.billing.balance_pico(org_id)))}


async def clock(request: Request, state: SandboxState, tenant: str | None) -> dict[str, Any]:
    """The caller's clock: the sandbox's for the operator, a student's own for a student."""
    clock = state.clock
    if request.method == "POST":
        body = await _body(request)
        if body.get("reset"):
            clock.reset(tenant)
        elif "frozen" in body:
            if not isinstance(body["frozen"], bool):
                raise ControlError(400, "'frozen' must be true (stop the clock) or false (let it run).")
            if body["frozen"]:
                clock.freeze(tenant)
            else:
                clock.unfreeze(tenant)
        else:
            seconds = body.get("advance_seconds")
            if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not math.isfinite(seconds):
                raise ControlError(400, "Send {\"advance_seconds\": N}, {\"reset\": true} or {\"frozen\": true}.")
            if abs(clock.offset_for(tenant) + seconds) > MAX_OFFSET_S:
                raise ControlError(400, "The clock stays within 100 years of real time: move it by less, or send "
                                        "{\"reset\": true}.")
            clock.advance(float(seconds), tenant)
    return {"now": int(clock.now_for(tenant)), "offset_seconds": clock.offset_for(tenant),
            "today": str(clock.today_for(tenant)), "frozen": clock.is_frozen(tenant)}


async def faults(request: Request, state: SandboxState, tenant: str | None) -> dict[str, Any]:
    """Stage failures: the operator's hit every request, a student's only their own tenant's."""
    if request.method == "DELETE":
        state.faults.clear(tenant)
        return {"faults": []}
    body = await _body(request)
    kind = body.get("kind")
    if kind not in FAULT_KINDS:
        raise ControlError(400, f"'kind' must be one of {', '.join(FAULT_KINDS)}.")
    count = body.get("count", 1)
    latency = body.get("latency_ms", 0)
    if not _whole(count, 1, MAX_FAULT_COUNT) or not _whole(latency, 0, MAX_LATENCY_MS):
        raise ControlError(400, f"'count' must be a whole number of requests from 1 to {MAX_FAULT_COUNT:,} and "
                                f"'latency_ms' from 0 to {MAX_LATENCY_MS:,}.")
    path = body.get("path")
    if path is not None and (not isinstance(path, str) or not path.startswith("/v1/") or len(path) > 200):
        raise ControlError(400, "'path' must be a path such as /v1/chat/completions.")
    if tenant is not None and len(state.faults.staged(tenant)) >= STUDENT_FAULTS:
        raise ControlError(429, f"You have {STUDENT_FAULTS} faults staged, the most a class sandbox allows: "
                                "use them up, or clear them (DELETE /sandbox/faults).")
    return {"faults": [vars(fault) for fault in state.faults.stage(tenant, Fault(kind, count, path, latency))]}


def _whole(value: Any, low: int, high: int) -> bool:
    """A JSON whole number (not true or false) from low to high."""
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high



async def key_limits(request: Request, state: SandboxState, tenant: str | None) -> dict[str, Any]:
    body = await _body(request)
    key_id = request.path_params["key_id"]
    values = {}
    for name in ("rpm", "tpm"):
        value = body.get(name)
        if value is not None and not _whole(value, 1, MAX_KEY_LIMIT):
            raise ControlError(400, f"'{name}' must be a whole number from 1 to {MAX_KEY_LIMIT:,}, or null to remove "
                                    "the limit.")
        values[name] = value
    with state.store.transaction() as db:
        updated = db.execute(
            "UPDATE api_keys SET rpm_limit = ?, tpm_limit = ? WHERE id = ?"
            " AND (? IS NULL OR org_id IN (SELECT id FROM organizations WHERE tenant_id = ? AND id != ?))",
            (values["rpm"], values["tpm"], key_id, tenant, tenant, tenant)).rowcount
    if not updated:  # a student's own key keeps the class's limits
        raise ControlError(404, f"No key with id {key_id}" + (" among your practice accounts." if tenant else "."))
    return {"key_id": key_id, **values}


async def settings(request: Request, state: SandboxState, tenant: str | None) -> dict[str, Any]:
    _operator_only(tenant, "A setting")
    body = await _body(request)
    if "quota_error" in body:
        if body["quota_error"] not in QUOTA_VARIANTS:
            raise ControlError(400, f"'quota_error' must be one of {', '.join(QUOTA_VARIANTS)}.")
        state.store.set_meta("quota_error", body["quota_error"])
    return {"quota_error": state.billing.quota_variant}


async def outbox(request: Request, state: SandboxState, tenant: str | None) -> dict[str, Any]:
    """The Outbox's messages to one address, newest first (what the dashboard's Outbox page shows
    that person), so a lesson can read an alert e-mail sent to an account that has no login.
    A student sees only the messages about their own organizations: thirty students' lessons all
    write to you@example.com."""
    from keylab.sandbox.platform.outbox import list_messages

    to = request.query_params.get("to")
    if not to or "@" not in to:
        raise ControlError(400, "Add ?to=ADDRESS: whose messages to list (an email address).")
    return {"object": "list", "data": list_messages(state.store, to, limit=50, tenant=tenant)}


async def reset(request: Request, state: SandboxState, tenant: str | None) -> dict[str, Any]:
    _operator_only(tenant, "A reset")
    with state.store.lock:
        state.store.conn.execute("PRAGMA foreign_keys=OFF")
        try:
            with state.store.transaction() as db:
                tables = [row[0] for row in db.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
                for table in tables:
                    if table not in _KEEP_ON_RESET:
                        db.execute(f'DELETE FROM "{table}"')
        finally:
            state.store.conn.execute("PRAGMA foreign_keys=ON")
    state.faults.clear_all()
    state.limiter.reset()
    state.clock.reset()
    state.clock.forget_tenants()
    return {"reset": True}


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok", "instance": instance_id(_state(request).store.operator_token)},
                        headers={SANDBOX_HEADER: "1"})


ROUTES = [
    Route("/sandbox/health", health, methods=["GET"]),
    Route("/sandbox/accounts", _control(accounts), methods=["POST"]),
    Route("/sandbox/credit", _control(credit), methods=["POST"]),
    Route("/sandbox/clock", _control(clock), methods=["GET", "POST"]),
    Route("/sandbox/faults", _control(faults), methods=["POST", "DELETE"]),
    Route("/sandbox/keys/{key_id}/limits", _control(key_limits), methods=["POST"]),
    Route("/sandbox/settings", _control(settings), methods=["POST"]),
    Route("/sandbox/reset", _control(reset), methods=["POST"]),
    Route("/sandbox/outbox", _control(outbox), methods=["GET"]),
]

"""The control plane, `/sandbox/…`: what an instructor or a lesson does to stage a situation.

It lives outside `/v1` so the API surface stays identical to OpenAI's, and it answers only to the
operator token kept in the data dir (`operator_token`). Lessons reach it over HTTP with
`keylab.sandbox.client.ControlClient`, like any other client would.

    POST   /sandbox/accounts        {"email"?, "credits_usd"?}        a verified account and its keys
    POST   /sandbox/credit          {"organization_id", "amount_usd"}  add prepaid credit
    GET    /sandbox/clock           the sandbox's now
    POST   /sandbox/clock           {"advance_seconds"} | {"reset": true} | {"frozen": true|false}
    POST   /sandbox/faults          {"kind", "count"?, "path"?, "latency_ms"?}
    DELETE /sandbox/faults          clear staged faults
    POST   /sandbox/keys/{id}/limits {"rpm"?, "tpm"?}                 per-key rate limits (null clears)
    POST   /sandbox/settings        {"quota_error": "insufficient_quota" | "credit_balance_exhausted"}
    POST   /sandbox/reset           forget every account, key, balance and usage row
    GET    /sandbox/health          no token needed
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

from keylab.pricing.cost import as_usd
from keylab.sandbox.accounts import create_account, grant_credit
from keylab.sandbox.billing import QUOTA_VARIANTS
from keylab.sandbox.state import Fault, SandboxState
from keylab.sandbox_probe import SANDBOX_HEADER  # how a client tells a keylab sandbox from any other server

FAULT_KINDS = ("server_error", "overloaded", "latency", "stream_error")
_KEEP_ON_RESET = ("schema_version", "meta")


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _state(request: Request) -> SandboxState:
    return request.app.state.sandbox


def _authorize(request: Request) -> None:
    token = request.headers.get("authorization", "").partition(" ")[2].strip()
    if not token or not hmac.compare_digest(token.encode("utf-8", "surrogatepass"), _state(request).store.operator_token.encode()):
        raise ControlError(401, "The control plane needs the operator token (the file operator_token in the "
                                "sandbox data dir) as 'Authorization: Bearer <token>'.")


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
            _authorize(request)
            return JSONResponse(await handler(request, _state(request)))
        except ControlError as error:
            return JSONResponse({"error": {"message": error.message}}, status_code=error.status)

    return route


async def accounts(request: Request, state: SandboxState) -> dict[str, Any]:
    body = await _body(request)
    amount = _usd(body.get("credits_usd", 0), "credits_usd")
    email = body.get("email")
    if email is not None and (not isinstance(email, str) or "@" not in email):
        raise ControlError(400, "'email' must be an email address.")
    if email and state.store.query_one("SELECT 1 FROM users WHERE email = ?", (email,)):
        raise ControlError(409, f"An account with the email {email} already exists.")
    return create_account(state.store, state.clock, email=email, credits_usd=amount).as_json()


async def credit(request: Request, state: SandboxState) -> dict[str, Any]:
    body = await _body(request)
    org_id = body.get("organization_id")
    if not isinstance(org_id, str) or not state.store.query_one("SELECT 1 FROM organizations WHERE id = ?",
                                                                  (org_id,)):
        raise ControlError(404, "No organization with that 'organization_id'.")
    amount = _usd(body.get("amount_usd"), "amount_usd")
    grant_credit(state.store, state.clock, org_id, amount, "control plane")
    from keylab.pricing import from_pico

    return {"organization_id": org_id, "balance_usd": str(from_pico(state.billing.balance_pico(org_id)))}


async def clock(request: Request, state: SandboxState) -> dict[str, Any]:
    if request.method == "POST":
        body = await _body(request)
        if body.get("reset"):
            state.clock.reset()
        elif "frozen" in body:
            if not isinstance(body["frozen"], bool):
                raise ControlError(400, "'frozen' must be true (stop the clock) or false (let it run).")
            if body["frozen"]:
                state.clock.freeze()
            else:
                state.clock.unfreeze()
        else:
            seconds = body.get("advance_seconds")
            if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not math.isfinite(seconds):
                raise ControlError(400, "Send {\"advance_seconds\": N}, {\"reset\": true} or {\"frozen\": true}.")
            state.clock.advance(float(seconds))
    return {"now": state.clock.now_s(), "offset_seconds": state.clock.offset_s, "today": str(state.clock.today()),
            "frozen": state.clock.frozen_at is not None}


async def faults(request: Request, state: SandboxState) -> dict[str, Any]:
    if request.method == "DELETE":
        state.faults.clear()
        return {"faults": []}
    body = await _body(request)
    kind = body.get("kind")
    if kind not in FAULT_KINDS:
        raise ControlError(400, f"'kind' must be one of {', '.join(FAULT_KINDS)}.")
    count = body.get("count", 1)
    latency = body.get("latency_ms", 0)
    if not isinstance(count, int) or count < 1 or not isinstance(latency, int) or latency < 0:
        raise ControlError(400, "'count' must be a whole number of requests >= 1 and 'latency_ms' >= 0.")
    path = body.get("path")
    if path is not None and not isinstance(path, str):
        raise ControlError(400, "'path' must be a path such as /v1/chat/completions.")
    with state.faults.lock:
        state.faults.items.append(Fault(kind, count, path, latency))
        return {"faults": [vars(f) for f in state.faults.items]}


async def key_limits(request: Request, state: SandboxState) -> dict[str, Any]:
    body = await _body(request)
    key_id = request.path_params["key_id"]
    values = {}
    for name in ("rpm", "tpm"):
        value = body.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise ControlError(400, f"'{name}' must be a whole number >= 1, or null to remove the limit.")
        values[name] = value
    with state.store.transaction() as db:
        updated = db.execute("UPDATE api_keys SET rpm_limit = ?, tpm_limit = ? WHERE id = ?",
                             (values["rpm"], values["tpm"], key_id)).rowcount
    if not updated:
        raise ControlError(404, f"No key with id {key_id}.")
    return {"key_id": key_id, **values}


async def settings(request: Request, state: SandboxState) -> dict[str, Any]:
    body = await _body(request)
    if "quota_error" in body:
        if body["quota_error"] not in QUOTA_VARIANTS:
            raise ControlError(400, f"'quota_error' must be one of {', '.join(QUOTA_VARIANTS)}.")
        state.store.set_meta("quota_error", body["quota_error"])
    return {"quota_error": state.billing.quota_variant}


async def outbox(request: Request, state: SandboxState) -> dict[str, Any]:
    """The Outbox's messages to one address, newest first (what the dashboard's Outbox page shows
    that person), so a lesson can read an alert e-mail sent to an account that has no login."""
    from keylab.sandbox.platform.outbox import list_messages

    to = request.query_params.get("to")
    if not to or "@" not in to:
        raise ControlError(400, "Add ?to=ADDRESS: whose messages to list (an email address).")
    return {"object": "list", "data": list_messages(state.store, to, limit=50)}


async def reset(request: Request, state: SandboxState) -> dict[str, Any]:
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
    state.faults.clear()
    state.limiter.reset()
    state.clock.reset()
    return {"reset": True}


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"}, headers={SANDBOX_HEADER: "1"})


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

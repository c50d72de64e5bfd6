"""What every `/v1` request goes through: request id, faults, authentication, headers, errors.

`endpoint(...)` wraps a handler so each route states only what is its own (scopes, body
validation, the answer). The order of checks follows the real platform: auth, then scopes, then
body and model, then rate limits, then credit and spend limits (facts.md, sandbox recommendations).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from keylab.keys import looks_real, mask_like_openai
from keylab.pricing import ModelPrice, get_model
from keylab.sandbox import randomness
from keylab.sandbox.accounts import KeyRecord, find_key
from keylab.sandbox.clock import enter_tenant
from keylab.sandbox.errors import ApiError, error_response
from keylab.sandbox.ratelimit import idle_headers
from keylab.sandbox.state import SandboxState

OPENAI_VERSION = "2020-10-01"
log = logging.getLogger("keylab.sandbox")


def new_request_id() -> str:
    return "req_" + randomness.token_hex(16)


@dataclass(slots=True)
class Call:
    """One request in flight: who sent it and the headers its answer will carry."""

    request: Request
    state: SandboxState
    request_id: str
    started: float
    key: KeyRecord | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def base_headers(self) -> dict[str, str]:
        headers = {
            "x-request-id": self.request_id,
            "openai-version": OPENAI_VERSION,
            "openai-processing-ms": str(max(1, int((time.perf_counter() - self.started) * 1000))),
        }
        if self.key is not None:
            headers["openai-organization"] = self.key.org_id
            if self.key.project_id:
                headers["openai-project"] = self.key.project_id
        headers.update(self.headers)
        return headers

    def json(self, body: Any, status: int = 200) -> Response:
        """A JSON answer with this call's headers; `body` may be JSON already encoded (bytes)."""
        return JSONAnswer(body if isinstance(body, bytes) else json_bytes(body), status, self.base_headers())


class JSONAnswer(Response):
    """A JSON response whose headers are encoded in one pass (Starlette's `init_headers` lower-cases
    and searches them again; ours are lower-case already), sent like any Starlette response."""

    media_type = "application/json"

    def __init__(self, body: bytes, status_code: int, headers: dict[str, str]) -> None:
        self.status_code = status_code
        self.background = None
        self.body = body
        self.raw_headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]
        self.raw_headers += [(b"content-length", str(len(body)).encode("latin-1")),
                             (b"content-type", b"application/json")]


# Starlette's JSONResponse settings (compact, UTF-8, no NaN), with the encoder built once.
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def json_bytes(value: Any) -> bytes:
    """`value` as the compact UTF-8 JSON the sandbox answers with."""
    return _ENCODER.encode(value).encode("utf-8")


Handler = Callable[[Call], Awaitable[Response]]


def endpoint(handler: Handler, *, scopes: tuple[str, ...] = (), admin: bool = False) -> Callable[
    [Request], Awaitable[Response]
]:
    """Wrap a route handler with the common checks and the error envelope."""

    async def route(request: Request) -> Response:
        state: SandboxState = request.app.state.sandbox
        call = Call(request, state, new_request_id(), time.perf_counter())
        try:
            if state.faults:  # something is staged (nearly never)
                await _apply_faults(call, None)
            call.key = authenticate(call, admin=admin, scopes=scopes)
            if call.key.tenant_id is not None and state.faults.staged_for(call.key.tenant_id):
                await _apply_faults(call, call.key.tenant_id)  # what a class student staged for themselves
            state.billing.mark_used(call.key.id)  # "Last used" counts every authenticated request
            call.headers.update(_idle_headers(call.key.rpm_limit, call.key.tpm_limit))
            if scopes and not call.key.has_scope(*scopes):
                raise ApiError("missing_scopes", scopes=scopes[0])
            return await handler(call)
        except StagedFailure as error:  # staged on purpose (lesson 04): not counted among the student's errors
            return error_response(error, call.base_headers())
        except ApiError as error:
            if call.key is not None:  # counted per organization for the instructor's view
                state.errors.add(call.key.org_id, error.spec.code or error.fields.get("type", error.spec.type),
                                 error.status)
            return error_response(error, call.base_headers())
        except Exception:
            # Answered here rather than by the app's handler, which would log the traceback twice.
            log.exception("unexpected error on %s %s", request.method, request.url.path)
            return error_response(ApiError("server_error"), call.base_headers())

    route.answers_every_error = True  # type: ignore[attr-defined]  # see app.SandboxApp
    return route


@functools.lru_cache(maxsize=256)
def _idle_headers(rpm: int | None, tpm: int | None) -> dict[str, str]:
    return idle_headers(rpm, tpm)  # a copy is taken by dict.update; the cached dict is never changed


class StagedFailure(ApiError):
    """The 500 or 503 of a staged fault (the control plane's `faults`)."""


async def _apply_faults(call: Call, tenant: str | None) -> None:
    """The operator's faults (tenant None: before authentication, for every request) or those a
    class student staged (after authentication, for that student's requests only)."""
    faults = call.state.faults
    path = call.request.url.path
    latency = faults.take(path, ("latency",), (tenant,))
    if latency is not None:
        await asyncio.sleep(latency.latency_ms / 1000)
    failure = faults.take(path, ("server_error", "overloaded"), (tenant,))
    if failure is not None:
        raise StagedFailure(failure.kind)


_AUTH_HEADERS = (b"authorization", b"openai-organization", b"openai-project")


def auth_headers(request: Request) -> tuple[str | None, str | None, str | None]:
    """Authorization, OpenAI-Organization and OpenAI-Project, read in one pass over the raw headers
    (every request needs all three; Starlette's Headers would scan and decode the list once per name).
    ASGI servers hand header names over lower-cased; the first of repeated headers wins, as in Headers.get."""
    found: list[str | None] = [None, None, None]
    for name, value in request.scope["headers"]:
        if name in _AUTH_HEADERS:
            index = _AUTH_HEADERS.index(name)
            if found[index] is None:
                found[index] = value.decode("latin-1")
    return found[0], found[1], found[2]


def bearer_token(authorization: str | None) -> str | None:
    """The key in an Authorization header: after "Bearer ", or the whole value for any other scheme."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return authorization
    return token.strip()


def authenticate(call: Call, *, admin: bool = False, scopes: tuple[str, ...] = ()) -> KeyRecord:
    """The key record of the request, or the 401 the real API sends. A real key is never looked up."""
    authorization, org_header, project_header = auth_headers(call.request)
    token = bearer_token(authorization)
    if not token:
        raise ApiError("missing_api_key")
    if looks_real(token):
        raise ApiError("real_key_in_sandbox", masked=mask_like_openai(token))
    key = find_key(call.state.store, call.state.clock, token)
    if key is None:
        raise ApiError("invalid_api_key", masked=mask_like_openai(token))
    enter_tenant(key.clock_tenant)  # a class student's practice account: the rest of the call reads their clock
    if org_header and org_header != key.org_id:
        raise ApiError("mismatched_organization")
    if project_header and key.project_id and project_header != key.project_id:
        raise ApiError("mismatched_project")
    if admin and key.kind != "admin":
        raise ApiError("missing_admin_scopes", scopes=admin_scope_for(call.request.url.path, call.request.method))
    if not admin and key.kind == "admin":
        # Admin keys manage the organization; they cannot use the model endpoints (real behaviour):
        # the message names the scope of the endpoint, as for a restricted key (model.read to list models).
        raise ApiError("missing_scopes", scopes=scopes[0] if scopes else "model.request")
    return key


def admin_scope_for(path: str, method: str = "GET") -> str:
    """The scope the real API names when a project key calls an admin endpoint: read for GET,
    write for a change (POST, DELETE)."""
    access = "read" if method in ("GET", "HEAD") else "write"
    if "/usage" in path or "/costs" in path:
        return f"api.usage.{access}"
    return f"api.management.{access}"


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# Built once: json.loads(raw, parse_constant=...) would build a new decoder for every request.
_DECODER = json.JSONDecoder(parse_constant=_no_constant)


# A \uD800-\uDFFF escape in the raw body: the only way a lone surrogate gets into a str.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")  # high (D800-DBFF) and low (DC00-DFFF) halves


def parse_json(raw: bytes) -> Any:
    """Strict JSON as the real API reads it: no NaN/Infinity, no lone surrogates, bounded nesting.

    Raises ApiError("invalid_json") for anything else, so no body can reach a handler that
    cannot be encoded back to UTF-8 or that would exhaust the recursion limit.
    """
    try:
        # As json.loads reads bytes: UTF-8, -16 or -32 by their first bytes.
        value = _DECODER.decode(raw.decode(json.detect_encoding(raw), "surrogatepass"))
        if _SURROGATE_ESCAPE.search(raw):
            json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (ValueError, UnicodeError, RecursionError):
        raise ApiError("invalid_json") from None
    return value


# The largest request body the sandbox reads (the app refuses a larger Content-Length before
# reading; this bounds a chunked body too). 4 MiB is ~1 M tokens of text, far above any model's
# context window here, so no lesson's request comes near it.
MAX_BODY_BYTES = 4 * 1024 * 1024


async def read_body(request: Request) -> bytes:
    """The request body, read straight from the ASGI channel: the same bytes as `request.body()`
    without its async-generator machinery (a sizeable share of a small request's cost). Only for
    requests nothing else reads."""
    chunks = []
    size = 0
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise ApiError("request_body_too_large", limit=MAX_BODY_BYTES)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def json_body(call: Call) -> dict[str, Any]:
    """The request's JSON object, or 400 'We could not parse the JSON body…'."""
    body = parse_json(await read_body(call.request))
    if not isinstance(body, dict):
        raise ApiError("invalid_json")
    return body


def require_model(call: Call, body: dict[str, Any]) -> ModelPrice:
    """The priced model a request names; unknown and shut-down models answer 404 model_not_found."""
    model = body.get("model")
    if model is None:
        raise ApiError("missing_model")
    if not isinstance(model, str):
        raise ApiError("invalid_type", param="model", expected="a string", got=describe_type(model))
    row = get_model(model)
    if row is None or row.is_shut_down(call.state.clock.today()):
        raise ApiError("model_not_found", model=model)
    return row


def check_text_part(part: dict[str, Any], param: str, text_types: tuple[str, ...]) -> None:
    """A content part of one of `text_types` needs its `text`, and as a string (the API refuses a
    number there); `param` names the part (`messages[0].content[1]`)."""
    if part.get("type") in text_types and not isinstance(part.get("text"), str):
        if "text" not in part:
            raise ApiError("missing_required_parameter", param=f"{param}.text")
        raise ApiError("invalid_type", param=f"{param}.text", expected="a string", got=describe_type(part["text"]))


def describe_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


_EXPECTED = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}
_EXPECTED_TEXT = {
    "string": "a string", "integer": "an integer", "number": "a number", "boolean": "a boolean",
    "array": "an array", "object": "an object",
}


def check_params(body: dict[str, Any], schema: dict[str, str], required: tuple[str, ...]) -> None:
    """Unknown, missing and mistyped top-level parameters, answered as the real API answers them.

    `schema` maps each known parameter to a JSON type name, or "any". null is accepted for
    optional parameters, as the API accepts it.
    """
    for name in body:
        if name not in schema:
            raise ApiError("unknown_parameter", param=name)
    for name in required:
        if name not in body:
            if name == "model":
                raise ApiError("missing_model")
            raise ApiError("missing_required_parameter", param=name)
    for name, value in body.items():
        kind = schema[name]
        if kind == "any" or (value is None and name not in required):
            continue
        allowed = _EXPECTED[kind]
        if not isinstance(value, allowed) or (kind in ("integer", "number") and isinstance(value, bool)):
            raise ApiError("invalid_type", param=name, expected=_EXPECTED_TEXT[kind], got=describe_type(value))


def check_range(body: dict[str, Any], name: str, *, minimum: float | None = None,
                maximum: float | None = None) -> None:
    value = body.get(name)
    if value is None:
        return
    integer = isinstance(value, int)
    if minimum is not None and value < minimum:
        raise ApiError("integer_below_minimum" if integer else "number_below_minimum",
                       param=name, minimum=minimum, got=value)
    if maximum is not None and value > maximum:
        raise ApiError("integer_above_maximum" if integer else "number_out_of_range",
                       param=name, maximum=maximum, got=value)

"""`SandboxApp` sends fixed-path API requests straight to their endpoint: the same answers as routing.

Each request below goes through the app twice, once as the server calls it (the shortcut) and once
through Starlette's own middleware and router, and both answers must match: status, header names
and order, and body, once the values that differ on every call (ids, times) are set aside.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from keylab.sandbox.accounts import create_account
from keylab.sandbox.app import SandboxApp, create_app

VOLATILE_HEADERS = {"x-request-id", "openai-processing-ms", "x-ratelimit-reset-requests", "x-ratelimit-reset-tokens",
                    "x-ratelimit-remaining-requests", "x-ratelimit-remaining-tokens"}


def _call(app: Any, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, list, bytes]:
    """One request through an ASGI callable, as uvicorn would make it."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
        "headers": [(name.lower().encode(), value.encode()) for name, value in headers.items()],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8765), "state": {},
    }
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = sent[0]
    return start["status"], list(start["headers"]), b"".join(m.get("body", b"") for m in sent[1:])


def _comparable(answer: tuple[int, list, bytes]) -> tuple[int, list, Any]:
    status, headers, body = answer
    names = [name.decode() for name, _ in headers]
    values = {name.decode(): value.decode() for name, value in headers if name.decode() not in VOLATILE_HEADERS}
    data = json.loads(body)
    for field in ("id", "created"):
        data.pop(field, None)
    return status, [names, values], data


@pytest.fixture
def app_and_key(tmp_path: Path) -> tuple[SandboxApp, str]:
    app = create_app(tmp_path / "data")
    state = app.state.sandbox
    account = create_account(state.store, state.clock, credits_usd=Decimal(5))
    yield app, account.api_key
    state.close()


CHAT = json.dumps({"model": "gpt-6-luna", "messages": [{"role": "user", "content": "hello"}]}).encode()


@pytest.mark.parametrize(("method", "path", "body", "auth"), [
    ("POST", "/v1/chat/completions", CHAT, True),
    ("POST", "/v1/chat/completions", b"{not json", True),
    ("POST", "/v1/chat/completions", CHAT, False),
    ("POST", "/v1/chat/completions", json.dumps({"model": "gpt-nope", "messages": []}).encode(), True),
    ("GET", "/v1/models", b"", True),
])
def test_the_shortcut_answers_as_the_router_does(app_and_key, method: str, path: str, body: bytes,
                                                  auth: bool) -> None:
    app, key = app_and_key
    assert (method, path) in app.direct_routes
    headers = {"content-type": "application/json", **({"authorization": f"Bearer {key}"} if auth else {})}
    direct = _call(app, method, path, body, headers)

    async def routed(scope: dict, receive: Any, send: Any) -> None:
        await Starlette.__call__(app, scope, receive, send)

    assert _comparable(direct) == _comparable(_call(routed, method, path, body, headers))


def test_only_fixed_path_api_endpoints_are_taken_directly(app_and_key) -> None:
    app, _ = app_and_key
    assert ("POST", "/v1/chat/completions") in app.direct_routes
    assert all(not path.startswith("/sandbox/") and "{" not in path for _, path in app.direct_routes)
    # The router would pick the same endpoint for each of them: the first route that fully matches.
    for (method, path), endpoint in app.direct_routes.items():
        scope = {"type": "http", "method": method, "path": path, "root_path": ""}
        first = next(route for route in app.router.routes
                     if isinstance(route, Route) and route.matches(scope)[0].name == "FULL")
        assert first.endpoint is endpoint


def test_other_methods_and_paths_are_still_routed(app_and_key) -> None:
    app, key = app_and_key
    status, _, body = _call(app, "GET", "/v1/chat/completions", b"", {"authorization": f"Bearer {key}"})
    assert status == 404 or status == 405
    assert json.loads(body)["error"]["code"] == "unknown_url"

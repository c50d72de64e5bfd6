"""`create_app(data_dir)`: the sandbox as one Starlette application.

Routes come from the resource modules (each exposes `ROUTES`). Anything that is not a route gets
the real API's 404 `unknown_url` under `/v1`, and an unexpected exception becomes the real API's
500 `server_error` envelope rather than a traceback.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import URLPath
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Match, NoMatchFound, Route
from starlette.types import Receive, Scope, Send

from keylab.pricing import COURSE_MODEL
from keylab.pricing.tokens import preload
from keylab.sandbox.api.common import MAX_BODY_BYTES, OPENAI_VERSION, new_request_id
from keylab.sandbox.clock import enter_tenant
from keylab.sandbox.errors import ApiError
from keylab.sandbox.hosts import HostCheck
from keylab.sandbox.proxied import ForwardedPrefix
from keylab.sandbox.state import SandboxState

log = logging.getLogger("keylab.sandbox")

# Modules with a ROUTES list, in matching order. Platform modules join as they land.
ROUTE_MODULES = (
    "keylab.sandbox.api.routes",
    "keylab.sandbox.control",
)
OPTIONAL_ROUTE_MODULES = (
    "keylab.sandbox.api.responses",
    "keylab.sandbox.admin.routes",
    "keylab.sandbox.classroom.routes",
    "keylab.sandbox.dashboard.routes",
)
# Groups imported on the first request that the routes before them do not fully match (cold start:
# the dashboard pulls in Jinja2, the admin API and the Responses API a lot of code that neither the
# control plane nor a chat completion needs). Separate groups, so a Responses call loads no Jinja2.
# Their modules are the last ones of the lists above, in the same order: the match stays the same.
LAZY_ROUTE_GROUPS = (
    ("keylab.sandbox.api.responses",),
    ("keylab.sandbox.admin.routes", "keylab.sandbox.classroom.routes", "keylab.sandbox.dashboard.routes"),
)


def _module_routes(names: tuple[str, ...]) -> list[BaseRoute]:
    routes: list[BaseRoute] = []
    for name in names:
        if name in ROUTE_MODULES:
            routes.extend(importlib.import_module(name).ROUTES)
            continue
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if not error.name or not name.startswith(error.name):
                raise
            continue
        routes.extend(module.ROUTES)
    return routes


class _LazyRoutes(BaseRoute):
    """Routes of modules imported on first use, matched exactly as if listed in place.

    Placed after the eager routes and the groups listed before it, it answers FULL with its first
    fully matching route, else PARTIAL with its first partial one: with the router's own rule
    (first FULL wins, else first PARTIAL) that is the order the flat list would give, group after
    group. `url_path_for` reaches the inner routes' names.
    """

    def __init__(self, modules: tuple[str, ...]) -> None:
        self._modules = modules
        self._routes: list[BaseRoute] | None = None
        self._lock = threading.Lock()

    @property
    def routes(self) -> list[BaseRoute]:
        if self._routes is None:
            with self._lock:
                if self._routes is None:
                    self._routes = _module_routes(self._modules)
        return self._routes

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        partial: tuple[BaseRoute, Scope] | None = None
        for route in self.routes:
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                return Match.FULL, {**child_scope, _INNER: route}
            if match is Match.PARTIAL and partial is None:
                partial = (route, child_scope)
        if partial is not None:
            return Match.PARTIAL, {**partial[1], _INNER: partial[0]}
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = scope.pop(_INNER)
        scope["route"] = route
        await route.handle(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        for route in self.routes:
            try:
                return route.url_path_for(name, **path_params)
            except NoMatchFound:
                pass
        raise NoMatchFound(name, path_params)


_INNER = "keylab.lazy_route"


def _routes() -> list[BaseRoute]:
    lazy = {name for group in LAZY_ROUTE_GROUPS for name in group}
    eager = tuple(name for name in ROUTE_MODULES + OPTIONAL_ROUTE_MODULES if name not in lazy)
    return [*_module_routes(eager), *(_LazyRoutes(group) for group in LAZY_ROUTE_GROUPS)]


class SandboxApp(Starlette):
    """The sandbox as a Starlette app, with one shortcut for the busiest routes.

    A request for an `endpoint()` route with a fixed path (POST /v1/chat/completions, GET
    /v1/models, …) goes straight to that endpoint, as the router would send it: `endpoint()`
    answers every error itself with the API's envelope, so Starlette's error middleware, router
    and route wrappers would only add work (about 50,000 instructions, ~4 % of a completion's
    cost in the server). Everything else, and any such path under a root_path, is routed as usual.
    `tests/test_sandbox_app.py` checks that both ways give the same answers.
    """

    def __init__(self, *args: Any, host_check: HostCheck | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.direct_routes = _direct_routes(self.router.routes)
        self.host_check = host_check or HostCheck()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            # Every request starts on the sandbox's time. uvicorn may start a request in the context
            # of the one before it on the same connection (pipelined, or after a large body), which
            # can hold a class student's clock (keylab.sandbox.clock); authentication enters the
            # tenant of this request's own key.
            enter_tenant(None)
            host = length = None
            chunked = False
            for name, value in scope["headers"]:
                if name == b"host":
                    host = value
                elif name == b"content-length":
                    length = value
                elif name == b"transfer-encoding":
                    chunked = True
            refusal = None
            if not self.host_check.allowed(host):
                refusal = _wrong_host(scope, host, self.host_check)
            elif length is not None and (len(length) > 9 or int(length) > MAX_BODY_BYTES):
                refusal = _too_large(scope)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
            if chunked:
                receive = _bounded(receive)
        if scope["type"] == "http" and not scope.get("root_path"):
            handler = self.direct_routes.get((scope["method"], scope["path"]))
            if handler is not None:
                scope["app"] = self
                response = await handler(Request(scope, receive, send))
                await response(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def _wrong_host(scope: Scope, host: bytes | None, check: HostCheck) -> Response:
    """400 for a Host the sandbox does not answer to (see keylab.sandbox.hosts), in the API's
    envelope under /v1 and as text elsewhere; it names the fix."""
    shown = (host or b"").decode("ascii", "replace")[:100]
    names = ", ".join(sorted(check.names | {"localhost"}))
    message = (f"This keylab sandbox does not answer to the host {shown!r} (a defence against DNS rebinding). "
               f"Use its IP address or one of: {names}; to add a name, start it with --allowed-host NAME.")
    if scope["path"].startswith("/v1"):
        error = ApiError("admin_invalid_request", message=message)
        return JSONResponse(error.body(), status_code=400, headers=_api_headers())
    return PlainTextResponse(message, status_code=400)


def _too_large(scope: Scope) -> Response:
    """413 before the body is read: the API's envelope under /v1, text elsewhere (a dashboard form)."""
    error = ApiError("request_body_too_large", limit=MAX_BODY_BYTES)
    if scope["path"].startswith("/v1"):
        return JSONResponse(error.body(), status_code=413, headers=_api_headers())
    return PlainTextResponse(error.body()["error"]["message"], status_code=413)


def _bounded(receive: Receive) -> Receive:
    """`receive` for a chunked body (no Content-Length): once MAX_BODY_BYTES have come it reports
    a disconnect, so no reader (a form, the API) ever holds more than that and one chunk."""
    seen = 0

    async def bounded() -> dict[str, Any]:
        nonlocal seen
        if seen > MAX_BODY_BYTES:
            return {"type": "http.disconnect"}
        message = await receive()
        seen += len(message.get("body", b""))  # the API's reader refuses this chunk itself (413)
        return message

    return bounded


def _direct_routes(routes: list[BaseRoute]) -> dict[tuple[str, str], Callable[[Request], Any]]:
    """(method, path) -> endpoint, for the fixed-path routes whose endpoint answers every error."""
    direct: dict[tuple[str, str], Callable[[Request], Any]] = {}
    for route in routes:
        if (isinstance(route, Route) and not route.param_convertors and route.methods
                and getattr(route.endpoint, "answers_every_error", False)):
            for method in route.methods:
                direct.setdefault((method, route.path), route.endpoint)
    return direct


def _api_headers() -> dict[str, str]:
    return {"x-request-id": new_request_id(), "openai-version": OPENAI_VERSION, "openai-processing-ms": "1"}


async def _not_found(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 404)
    if request.url.path.startswith("/v1/") or request.url.path == "/v1":
        error = ApiError("unknown_url", method=request.method, path=request.url.path)
        return JSONResponse(error.body(), status_code=404, headers=_api_headers())
    if isinstance(exc, HTTPException) and status not in (404, 405):
        return PlainTextResponse(str(exc.detail), status_code=status)
    return PlainTextResponse("Not Found" if status == 404 else "Method Not Allowed", status_code=status)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    error = ApiError("server_error")
    return JSONResponse(error.body(), status_code=500, headers=_api_headers())


def create_app(data_dir: str | Path, *, on_startup: Callable[[], None] | None = None,
               allowed_hosts: Iterable[str] = (), public_url: str | None = None) -> Starlette:
    """A sandbox app on the data dir `data_dir` (created if missing).

    on_startup: called once the server is ready (the CLI prints its first line there).
    allowed_hosts: host names it answers besides IP literals and localhost (keylab.sandbox.hosts).
    public_url: the base URL of links in its emails.
    """
    state = SandboxState(data_dir, public_url=public_url)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        preload((COURSE_MODEL,))
        if on_startup is not None:
            on_startup()
        yield
        state.close()

    app = SandboxApp(
        routes=_routes(),
        exception_handlers={404: _not_found, 405: _not_found, Exception: _server_error},
        lifespan=lifespan,
        host_check=HostCheck(allowed_hosts),
        middleware=[Middleware(ForwardedPrefix)],  # the dashboard under JupyterHub's /user/NAME/keylab/
    )
    app.state.sandbox = state
    return app

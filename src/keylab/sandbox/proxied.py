"""The dashboard behind a path prefix: JupyterHub's `/user/NAME/keylab/`, a reverse proxy's `/keylab/`.

jupyter-server-proxy strips the prefix and names it in `X-Forwarded-Context` (other proxies use
`X-Forwarded-Prefix`). With that header, this middleware
- sets the ASGI `root_path` (and puts the prefix back in `path`, as ASGI wants), so URLs the dashboard builds from the request (the email link in the
  Outbox) carry the prefix;
- puts the prefix in front of the site-absolute links, forms and assets of HTML pages
  (`href="/usage"` becomes `href="/user/NAME/keylab/usage"`);
- makes redirects relative (`Location: /login` from `/api-keys/new` becomes `../login`): a relative
  redirect resolves under the prefix in the browser, and no proxy rewrites it (jupyter-server-proxy
  4.5+ prefixes site-absolute ones itself, older versions do not).
Without the header nothing changes. `/v1` answers are JSON and never pass through here (see
`app.SandboxApp`). The prefix only shapes the answer to the request that carried it.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PREFIX_HEADERS = (b"x-forwarded-context", b"x-forwarded-prefix")
_PREFIX = re.compile(r"^(/[A-Za-z0-9._~%!$&'()*+,;=:@-]+)+$")
_LINK = re.compile(rb'(\s(?:href|action|src)=")/(?!/)')


def forwarded_prefix(scope: Scope) -> str:
    """The prefix a proxy in front of us stripped, or "" (absent, "/", or not a plain path)."""
    for name, value in scope.get("headers", ()):
        if name in PREFIX_HEADERS:
            prefix = value.decode("latin-1").strip().rstrip("/")
            return prefix if _PREFIX.match(prefix) else ""
    return ""


class ForwardedPrefix:
    """ASGI middleware applying the forwarded prefix to the dashboard's answers (see module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        prefix = forwarded_prefix(scope) if scope["type"] == "http" else ""
        if not prefix:
            await self.app(scope, receive, send)
            return
        # ASGI's rule: `path` includes `root_path` (Starlette's routing and static files strip it again).
        request_path = scope["path"]
        scope = {**scope, "root_path": scope.get("root_path", "") + prefix, "path": prefix + scope["path"],
                 "raw_path": prefix.encode("latin-1") + scope.get("raw_path", scope["path"].encode("latin-1"))}
        start: Message | None = None
        html = False
        chunks: list[bytes] = []

        async def send_prefixed(message: Message) -> None:
            nonlocal start, html
            if message["type"] == "http.response.start":
                headers = [(name, _location(value, prefix, request_path) if name == b"location" else value)
                           for name, value in message.get("headers", [])]
                html = any(name == b"content-type" and value.startswith(b"text/html") for name, value in headers)
                start = {**message, "headers": headers}
                if not html:
                    await send(start)
                return
            if message["type"] != "http.response.body" or not html:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = _LINK.sub(rb"\1" + prefix.encode("latin-1") + b"/", b"".join(chunks))
            assert start is not None
            headers = [(name, str(len(body)).encode() if name == b"content-length" else value)
                       for name, value in start["headers"]]
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, send_prefixed)


def _location(value: bytes, prefix: str, request_path: str) -> bytes:
    """A redirect to a site-absolute path (with or without the prefix), as a path relative to the request."""
    raw = prefix.encode("latin-1")
    if value.startswith(raw + b"/"):
        value = value[len(raw):]
    if not value.startswith(b"/") or value.startswith(b"//"):
        return value  # already relative, or another site
    depth = request_path.count("/") - 1
    return (b"../" * depth if depth > 0 else b"./") + value[1:]

"""Is the server at a base URL a keylab sandbox? Asked over HTTP, never guessed from the address.

A class sandbox runs on the room's network (`http://192.168.1.20:8765/v1`) or behind JupyterHub's
proxy, so "loopback means sandbox" is not enough. The sandbox's `/sandbox/health` answers with the
`x-keylab-sandbox` header; nothing else does. No key is sent, and api.openai.com is never asked.
"""

from __future__ import annotations

import hashlib
import time

HEALTH_PATH = "/sandbox/health"
SANDBOX_HEADER = "x-keylab-sandbox"  # sent by keylab.sandbox.control.health
TIMEOUT_S = 1.5
RETRY_AFTER_S = 30.0  # a "no" is asked again after this long (the sandbox may start meanwhile)

_answers: dict[str, tuple[bool, float]] = {}


def is_sandbox(base_url: str) -> bool:
    """True when the server at `base_url` answers as a keylab sandbox (a "yes" is remembered)."""
    from keylab.environment import is_live_url

    if is_live_url(base_url):
        return False
    from keylab.sandbox.client import root_url

    root = root_url(base_url.strip())
    known = _answers.get(root)
    if known is not None and (known[0] or time.monotonic() - known[1] < RETRY_AFTER_S):
        return known[0]
    answer = answers_as_sandbox(root)
    _answers[root] = (answer, time.monotonic())
    return answer


def tls_verify(url: str) -> bool:
    """httpx's `verify=` for a request to `url`: certificates checked over HTTPS; over plain HTTP (a
    sandbox on loopback or the room's network) no TLS context is built at all, which costs ~20 ms
    of CPU per client."""
    return url.startswith("https:")


def answers_as_sandbox(root: str, timeout: float = TIMEOUT_S) -> bool:
    """Ask now (nothing remembered): does `root` + /sandbox/health answer 200 with the sandbox's
    header? `root` is the server's address without /v1 (`http://127.0.0.1:8765`)."""
    return instance_of(root, timeout) is not None


def instance_id(operator_token: str) -> str:
    """A public name of a sandbox's data dir, derived one-way from its operator token: the health
    answer carries it (`instance`), so a client holding a token tells whether that sandbox is the
    token's before sending it anywhere."""
    return hashlib.sha256(b"keylab-sandbox-instance:" + operator_token.encode()).hexdigest()[:24]


def instance_of(root: str, timeout: float = TIMEOUT_S) -> str | None:
    """The `instance` the sandbox at `root` names in its health answer (None: no sandbox answered)."""
    import httpx

    try:
        response = httpx.get(root + HEALTH_PATH, timeout=timeout, follow_redirects=False, verify=tls_verify(root))
        if response.status_code != 200 or response.headers.get(SANDBOX_HEADER) != "1":
            return None
        return str(response.json().get("instance") or "")
    except (httpx.HTTPError, ValueError, AttributeError):
        return None


def forget() -> None:
    """Forget every answer (tests)."""
    _answers.clear()

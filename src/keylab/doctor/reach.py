"""The doctor's network check: does the base URL answer like the OpenAI API, and is the key accepted?

One free request, `GET {base_url}/models` (listing models costs nothing, on api.openai.com as in
the sandbox), sent the way the SDK sends it: `Authorization: Bearer <key>`, no retries, a short
timeout, no redirects followed. The key travels only to the address the SDK would send it to, and
only when the offline checks found nothing wrong with the key or the address.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Any

import httpx

from keylab.doctor.finding import Finding
from keylab.environment import is_loopback_url, safe_url

TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Reach:
    """What the free request showed: findings (KD021-KD025), and one line for the report."""

    summary: str
    findings: list[Finding] = field(default_factory=list)


def _is_tls_error(error: BaseException) -> bool:
    seen: BaseException | None = error
    for _ in range(8):  # httpx wraps httpcore, which wraps the ssl module's error
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLError) or "SSL" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _error(body: Any) -> dict[str, Any]:
    """The `error` object of an API error body ({} when there is none)."""
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def _error_code(body: Any) -> str:
    error = _error(body)
    return str(error.get("code") or error.get("type") or "")


def _error_message(body: Any) -> str:
    return str(_error(body).get("message") or "")


def check(base_url: str, key: str | None, *, timeout: float = TIMEOUT_S,
          transport: httpx.BaseTransport | None = None, sandbox: bool = False) -> Reach:
    """Send the free request and explain what came back. key=None checks only that the API answers.
    sandbox: the server answered as a keylab sandbox (a class sandbox on the room's network); one
    on this computer is taken for the sandbox anyway."""
    url = base_url.strip().rstrip("/") + "/models"
    shown = safe_url(base_url.strip())
    sandbox = sandbox or is_loopback_url(base_url)
    where = f"the sandbox at {shown}" if sandbox else shown
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        # trust_env=False for this computer: a proxy from the environment cannot reach the local sandbox.
        with httpx.Client(timeout=timeout, follow_redirects=False, transport=transport,
                          trust_env=not sandbox) as client:
            response = client.get(url, headers=headers)
    except httpx.TimeoutException:
        return Reach("no answer", [Finding.of(
            "KD021", f"Nothing answered GET {shown}/models within {timeout:g} s.", url=shown)])
    except httpx.HTTPError as error:
        if base_url.strip().lower().startswith("https://") and _is_tls_error(error):
            more = " The sandbox speaks plain http." if sandbox else ""
            return Reach("no answer", [Finding.of(
                "KD022", f"OPENAI_BASE_URL is {shown}, but the server there does not speak https "
                f"(the secure connection failed).{more}", url=shown)])
        what = ("nothing is listening there: the sandbox is not running, or runs on another port"
                if sandbox else f"the connection failed ({type(error).__name__}: {str(error)[:120] or 'no details'})")
        return Reach("no answer", [Finding.of("KD021", f"GET {shown}/models: {what}.", url=shown)])

    status, body = response.status_code, _json(response)
    location = response.headers.get("location", "")
    if 300 <= status < 400 and location.lower().startswith("https://") and shown.lower().startswith("http://"):
        return Reach(f"answered {status}", [Finding.of(
            "KD022", f"OPENAI_BASE_URL is {shown}, but the server answers only over https (it redirects "
            "there); the SDK does not follow that redirect.", url=shown, status=status)])
    looks_like_api = isinstance(body, dict) and (
        (body.get("object") == "list" and isinstance(body.get("data"), list)) or isinstance(body.get("error"), dict))
    if not looks_like_api or status == 404:
        kind = response.headers.get("content-type", "unknown").split(";")[0] or "unknown"
        return Reach(f"answered {status}, not like the OpenAI API", [Finding.of(
            "KD024", f"GET {shown}/models answered {status} with {kind} content, not the OpenAI API's "
            "JSON: the address points at another program (another port or path?).", url=shown, status=status)])
    if status == 200:
        accepted = "key accepted" if key else "no key sent"
        return Reach(f"{where} answers (GET /v1/models), {accepted}")
    if status == 401 and key and "Missing scopes" in _error_message(body):
        # A restricted key the server knows, without the permission to list models: accepted.
        return Reach(f"{where} answers, key accepted (it may not list models: a restricted key)")
    if status == 401 and key:
        code = _error_code(body) or "unauthorized"
        whose = "the sandbox does not know this key" if sandbox else "the API does not accept this key"
        return Reach(f"{where} answers, key rejected", [Finding.of(
            "KD023", f"GET {shown}/models answered 401 {code}: {whose}.", url=shown, status=status, error=code)])
    if status == 401:  # asked without a key (it has problems of its own, listed above): the API answers
        return Reach(f"{where} answers (key not sent: fix the key first)")
    code = _error_code(body)
    return Reach(f"{where} answers, with an error", [Finding.of(
        "KD025", f"GET {shown}/models answered {status} {code}".rstrip() + ".", url=shown, status=status,
        error=code)])


__all__ = ["Reach", "TIMEOUT_S", "check"]

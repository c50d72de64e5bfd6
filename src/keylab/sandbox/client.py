"""A small HTTP client for the sandbox's control plane, for lessons, tests and the CLI.

Lessons stage situations with it ("this account has no credit yet", "the next call fails with a
500") over HTTP, exactly as any other program would; it never reaches into the server's memory.

    control = ControlClient.from_env()          # finds the sandbox from OPENAI_BASE_URL
    account = control.create_account(credits_usd=0)
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from keylab.paths import sandbox_data_dir
from keylab.sandbox.store import TOKEN_FILE


class ControlError(RuntimeError):
    """The control plane refused or could not be reached; the message says what to do."""


def root_url(base_url: str) -> str:
    """The sandbox's own address (dashboard, control plane) from a `/v1` base URL."""
    base = base_url.rstrip("/")
    return base[: -len("/v1")] if base.endswith("/v1") else base


def read_operator_token(data_dir: str | Path | None = None) -> str:
    """The operator token of the sandbox whose data dir is `data_dir` (default: the course's)."""
    path = Path(data_dir) if data_dir else sandbox_data_dir()
    try:
        return "kl-op-" + (path / TOKEN_FILE).read_text().strip()
    except FileNotFoundError:
        raise ControlError(
            f"No sandbox operator token in {path}. Start the sandbox first (`python3 course.py start`)."
        ) from None


@dataclass
class ControlClient:
    """Talks to `/sandbox/…` with the operator token."""

    url: str
    token: str
    timeout: float = 10.0
    _http: httpx.Client | None = field(default=None, init=False, repr=False, compare=False)

    def _client(self) -> httpx.Client:
        """One connection pool for this client's requests (a lesson's budget guard asks the clock on
        every call)."""
        from keylab.sandbox_probe import tls_verify

        if self._http is None:
            self._http = httpx.Client(timeout=self.timeout, verify=tls_verify(self.url),
                                      headers={"Authorization": f"Bearer {self.token}"})
        return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    @classmethod
    def from_env(cls, data_dir: str | Path | None = None) -> ControlClient:
        """The sandbox that OPENAI_BASE_URL points at, with the credential it takes from you.

        Your own sandbox (`keylab start`): the operator token from its data dir, which stages
        things for the whole sandbox. A class sandbox, which runs on the instructor's machine: your
        key (OPENAI_API_KEY), which stages things for you alone. Which one is decided by asking the
        sandbox whose it is (`sandbox_probe.instance_of`), so a token is never sent to another
        sandbox, even when this computer has run one of its own. A sandbox that does not answer
        gets the key; the first request then says that it does not answer.
        """
        base_url = os.environ.get("OPENAI_BASE_URL", "")
        if not base_url:
            raise ControlError(
                "OPENAI_BASE_URL is not set, so there is no sandbox to stage anything on. Load your .env "
                "(load_env()) or start the sandbox with `python3 course.py start`."
            )
        from keylab.environment import is_live_url
        from keylab.keys import looks_real
        from keylab.sandbox_probe import instance_id, instance_of

        if is_live_url(base_url):
            raise ControlError(f"OPENAI_BASE_URL is {base_url}, the real API: the control plane exists only in the "
                               "sandbox. Point OPENAI_BASE_URL at the sandbox to stage this.")
        url = root_url(base_url)
        try:
            token: str | None = read_operator_token(data_dir)
        except ControlError as missing:
            token, why = None, str(missing)
        if token is not None:
            if instance_of(url, timeout=10.0) == instance_id(token):
                return cls(url, token)
            why = f"the operator token in this computer's sandbox data dir is not the one of the sandbox at {url}"
        key = os.environ.get("OPENAI_API_KEY", "").strip()
        if not key:
            raise ControlError(f"Nothing to stage with: {why}, and OPENAI_API_KEY is not set. On a class sandbox, "
                               "put the key your instructor gave you in .env and run load_env().")
        if looks_real(key):
            raise ControlError("OPENAI_API_KEY holds a real OpenAI key, which is never sent to the sandbox: put your "
                               "sandbox key in .env and run load_env().")
        return cls(url, key)

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            response = self._client().request(method, f"{self.url}{path}", json=body)
        except httpx.HTTPError as error:
            raise ControlError(
                f"The sandbox at {self.url} does not answer ({type(error).__name__}). Is it running? "
                "Start it with `python3 course.py start` in the course folder."
            ) from None
        try:
            data = response.json() if response.content else {}
        except ValueError:  # not JSON: not the sandbox's control plane, or a server failure
            data = None
        if response.status_code >= 400 or not isinstance(data, dict):
            error = data.get("error") if isinstance(data, dict) else None
            message = error.get("message") if isinstance(error, dict) else None
            raise ControlError(f"The sandbox refused {method} {path} ({response.status_code}): "
                               f"{message or response.text[:200] or 'no answer'}")
        return data

    def create_account(self, *, credits_usd: Decimal | float | str = 0, email: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"credits_usd": str(credits_usd)}
        if email:
            body["email"] = email
        return self._request("POST", "/sandbox/accounts", body)

    def add_credit(self, organization_id: str, amount_usd: Decimal | float | str) -> dict[str, Any]:
        return self._request("POST", "/sandbox/credit",
                             {"organization_id": organization_id, "amount_usd": str(amount_usd)})

    def clock(self) -> dict[str, Any]:
        """The sandbox's now: `{"now", "today", "offset_seconds", "frozen"}`."""
        return self._request("GET", "/sandbox/clock")

    def today(self) -> dt.date:
        """The date on the sandbox's clock (lessons move it)."""
        return dt.date.fromisoformat(self.clock()["today"])

    def advance_clock(self, seconds: float) -> dict[str, Any]:
        return self._request("POST", "/sandbox/clock", {"advance_seconds": seconds})

    def reset_clock(self) -> dict[str, Any]:
        return self._request("POST", "/sandbox/clock", {"reset": True})

    def freeze_clock(self, frozen: bool = True) -> dict[str, Any]:
        """Stop (or restart) the sandbox's clock, e.g. to read exact rate-limit numbers."""
        return self._request("POST", "/sandbox/clock", {"frozen": frozen})

    def inject_fault(self, kind: str, *, count: int = 1, path: str | None = None, latency_ms: int = 0) -> dict[str, Any]:
        return self._request("POST", "/sandbox/faults",
                             {"kind": kind, "count": count, "path": path, "latency_ms": latency_ms})

    def clear_faults(self) -> dict[str, Any]:
        return self._request("DELETE", "/sandbox/faults")

    def set_key_limits(self, key_id: str, *, rpm: int | None = None, tpm: int | None = None) -> dict[str, Any]:
        return self._request("POST", f"/sandbox/keys/{key_id}/limits", {"rpm": rpm, "tpm": tpm})

    def set_quota_error(self, variant: str) -> dict[str, Any]:
        return self._request("POST", "/sandbox/settings", {"quota_error": variant})

    def outbox(self, to: str) -> list[dict[str, Any]]:
        """Messages (e-mails, SMS) the sandbox sent to `to`, newest first: `{"subject", "body", ...}`."""
        from urllib.parse import quote

        return self._request("GET", f"/sandbox/outbox?to={quote(to)}")["data"]

    def reset(self) -> dict[str, Any]:
        return self._request("POST", "/sandbox/reset")

"""The control plane (/sandbox/…): operator token required, each action works, bad bodies get a 400
that says what to send instead."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from openai import OpenAI

from keylab.sandbox import SandboxServer
from keylab.sandbox.client import ControlClient, ControlError

ACTIONS = [
    ("POST", "/sandbox/accounts"), ("POST", "/sandbox/credit"), ("GET", "/sandbox/clock"),
    ("POST", "/sandbox/clock"), ("POST", "/sandbox/faults"), ("DELETE", "/sandbox/faults"),
    ("POST", "/sandbox/keys/key_x/limits"), ("POST", "/sandbox/settings"), ("POST", "/sandbox/reset"),
]


@pytest.mark.parametrize(("method", "path"), ACTIONS, ids=[f"{m} {p}" for m, p in ACTIONS])
@pytest.mark.parametrize("token", [None, "kl-op-wrong", ""], ids=["no-header", "wrong-token", "empty"])
def test_token_required(sandbox: SandboxServer, method: str, path: str, token: str | None) -> None:
    """Without the operator token nothing is staged, not even a reset."""
    headers = {} if token is None else {"Authorization": f"Bearer {token}".strip()}
    response = httpx.request(method, sandbox.url + path, headers=headers, json={})
    assert response.status_code == 401
    assert "operator token" in response.json()["error"]["message"]


def test_health_needs_no_token(sandbox: SandboxServer) -> None:
    from keylab.sandbox_probe import instance_id

    answer = httpx.get(sandbox.url + "/sandbox/health").json()
    assert answer == {"status": "ok", "instance": instance_id(sandbox.operator_token)}


def test_create_account_and_credit(sandbox: SandboxServer, control: ControlClient) -> None:
    account = control.create_account(credits_usd="2.50", email="ctl-test@example.com")
    assert account["email"] == "ctl-test@example.com" and account["credits_usd"] == "2.50"
    assert OpenAI(api_key=account["api_key"], base_url=sandbox.base_url, max_retries=0).models.list().data
    assert control.add_credit(account["organization_id"], "1.25")["balance_usd"] == "3.75"


def test_clock(control: ControlClient) -> None:
    before = control._request("GET", "/sandbox/clock")
    moved = control.advance_clock(3600)
    try:
        assert moved["offset_seconds"] == before["offset_seconds"] + 3600
        assert moved["now"] >= before["now"] + 3600
        assert control.freeze_clock(True)["frozen"] is True
        assert control.freeze_clock(False)["frozen"] is False
    finally:
        assert control.reset_clock()["offset_seconds"] == 0


def test_faults(control: ControlClient, client: OpenAI) -> None:
    staged = control.inject_fault("latency", latency_ms=1, count=2, path="/v1/models")["faults"]
    assert staged[-1]["kind"] == "latency" and staged[-1]["remaining"] == 2
    assert control.clear_faults() == {"faults": []}
    assert client.models.list().data


def test_key_limits(control: ControlClient, account: dict[str, Any]) -> None:
    assert control.set_key_limits(account["api_key_id"], rpm=5, tpm=1000) == {
        "key_id": account["api_key_id"], "rpm": 5, "tpm": 1000}
    assert control.set_key_limits(account["api_key_id"])["rpm"] is None
    with pytest.raises(ControlError, match="No key with id"):
        control.set_key_limits("key_nope", rpm=1)


def test_settings(control: ControlClient) -> None:
    try:
        assert control.set_quota_error("credit_balance_exhausted") == {"quota_error": "credit_balance_exhausted"}
    finally:
        assert control.set_quota_error("insufficient_quota") == {"quota_error": "insufficient_quota"}


def test_reset_forgets_everything(tmp_path: Any) -> None:
    """Reset drops accounts and keys (on a sandbox of its own, not the shared one)."""
    from keylab.sandbox import serve_in_background

    with serve_in_background(tmp_path / "sb") as server:
        control = ControlClient(server.url, server.operator_token)
        account = control.create_account(credits_usd="1")
        assert control.reset() == {"reset": True}
        client = OpenAI(api_key=account["api_key"], base_url=server.base_url, max_retries=0)
        with pytest.raises(Exception, match="Incorrect API key"):
            client.models.list()


BAD_BODIES = [
    ("POST", "/sandbox/accounts", b"{nope", "not valid JSON"),
    ("POST", "/sandbox/accounts", b"[1]", "must be a JSON object"),
    ("POST", "/sandbox/accounts", b'{"credits_usd": "lots"}', "number of US dollars"),
    ("POST", "/sandbox/accounts", b'{"credits_usd": -1}', "zero or more"),
    ("POST", "/sandbox/accounts", b'{"credits_usd": "NaN"}', "zero or more"),
    ("POST", "/sandbox/accounts", b'{"email": "nobody"}', "email address"),
    ("POST", "/sandbox/clock", b'{"advance_seconds": "soon"}', "advance_seconds"),
    ("POST", "/sandbox/clock", b'{"advance_seconds": Infinity}', "advance_seconds"),
    ("POST", "/sandbox/clock", b'{"frozen": "yes"}', "'frozen' must be true"),
    ("POST", "/sandbox/faults", b'{"kind": "meteor"}', "'kind' must be one of"),
    ("POST", "/sandbox/faults", b'{"kind": "latency", "latency_ms": -5}', "'latency_ms' from 0 to 60,000"),
    ("POST", "/sandbox/faults", b'{"kind": "latency", "latency_ms": 1e400}', "'latency_ms' from 0"),
    ("POST", "/sandbox/faults", b'{"kind": "server_error", "count": true}', "'count' must be"),
    ("POST", "/sandbox/faults", b'{"kind": "server_error", "count": 100000}', "'count' must be"),
    ("POST", "/sandbox/clock", b'{"advance_seconds": 1e300}', "within 100 years"),
    ("POST", "/sandbox/clock", b'{"advance_seconds": -1e11}', "within 100 years"),
    ("POST", "/sandbox/faults", b'{"kind": "server_error", "count": 0}', "'count' must be"),
    ("POST", "/sandbox/faults", b'{"kind": "server_error", "path": 7}', "'path' must be"),
    ("POST", "/sandbox/keys/key_x/limits", b'{"rpm": 0}', "whole number from 1"),
    ("POST", "/sandbox/keys/key_x/limits", b'{"tpm": true}', "whole number from 1"),
    ("POST", "/sandbox/keys/key_x/limits", b'{"rpm": 1000000000000000000000000000000}', "whole number from 1"),
    ("POST", "/sandbox/settings", b'{"quota_error": "bankrupt"}', "'quota_error' must be one of"),
]


@pytest.mark.parametrize(("method", "path", "body", "hint"), BAD_BODIES,
                         ids=[f"{p.rsplit('/', 1)[-1]}:{b.decode()[:30]}" for _, p, b, _ in BAD_BODIES])
def test_bad_bodies_get_a_helpful_400(sandbox: SandboxServer, control: ControlClient, method: str, path: str,
                                      body: bytes, hint: str) -> None:
    response = httpx.request(method, sandbox.url + path, content=body,
                             headers={"Authorization": f"Bearer {control.token}"})
    assert response.status_code == 400, response.text
    assert hint in response.json()["error"]["message"]


def test_unknown_organization_for_credit(control: ControlClient) -> None:
    with pytest.raises(ControlError, match="No organization"):
        control.add_credit("org-nope", "1")


@pytest.mark.parametrize("offset_s", [0.0, -86_400 * 400.5, 86_400 * 3650 + 0.25, -1e9])
def test_clock_today_is_the_utc_date_of_now(tmp_path: Any, offset_s: float) -> None:
    """`Clock.today` (a date per Unix day, cached) is the UTC calendar date of the moved clock."""
    import datetime as dt

    from keylab.sandbox.clock import Clock
    from keylab.sandbox.store import Store

    with Store(tmp_path) as store:
        clock = Clock(store)
        clock.freeze()
        clock.advance(offset_s)
        assert clock.today() == dt.datetime.fromtimestamp(clock.now(), dt.timezone.utc).date()
        clock.advance(86_400 - clock.now() % 86_400)  # exactly midnight UTC: the next day
        assert clock.today() == dt.datetime.fromtimestamp(clock.now(), dt.timezone.utc).date()

"""Spend limits and alerts through the official SDK: enforcement, exactness under load, durability.

Every client parses strictly (`_strict_response_validation=True`), so each admin answer is also
checked against the SDK's own types.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import openai
import pytest
from openai import AsyncOpenAI, OpenAI

from keylab.pricing import cost_of, get_model
from keylab.sandbox import SandboxServer, serve_in_background, simulate
from keylab.sandbox.client import ControlClient, read_operator_token
from keylab.sandbox.platform import alerts, outbox
from keylab.sandbox.platform.limits import PICO_PER_CENT
from keylab.sandbox.store import Store

EXPENSIVE = "gpt-6-astra"  # $10 in / $50 out per 1M tokens
# About 1,000 prompt tokens: one call costs about a cent on gpt-6-astra.
LONG_PROMPT = "Explain how project spend limits protect a classroom budget. " * 100


def admin(server: SandboxServer, account: dict[str, Any]) -> OpenAI:
    return OpenAI(admin_api_key=account["admin_key"], base_url=server.base_url, max_retries=0,
                  _strict_response_validation=True)


def user(server: SandboxServer, key: str) -> OpenAI:
    return OpenAI(api_key=key, base_url=server.base_url, max_retries=0, _strict_response_validation=True)


def ask(client: OpenAI, prompt: str = LONG_PROMPT, model: str = EXPENSIVE, **kwargs: Any) -> Any:
    return client.chat.completions.create(model=model, messages=[{"role": "user", "content": prompt}], **kwargs)


def spent_pico(store: Store, column: str, ident: str) -> int:
    return int(store.query_one(f"SELECT COALESCE(SUM(cost_pico), 0) FROM usage WHERE {column} = ?", (ident,))[0])


@pytest.fixture
def store(sandbox: SandboxServer) -> Iterator[Store]:
    """A second handle on the running sandbox's data dir, as the CLI or a lesson would open it."""
    handle = Store(sandbox.data_dir)
    yield handle
    handle.close()


def test_org_and_project_spend_limits_answer_429_and_lift(sandbox: SandboxServer, account: dict[str, Any]) -> None:
    org = admin(sandbox, account).admin.organization
    client = user(sandbox, account["api_key"])

    fresh = org.spend_limit.retrieve()
    assert fresh.enforcement.status == "inactive"

    limit = org.spend_limit.update(currency="USD", interval="month", threshold_amount=1)
    assert (limit.object, limit.threshold_amount, limit.currency, limit.interval) == (
        "organization.spend_limit", 1, "USD", "month")
    assert limit.enforcement.status == "enforcing"
    assert org.spend_limit.retrieve().threshold_amount == 1

    ask(client)  # about one cent: admitted, because nothing was spent yet
    with pytest.raises(openai.RateLimitError) as caught:
        ask(client)
    assert caught.value.status_code == 429
    assert caught.value.code == "organization_spend_limit_exceeded"
    assert caught.value.type == "insufficient_quota"

    deleted = org.spend_limit.delete()
    assert deleted.deleted is True and deleted.object == "organization.spend_limit.deleted"
    assert org.spend_limit.retrieve().enforcement.status == "inactive"
    ask(client, prompt="hi", model="gpt-6-luna")  # the limit is gone

    project_id = account["project_id"]
    plimit = org.projects.spend_limit.update(project_id, currency="USD", interval="month", threshold_amount=2)
    assert plimit.object == "project.spend_limit" and plimit.enforcement.status == "enforcing"
    ask(client)  # the project has spent ~1 cent: still under 2
    with pytest.raises(openai.RateLimitError) as caught:
        for _ in range(3):
            ask(client)
    assert caught.value.code == "project_spend_limit_exceeded"
    assert caught.value.type == "insufficient_quota"
    # A limit above the spend lets calls through again.
    org.projects.spend_limit.update(project_id, currency="USD", interval="month", threshold_amount=500)
    ask(client, prompt="hi", model="gpt-6-luna")
    assert org.projects.spend_limit.delete(project_id).object == "project.spend_limit.deleted"
    assert org.projects.spend_limit.retrieve(project_id).enforcement.status == "inactive"


def test_spend_limit_rejects_bad_amounts(sandbox: SandboxServer, account: dict[str, Any]) -> None:
    org = admin(sandbox, account).admin.organization
    with pytest.raises(openai.BadRequestError) as caught:
        org.spend_limit.update(currency="USD", interval="month", threshold_amount=0)
    assert caught.value.param == "threshold_amount"
    with pytest.raises(openai.BadRequestError) as caught:
        org.spend_limit.update(currency="EUR", interval="month", threshold_amount=5)  # type: ignore[arg-type]
    assert caught.value.code == "invalid_value"
    with pytest.raises(openai.NotFoundError) as caught:
        org.projects.spend_limit.retrieve("proj_doesnotexist")
    assert caught.value.body["message"] == "The project proj_doesnotexist was not found"


def test_spend_alert_sends_one_email_per_alert_per_month(tmp_path: Path) -> None:
    # A sandbox of its own: this test moves the clock into next month.
    with serve_in_background(tmp_path) as server:
        control = ControlClient(server.url, server.operator_token)
        account = control.create_account(credits_usd="5", email="owner@example.com")
        org = admin(server, account).admin.organization
        client = user(server, account["api_key"])
        project_alert = org.projects.spend_alerts.create(
            account["project_id"], currency="USD", interval="month", threshold_amount=1,
            notification_channel={"type": "email", "recipients": ["owner@example.com", "ta@example.com"],
                                  "subject_prefix": "[class]"},
        )
        org_alert = org.spend_alerts.create(
            currency="USD", interval="month", threshold_amount=2,
            notification_channel={"type": "email", "recipients": ["finance@example.com"]},
        )
        high_alert = org.spend_alerts.create(  # never reached: never sent
            currency="USD", interval="month", threshold_amount=10_000,
            notification_channel={"type": "email", "recipients": ["finance@example.com"]},
        )
        store = server.app.state.sandbox.store

        ask(client, prompt="hi", model="gpt-6-luna")
        assert outbox.list_messages(store) == []  # under every threshold: no mail
        for _ in range(4):  # ~4 cents: past 1 and 2 cents, many calls after crossing
            ask(client)
        owner_mail = outbox.list_messages(store, to="owner@example.com")
        assert len(owner_mail) == 1
        assert owner_mail[0]["to"] == ["owner@example.com", "ta@example.com"]
        assert owner_mail[0]["subject"].startswith("[class] ")
        assert "$0.01" in owner_mail[0]["subject"]
        assert len(outbox.list_messages(store, to="finance@example.com")) == 1
        assert len(outbox.list_messages(store)) == 2
        assert alerts.list_deliveries(store, high_alert.id) == []
        assert alerts.list_deliveries(store, project_alert.id)[0]["message_id"] == owner_mail[0]["id"]
        assert outbox.get_message(store, owner_mail[0]["id"]) == owner_mail[0]

        # Next month the spend starts from zero: the alerts fire again, once each.
        now = server.app.state.sandbox.clock
        control.advance_clock(now.month_start_s() + 32 * 86400 - now.now_s())
        ask(client, prompt="hi", model="gpt-6-luna")
        assert len(outbox.list_messages(store)) == 2
        for _ in range(4):
            ask(client)
        assert len(outbox.list_messages(store, to="owner@example.com")) == 2
        assert len(outbox.list_messages(store, to="finance@example.com")) == 2
        assert len(alerts.list_deliveries(store, org_alert.id)) == 2


async def _burst(server: SandboxServer, key: str, n: int, max_tokens: int) -> list[Any]:
    async with AsyncOpenAI(api_key=key, base_url=server.base_url, max_retries=0,
                           _strict_response_validation=True) as client:
        calls = [
            client.chat.completions.create(
                model=EXPENSIVE, max_tokens=max_tokens,
                messages=[{"role": "user", "content": f"Request {i}. " + LONG_PROMPT[:1200]}],
            )
            for i in range(n)
        ]
        return await asyncio.gather(*calls, return_exceptions=True)


def test_concurrent_calls_never_overspend_the_project_limit(sandbox: SandboxServer, store: Store) -> None:
    control = ControlClient(sandbox.url, sandbox.operator_token)
    account = control.create_account(credits_usd="5")
    org = admin(sandbox, account).admin.organization
    project = org.projects.create(name="Load test")
    service_account = org.projects.service_accounts.create(project.id, name="load-bot")
    assert service_account.api_key is not None
    limit_cents = 5
    org.projects.spend_limit.update(project.id, currency="USD", interval="month", threshold_amount=limit_cents)
    org.projects.spend_alerts.create(project.id, currency="USD", interval="month", threshold_amount=1,
                                     notification_channel={"type": "email", "recipients": ["load@example.com"]})
    max_tokens = 40

    results = asyncio.run(_burst(sandbox, service_account.api_key.value, 200, max_tokens))

    ok = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert ok and refused
    assert all(isinstance(e, openai.RateLimitError) and e.code == "project_spend_limit_exceeded" for e in refused)

    # No usage row lost or invented: one row per successful answer, matched by request id.
    rows = store.query("SELECT * FROM usage WHERE project_id = ?", (project.id,))
    assert len(rows) == len(ok)
    assert {row["request_id"] for row in rows} == {r._request_id for r in ok}

    # Spend passes the limit by at most one call's maximum cost (metering's reservation).
    prompt_tokens = max(r.usage.prompt_tokens for r in ok)
    model = get_model(EXPENSIVE)
    assert model is not None
    max_cost = cost_of(model, prompt_tokens, min(max_tokens, simulate.MAX_ANSWER_TOKENS)).total_pico
    spent = spent_pico(store, "project_id", project.id)
    assert spent == sum(cost_of(model, r.usage.prompt_tokens, r.usage.completion_tokens).total_pico for r in ok)
    assert spent <= limit_cents * PICO_PER_CENT + max_cost

    # The balance is exactly the credit minus what was billed.
    balance = store.query_one("SELECT balance_pico FROM organizations WHERE id = ?", (account["organization_id"],))
    assert balance[0] == 5 * 10**12 - spent_pico(store, "org_id", account["organization_id"])

    # 200 racing calls crossed the alert's threshold together: one email.
    assert len(outbox.list_messages(store, to="load@example.com")) == 1


def _stage(server_url: str, base_url: str, data_dir: Path) -> dict[str, Any]:
    """Limits, an alert, keys and some spend on a fresh account; returns what must survive."""
    control = ControlClient(server_url, read_operator_token(data_dir))
    account = control.create_account(credits_usd="3", email="keep@example.com")
    org = OpenAI(admin_api_key=account["admin_key"], base_url=base_url, max_retries=0,
                 _strict_response_validation=True).admin.organization
    org.spend_limit.update(currency="USD", interval="month", threshold_amount=4000)
    org.projects.spend_limit.update(account["project_id"], currency="USD", interval="month", threshold_amount=250)
    alert = org.spend_alerts.create(currency="USD", interval="month", threshold_amount=0,
                                    notification_channel={"type": "email", "recipients": ["keep@example.com"]})
    service_account = org.projects.service_accounts.create(account["project_id"], name="survivor")
    assert service_account.api_key is not None
    new_admin = org.admin_api_keys.create(name="second admin")
    client = OpenAI(api_key=service_account.api_key.value, base_url=base_url, max_retries=0,
                    _strict_response_validation=True)
    for _ in range(3):
        ask(client, prompt="hi", model="gpt-6-luna")
    store = Store(data_dir)
    try:
        balance = store.query_one("SELECT balance_pico FROM organizations WHERE id = ?",
                                  (account["organization_id"],))[0]
    finally:
        store.close()
    assert balance < 3 * 10**12
    return {"account": account, "alert_id": alert.id, "sa_key": service_account.api_key.value,
            "sa_key_id": service_account.api_key.id, "admin2": new_admin.value, "balance": balance}


def _verify(base_url: str, data_dir: Path, staged: dict[str, Any]) -> None:
    account = staged["account"]
    store = Store(data_dir)
    try:
        balance = store.query_one("SELECT balance_pico FROM organizations WHERE id = ?",
                                  (account["organization_id"],))[0]
        assert balance == staged["balance"]
        assert len(outbox.list_messages(store, to="keep@example.com")) == 1
    finally:
        store.close()
    for admin_key in (account["admin_key"], staged["admin2"]):
        org = OpenAI(admin_api_key=admin_key, base_url=base_url, max_retries=0,
                     _strict_response_validation=True).admin.organization
        assert org.spend_limit.retrieve().threshold_amount == 4000
        assert org.projects.spend_limit.retrieve(account["project_id"]).threshold_amount == 250
        assert [a.id for a in org.spend_alerts.list()] == [staged["alert_id"]]
        assert staged["sa_key_id"] in {k.id for k in org.projects.api_keys.list(account["project_id"])}
    for key in (account["api_key"], staged["sa_key"]):
        ask(OpenAI(api_key=key, base_url=base_url, max_retries=0), prompt="hi", model="gpt-6-luna")


def test_state_survives_a_restart(tmp_path: Path) -> None:
    with serve_in_background(tmp_path) as first:
        staged = _stage(first.url, first.base_url, tmp_path)
    with serve_in_background(tmp_path) as second:
        _verify(second.base_url, tmp_path, staged)


def _start_cli(data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "keylab", "sandbox", "--port", "0", "--data", str(data_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=dict(os.environ),
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert "listening on" in line, line
    return process, line.split()[-1]


def test_state_survives_a_killed_process(tmp_path: Path) -> None:
    process, base_url = _start_cli(tmp_path)
    try:
        staged = _stage(base_url.removesuffix("/v1"), base_url, tmp_path)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL
    process, base_url = _start_cli(tmp_path)
    try:
        _verify(base_url, tmp_path, staged)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)


def test_amounts_are_cents_not_dollars(sandbox: SandboxServer, account: dict[str, Any]) -> None:
    org = admin(sandbox, account).admin.organization
    org.spend_limit.update(currency="USD", interval="month", threshold_amount=1234)
    raw = org.spend_limit.with_raw_response.retrieve()
    assert raw.http_request.url.path == "/v1/organization/spend_limit"
    assert raw.parse().threshold_amount == 1234
    assert Decimal(raw.parse().threshold_amount) / 100 == Decimal("12.34")
    org.spend_limit.delete()

"""The e-mails the platform sends on its own: budget reached (hard spend limit) and spend alerts.

One budget e-mail per scope, month and limit amount, to the organization's owner; money in cents
as the platform shows it; links to this sandbox's dashboard, never to the real platform.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import openai
import pytest
from openai import OpenAI

from keylab.pricing import format_usd_cents
from keylab.sandbox import SandboxServer, serve_in_background
from keylab.sandbox.client import ControlClient
from keylab.sandbox.platform import limit_notices, outbox

OWNER = "owner@example.com"
# About 1,000 prompt tokens on gpt-6-astra ($10 in / $50 out per 1M): about a cent a call.
LONG_PROMPT = "Explain how project spend limits protect a classroom budget. " * 100
MONEY = re.compile(r"\$[\d,]+\.(\d+)")


def ask(client: OpenAI, prompt: str = LONG_PROMPT, model: str = "gpt-6-astra") -> Any:
    return client.chat.completions.create(model=model, messages=[{"role": "user", "content": prompt}])


@pytest.fixture
def server(tmp_path: Path) -> Any:
    # A sandbox of its own: these tests move the clock into next month.
    with serve_in_background(tmp_path) as running:
        yield running


def _setup(server: SandboxServer) -> tuple[ControlClient, dict[str, Any], Any, OpenAI]:
    control = ControlClient(server.url, server.operator_token)
    account = control.create_account(credits_usd="5", email=OWNER)
    org = OpenAI(admin_api_key=account["admin_key"], base_url=server.base_url, max_retries=0).admin.organization
    client = OpenAI(api_key=account["api_key"], base_url=server.base_url, max_retries=0)
    return control, account, org, client


def budget_mail(server: SandboxServer) -> list[dict[str, Any]]:
    store = server.app.state.sandbox.store
    return [m for m in outbox.list_messages(store, to=OWNER) if "monthly budget" in m["subject"]]


def assert_platform_style(message: dict[str, Any], server: SandboxServer) -> None:
    """Cents (or more places only under a cent), and links to this sandbox's pages."""
    text = message["subject"] + "\n" + message["body"]
    assert all(len(places) == 2 for places in MONEY.findall(text)), text
    assert "platform.openai.com" not in text
    links = re.findall(r"https?://\S+", text)
    assert links and all(link.startswith(server.url + "/") for link in links), links


@pytest.mark.parametrize(("usd", "text"), [
    ("5", "$5.00"), ("0.020345", "$0.02"), ("0.01", "$0.01"), ("0", "$0.00"), ("1234.5", "$1,234.50"),
    ("0.000125", "$0.000125"), ("0.0034", "$0.0034"),
])
def test_money_in_cents_as_the_platform_shows_it(usd: str, text: str) -> None:
    assert format_usd_cents(Decimal(usd)) == text


def test_reaching_the_budget_mails_the_owner_once_a_month(server: SandboxServer) -> None:
    control, account, org, client = _setup(server)
    org.spend_limit.update(currency="USD", interval="month", threshold_amount=1)
    assert budget_mail(server) == []  # nothing spent yet: not reached
    ask(client)  # about a cent: admitted, and reaches the budget
    for _ in range(3):
        with pytest.raises(openai.RateLimitError) as caught:
            ask(client)
        assert caught.value.code == "organization_spend_limit_exceeded"
    [mail] = budget_mail(server)
    assert mail["to"] == [OWNER]
    assert mail["subject"] == "Your organization has reached its monthly budget of $0.01"
    assert "429 organization_spend_limit_exceeded" in mail["body"]
    assert f"{server.url}/limits" in mail["body"] and f"{server.url}/usage" in mail["body"]
    assert_platform_style(mail, server)
    notices = limit_notices.list_notices(server.app.state.sandbox.store, "organization", account["organization_id"])
    assert [(n["threshold_cents"], n["message_id"]) for n in notices] == [(1, mail["id"])]

    # A higher budget is a new threshold: reaching it sends one more e-mail.
    org.spend_limit.update(currency="USD", interval="month", threshold_amount=2)
    for _ in range(3):
        try:
            ask(client)
        except openai.RateLimitError:
            break
    assert [m["subject"] for m in budget_mail(server)][0].endswith("$0.02")
    assert len(budget_mail(server)) == 2

    # Next month the spend starts from zero; reaching the budget again mails again, once.
    clock = server.app.state.sandbox.clock
    control.advance_clock(clock.month_start_s() + 32 * 86400 - clock.now_s())
    for _ in range(4):
        try:
            ask(client)
        except openai.RateLimitError:
            break
    assert len(budget_mail(server)) == 3


def test_a_project_budget_names_the_project(server: SandboxServer) -> None:
    _, account, org, client = _setup(server)
    org.projects.spend_limit.update(account["project_id"], currency="USD", interval="month", threshold_amount=1)
    ask(client)
    with pytest.raises(openai.RateLimitError) as caught:
        ask(client)
    assert caught.value.code == "project_spend_limit_exceeded"
    [mail] = budget_mail(server)
    assert mail["subject"].startswith("Your project ") and mail["subject"].endswith("monthly budget of $0.01")
    assert "429 project_spend_limit_exceeded" in mail["body"]
    assert_platform_style(mail, server)


def test_a_budget_set_below_this_months_spend_mails_at_once(server: SandboxServer) -> None:
    _, _, org, client = _setup(server)
    ask(client)
    ask(client)  # about two cents spent, no budget yet
    assert budget_mail(server) == []
    org.spend_limit.update(currency="USD", interval="month", threshold_amount=1)
    [mail] = budget_mail(server)
    assert "reached its monthly budget" in mail["body"]


def test_no_budget_mail_under_the_budget(server: SandboxServer) -> None:
    _, _, org, client = _setup(server)
    org.spend_limit.update(currency="USD", interval="month", threshold_amount=500)
    for _ in range(3):
        ask(client)
    assert budget_mail(server) == []


def test_alert_mail_shows_cents_and_links_to_the_sandbox(server: SandboxServer) -> None:
    _, _, org, client = _setup(server)
    org.spend_alerts.create(currency="USD", interval="month", threshold_amount=1,
                            notification_channel={"type": "email", "recipients": [OWNER]})
    ask(client)
    ask(client)  # an odd amount such as $0.020345 spent: shown as $0.02
    [mail] = [m for m in outbox.list_messages(server.app.state.sandbox.store, to=OWNER)
              if "spend has reached" in m["subject"]]
    assert_platform_style(mail, server)
    assert f"{server.url}/usage" in mail["body"]

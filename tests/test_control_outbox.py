"""GET /sandbox/outbox: the messages the sandbox sent to one address, for lessons without a dashboard login."""

from __future__ import annotations

from typing import Any

import pytest
from openai import OpenAI

from conftest import make_client
from keylab.sandbox.client import ControlClient, ControlError


def test_an_alert_email_can_be_read_over_the_control_plane(sandbox: Any, control: ControlClient,
                                                           account: dict[str, Any]) -> None:
    admin = OpenAI(admin_api_key=account["admin_key"], base_url=sandbox.base_url, max_retries=0)
    admin.admin.organization.projects.spend_alerts.create(
        account["project_id"], currency="USD", interval="month", threshold_amount=0,
        notification_channel={"type": "email", "recipients": ["Reader@Example.com"]})
    assert control.outbox("reader@example.com") == []
    make_client(sandbox, account["api_key"]).chat.completions.create(
        model="gpt-6-luna", messages=[{"role": "user", "content": "hi"}])
    mail = control.outbox("reader@example.com")
    assert len(mail) == 1 and mail[0]["to"] == ["Reader@Example.com"]
    assert "spend has reached $0.00" in mail[0]["subject"]
    assert control.outbox("someone.else@example.com") == []


def test_outbox_needs_an_address(control: ControlClient) -> None:
    with pytest.raises(ControlError, match=r"\?to=ADDRESS"):
        control.outbox("not-an-address")

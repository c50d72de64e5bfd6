"""The admin API (`client.admin.organization`) through the official SDK, parsing strictly.

Covers auth (admin keys only; scopes of project keys), projects, project keys, service accounts,
admin keys, spend alerts, project rate limits (enforced), and usage/costs buckets checked against
the usage rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI

from keylab.sandbox import SandboxServer
from keylab.sandbox.accounts import create_key
from keylab.sandbox.clock import Clock
from keylab.sandbox.store import Store

CHANNEL = {"type": "email", "recipients": ["owner@example.com"]}


def user(sandbox: SandboxServer, key: str) -> OpenAI:
    return OpenAI(api_key=key, base_url=sandbox.base_url, max_retries=0, _strict_response_validation=True)


def chat(client: OpenAI, model: str = "gpt-6-luna", prompt: str = "hi") -> Any:
    return client.chat.completions.create(model=model, messages=[{"role": "user", "content": prompt}])


@pytest.fixture
def org(admin_client: OpenAI) -> Any:
    return admin_client.admin.organization


@pytest.fixture
def store(sandbox: SandboxServer) -> Iterator[Store]:
    handle = Store(sandbox.data_dir)
    yield handle
    handle.close()


def test_project_key_on_admin_endpoints_gets_missing_scopes(sandbox: SandboxServer,
                                                            account: dict[str, Any]) -> None:
    # Through the SDK: a project key passed as the admin key is sent, and refused.
    wrong = OpenAI(admin_api_key=account["api_key"], base_url=sandbox.base_url, max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        wrong.admin.organization.projects.list()
    assert caught.value.status_code == 401
    assert "Missing scopes: api.management.read" in caught.value.message
    assert caught.value.body["type"] == "invalid_request_error" and caught.value.body["param"] is None
    # Raw HTTP, as curl would send it: usage endpoints name api.usage.read.
    answer = httpx.get(f"{sandbox.base_url}/organization/usage/completions?start_time=0",
                       headers={"Authorization": f"Bearer {account['api_key']}"})
    assert answer.status_code == 401
    error = answer.json()["error"]
    assert error["message"].startswith("You have insufficient permissions for this operation. "
                                       "Missing scopes: api.usage.read.")
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", None, None)
    # And the admin key cannot call models.
    with pytest.raises(openai.AuthenticationError):
        chat(user(sandbox, account["admin_key"]))


def test_restricted_and_read_only_keys(sandbox: SandboxServer, account: dict[str, Any], store: Store,
                                       org: Any) -> None:
    clock = Clock(store)
    _, restricted = create_key(store, clock, org_id=account["organization_id"], project_id=account["project_id"],
                               name="responses only", permission="restricted", scopes=["api.responses.write"])
    with pytest.raises(openai.AuthenticationError) as caught:
        chat(user(sandbox, restricted))
    assert "Missing scopes: model.request." in caught.value.message

    _, read_only = create_key(store, clock, org_id=account["organization_id"], project_id=account["project_id"],
                              name="dashboards", permission="read_only")
    reader = user(sandbox, read_only)
    assert any(m.id == "gpt-6-luna" for m in reader.models.list())
    with pytest.raises(openai.AuthenticationError) as caught:
        chat(reader)
    assert "Missing scopes: model.request" in caught.value.message

    # The admin API changes a key's scopes; the next call sees them.
    key = org.projects.api_keys.update(account["api_key_id"], project_id=account["project_id"],
                                       scopes=["api.all.read"])
    assert key.id == account["api_key_id"]
    client = user(sandbox, account["api_key"])
    client.models.list()
    with pytest.raises(openai.AuthenticationError):
        chat(client)
    org.projects.api_keys.update(account["api_key_id"], project_id=account["project_id"], scopes=[])
    chat(client)


def test_projects(org: Any, account: dict[str, Any], sandbox: SandboxServer) -> None:
    created = [org.projects.create(name=f"Lab {i}") for i in range(3)]
    assert created[0].object == "organization.project" and created[0].status == "active"
    assert org.projects.retrieve(created[0].id).name == "Lab 0"
    assert org.projects.update(created[0].id, name="Lab zero").name == "Lab zero"

    first = org.projects.list(limit=2)
    assert len(first.data) == 2 and first.has_more and first.last_id == first.data[-1].id
    everything = [p.id for p in org.projects.list(limit=2)]  # the SDK follows last_id
    assert everything == [account["project_id"], *(p.id for p in created)]

    service_account = org.projects.service_accounts.create(created[1].id, name="bot")
    assert service_account.api_key is not None
    chat(user(sandbox, service_account.api_key.value))
    archived = org.projects.archive(created[1].id)
    assert archived.status == "archived" and archived.archived_at is not None
    assert created[1].id not in [p.id for p in org.projects.list()]
    assert created[1].id in [p.id for p in org.projects.list(include_archived=True)]
    with pytest.raises(openai.AuthenticationError) as caught:  # its keys stop working
        chat(user(sandbox, service_account.api_key.value))
    assert caught.value.code == "invalid_api_key"

    with pytest.raises(openai.NotFoundError) as caught:
        org.projects.retrieve("proj_nope")
    assert caught.value.body["message"] == "The project proj_nope was not found"
    with pytest.raises(openai.BadRequestError):
        org.projects.archive(account["project_id"])  # the default project stays


def test_project_keys_and_service_accounts(org: Any, account: dict[str, Any], sandbox: SandboxServer) -> None:
    project_id = account["project_id"]
    raw = org.projects.service_accounts.with_raw_response.create(project_id, name="ci")
    created = raw.parse()
    assert created.role == "member" and created.api_key is not None
    value = created.api_key.value
    assert value.startswith("sk-svcacct-") and value in raw.text

    keys = org.projects.api_keys.list(project_id)
    by_id = {k.id: k for k in keys}
    sa_key = by_id[created.api_key.id]
    assert sa_key.owner.type == "service_account" and sa_key.owner.service_account.id == created.id
    assert sa_key.redacted_value.endswith(value[-4:]) and "..." in sa_key.redacted_value
    user_key = by_id[account["api_key_id"]]
    assert user_key.owner.type == "user" and user_key.owner.user.email == account["email"]
    listed = org.projects.api_keys.with_raw_response.list(project_id)
    retrieved = org.projects.api_keys.with_raw_response.retrieve(created.api_key.id, project_id=project_id)
    assert value not in listed.text and value not in retrieved.text  # the value is shown once

    second = org.projects.service_accounts.api_keys.create(created.id, project_id=project_id, name="second",
                                                           scopes=["model.request"])
    assert second.object == "organization.project.service_account.api_key"
    chat(user(sandbox, second.value))
    assert [a.id for a in org.projects.service_accounts.list(project_id)] == [created.id]
    assert org.projects.service_accounts.retrieve(created.id, project_id=project_id).name == "ci"

    deleted = org.projects.api_keys.delete(created.api_key.id, project_id=project_id)
    assert deleted.deleted and deleted.object == "organization.project.api_key.deleted"
    with pytest.raises(openai.AuthenticationError):
        chat(user(sandbox, value))
    with pytest.raises(openai.NotFoundError):
        org.projects.api_keys.retrieve(created.api_key.id, project_id=project_id)

    only = org.projects.service_accounts.create(project_id, name="bare", create_service_account_only=True)
    assert only.role == "none" and only.api_key is None
    gone = org.projects.service_accounts.delete(created.id, project_id=project_id)
    assert gone.deleted
    with pytest.raises(openai.AuthenticationError):  # its remaining key is revoked with it
        chat(user(sandbox, second.value))


def test_admin_api_keys(org: Any, account: dict[str, Any], sandbox: SandboxServer) -> None:
    raw = org.admin_api_keys.with_raw_response.create(name="ops")
    created = raw.parse()
    assert created.value.startswith("sk-admin-") and created.redacted_value.startswith("sk-admin-...")
    second = OpenAI(admin_api_key=created.value, base_url=sandbox.base_url, max_retries=0,
                    _strict_response_validation=True).admin.organization
    assert created.id in [k.id for k in second.admin_api_keys.list(limit=1)]  # SyncCursorPage, after=id
    fetched = org.admin_api_keys.with_raw_response.retrieve(created.id)
    assert created.value not in fetched.text
    assert org.admin_api_keys.delete(created.id).deleted
    with pytest.raises(openai.AuthenticationError):
        second.projects.list()
    assert [k.id for k in org.admin_api_keys.list(order="desc")] == [account["admin_key_id"]]


def test_spend_alerts_crud(org: Any, account: dict[str, Any]) -> None:
    made = [org.spend_alerts.create(currency="USD", interval="month", threshold_amount=100 * (i + 1),
                                    notification_channel=CHANNEL) for i in range(3)]
    assert made[0].object == "organization.spend_alert" and made[0].threshold_amount == 100
    page = org.spend_alerts.list(limit=2)
    assert (page.first_id, page.last_id, page.has_more) == (made[0].id, made[1].id, True)
    assert [a.id for a in org.spend_alerts.list(limit=2)] == [a.id for a in made]
    assert [a.id for a in org.spend_alerts.list(order="desc")] == [a.id for a in reversed(made)]
    updated = org.spend_alerts.update(made[0].id, currency="USD", interval="month", threshold_amount=5000,
                                      notification_channel={**CHANNEL, "subject_prefix": "[org]"})
    assert updated.threshold_amount == 5000 and updated.notification_channel.subject_prefix == "[org]"
    assert org.spend_alerts.retrieve(made[0].id).threshold_amount == 5000
    deleted = org.spend_alerts.delete(made[0].id)
    assert (deleted.id, deleted.deleted, deleted.object) == (made[0].id, True, "organization.spend_alert.deleted")
    with pytest.raises(openai.NotFoundError):
        org.spend_alerts.retrieve(made[0].id)

    project_id = account["project_id"]
    alert = org.projects.spend_alerts.create(project_id, currency="USD", interval="month", threshold_amount=0,
                                             notification_channel=CHANNEL)
    assert alert.object == "project.spend_alert"
    assert [a.id for a in org.projects.spend_alerts.list(project_id)] == [alert.id]
    assert org.projects.spend_alerts.retrieve(alert.id, project_id=project_id).id == alert.id
    assert org.projects.spend_alerts.update(alert.id, project_id=project_id, currency="USD", interval="month",
                                            threshold_amount=7, notification_channel=CHANNEL).threshold_amount == 7
    assert org.projects.spend_alerts.delete(alert.id, project_id=project_id).object == "project.spend_alert.deleted"
    with pytest.raises(openai.NotFoundError):  # an org alert is not the project's
        org.projects.spend_alerts.retrieve(made[1].id, project_id=project_id)
    with pytest.raises(openai.BadRequestError) as caught:
        org.spend_alerts.create(currency="USD", interval="month", threshold_amount=1,
                                notification_channel={"type": "email", "recipients": []})
    assert caught.value.code == "empty_array"


def test_project_rate_limits_are_listed_and_enforced(org: Any, sandbox: SandboxServer) -> None:
    from keylab.pricing import current_models

    project = org.projects.create(name="Rate-limited")
    limits = list(org.projects.rate_limits.list_rate_limits(project.id))
    today = sandbox.app.state.sandbox.clock.today()
    assert [r.model for r in limits] == [m.id for m in current_models(today)]
    assert all(r.object == "project.rate_limit" and r.id == f"rl-{r.model}" for r in limits)

    updated = org.projects.rate_limits.update_rate_limit("rl-gpt-6-luna", project_id=project.id,
                                                         max_requests_per_1_minute=2, max_requests_per_1_day=100)
    assert (updated.max_requests_per_1_minute, updated.max_requests_per_1_day) == (2, 100)
    assert updated.max_tokens_per_1_minute == limits[0].max_tokens_per_1_minute
    listed = {r.id: r for r in org.projects.rate_limits.list_rate_limits(project.id)}
    assert listed["rl-gpt-6-luna"].max_requests_per_1_minute == 2

    service_account = org.projects.service_accounts.create(project.id, name="bot")
    client = user(sandbox, service_account.api_key.value)
    chat(client)
    response = client.chat.completions.with_raw_response.create(
        model="gpt-6-luna", messages=[{"role": "user", "content": "hi"}])
    assert response.headers["x-ratelimit-limit-requests"] == "2"
    with pytest.raises(openai.RateLimitError) as caught:
        chat(client)
    assert caught.value.code == "rate_limit_exceeded"
    chat(client, model="gpt-6-sol")  # other models keep their own limits

    with pytest.raises(openai.NotFoundError):
        org.projects.rate_limits.update_rate_limit("rl-no-such-model", project_id=project.id,
                                                   max_requests_per_1_minute=1)


def test_usage_and_costs_match_the_usage_rows(control: Any, sandbox: SandboxServer, store: Store) -> None:
    account = control.create_account(credits_usd="5")
    org = OpenAI(admin_api_key=account["admin_key"], base_url=sandbox.base_url, max_retries=0,
                 _strict_response_validation=True).admin.organization
    other = org.projects.create(name="Second")
    service_account = org.projects.service_accounts.create(other.id, name="bot")
    main, second = user(sandbox, account["api_key"]), user(sandbox, service_account.api_key.value)
    for client, model in ((main, "gpt-6-luna"), (main, "gpt-6-luna"), (main, "gpt-6-sol"), (second, "gpt-6-luna")):
        chat(client, model=model, prompt="Tell me about API keys.")
    rows = store.query("SELECT * FROM usage WHERE org_id = ?", (account["organization_id"],))
    assert len(rows) == 4
    now = sandbox.app.state.sandbox.clock.now_s()
    day = now - now % 86400

    total = org.usage.completions(start_time=day)
    assert total.object == "page" and len(total.data) == 1 and not total.has_more
    [bucket] = total.data
    assert (bucket.start_time, bucket.end_time) == (day, day + 86400)
    [result] = bucket.results
    assert result.num_model_requests == 4
    assert result.input_tokens == sum(r["input_tokens"] for r in rows)
    assert result.output_tokens == sum(r["output_tokens"] for r in rows)
    assert result.model is None and result.project_id is None

    grouped = org.usage.completions(start_time=day, group_by=["model", "project_id"])
    got = {(r.model, r.project_id): r.num_model_requests for r in grouped.data[0].results}
    assert got == {("gpt-6-luna", account["project_id"]): 2, ("gpt-6-sol", account["project_id"]): 1,
                   ("gpt-6-luna", other.id): 1}
    by_key = org.usage.completions(start_time=day, group_by=["api_key_id"], models=["gpt-6-luna"],
                                   project_ids=[account["project_id"]])
    assert [(r.api_key_id, r.num_model_requests) for r in by_key.data[0].results] == [(account["api_key_id"], 2)]

    # Paging: 1-minute buckets, two to a page, empty buckets listed with no results.
    start = now - 5 * 60
    pages, cursor = [], None
    while True:
        page = org.usage.completions(start_time=start, bucket_width="1m", limit=2,
                                     **({"page": cursor} if cursor else {}))
        pages.append(page)
        if not page.has_more:
            break
        cursor = page.next_page
    buckets = [b for p in pages for b in p.data]
    assert len(pages) == 3 and len(buckets) == 6
    assert all(b.end_time - b.start_time == 60 for b in buckets)
    assert sum(r.num_model_requests for b in buckets for r in b.results) == 4

    costs = org.usage.costs(start_time=day)
    [cost] = costs.data[0].results
    assert cost.amount.currency == "usd"
    assert cost.amount.value == pytest.approx(sum(r["cost_pico"] for r in rows) / 10**12)
    lines = org.usage.costs(start_time=day, group_by=["line_item"]).data[0].results
    items = {r.line_item: r for r in lines}
    assert set(items) == {"gpt-6-luna, input_tokens", "gpt-6-luna, output_tokens",
                          "gpt-6-sol, input_tokens", "gpt-6-sol, output_tokens"}
    luna_in = items["gpt-6-luna, input_tokens"]
    assert luna_in.quantity == sum(r["input_tokens"] for r in rows if r["model"] == "gpt-6-luna")
    assert luna_in.quantity_unit == "tokens"
    assert luna_in.amount.value == pytest.approx(
        sum(r["input_pico"] for r in rows if r["model"] == "gpt-6-luna") / 10**12)
    assert sum(r.amount.value for r in lines) == pytest.approx(cost.amount.value)
    per_project = org.usage.costs(start_time=day, group_by=["project_id"], project_ids=[other.id])
    assert [r.project_id for r in per_project.data[0].results] == [other.id]
    three_days = org.usage.costs(start_time=day - 3 * 86400, limit=2)
    assert three_days.has_more and len(three_days.data) == 2 and three_days.data[0].results == []
    rest = org.usage.costs(start_time=day - 3 * 86400, limit=2, page=three_days.next_page)
    assert [b.start_time for b in rest.data] == [day - 86400, day] and not rest.has_more


def test_usage_query_arrays_and_errors(sandbox: SandboxServer, account: dict[str, Any]) -> None:
    headers = {"Authorization": f"Bearer {account['admin_key']}"}
    base = f"{sandbox.base_url}/organization"
    bracket = httpx.get(f"{base}/usage/completions?start_time=0&limit=1&group_by%5B%5D=model&models%5B%5D=x",
                        headers=headers)
    assert bracket.status_code == 200 and bracket.json()["object"] == "page"
    missing = httpx.get(f"{base}/usage/completions", headers=headers)
    assert missing.status_code == 400
    assert missing.json()["error"]["message"] == "Missing required parameter: 'start_time'."
    wrong_width = httpx.get(f"{base}/costs?start_time=0&bucket_width=1h", headers=headers)
    assert wrong_width.status_code == 400 and wrong_width.json()["error"]["code"] == "invalid_value"
    bad_group = httpx.get(f"{base}/usage/completions?start_time=0&group_by[]=colour", headers=headers)
    assert bad_group.status_code == 400 and bad_group.json()["error"]["code"] == "invalid_value"
    unknown = httpx.post(f"{base}/spend_limit", headers=headers,
                         json={"threshold_amount": 5, "currency": "USD", "interval": "month", "x": 1})
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "unknown_parameter"


def test_key_expiry_and_scopes_are_checked(sandbox: SandboxServer, account: dict[str, Any]) -> None:
    headers = {"Authorization": f"Bearer {account['admin_key']}"}
    base = f"{sandbox.base_url}/organization"
    key_url = f"{base}/projects/{account['project_id']}/api_keys/{account['api_key_id']}"
    for body, param in (({"name": "ci", "expires_in_seconds": 0}, "expires_in_seconds"),
                        ({"name": "ci", "expires_in_seconds": "soon"}, "expires_in_seconds")):
        refused = httpx.post(f"{base}/admin_api_keys", headers=headers, json=body)
        assert refused.status_code == 400 and refused.json()["error"]["param"] == param
    refused = httpx.post(key_url, headers=headers, json={"scopes": "api.all.read"})
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "scopes"
    admin_key = httpx.post(f"{base}/admin_api_keys", headers=headers,
                           json={"name": "ci", "expires_in_seconds": 3600}).json()
    assert admin_key["expires_at"] == admin_key["created_at"] + 3600
    updated = httpx.post(key_url, headers=headers, json={"expires_in_seconds": 7200}).json()
    assert updated["expires_at"] is not None and updated["expires_at"] >= updated["created_at"] + 7200
    account_url = f"{base}/projects/{account['project_id']}/service_accounts"
    bot = httpx.post(account_url, headers=headers, json={"name": "bot", "expires_in_seconds": 60}).json()
    assert bot["api_key"]["expires_at"] == bot["api_key"]["created_at"] + 60
    second = httpx.post(f"{account_url}/{bot['id']}/api_keys", headers=headers,
                        json={"scopes": ["api.all.read"], "expires_in_seconds": 0})
    assert second.status_code == 400 and second.json()["error"]["param"] == "expires_in_seconds"

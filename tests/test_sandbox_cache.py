"""The sandbox's hot-read cache (`Store.cache`) never serves stale configuration or balances.

Keys, rate limits, spend limits and balances are cached between requests; these tests change
each of them from a second database connection (as `keylab sandbox account …` does from another
process) and in-process, and expect the very next request to see the change.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from keylab.sandbox import SandboxServer, serve_in_background
from keylab.sandbox.accounts import grant_credit
from keylab.sandbox.clock import Clock
from keylab.sandbox.store import Store

BODY = {"model": "gpt-6-luna", "messages": [{"role": "user", "content": "hello"}]}


@pytest.fixture
def sandbox(tmp_path) -> Iterator[SandboxServer]:
    with serve_in_background(tmp_path / "data") as server:
        yield server


def account(sandbox: SandboxServer, credits_usd: str = "5") -> dict:
    response = httpx.post(sandbox.url + "/sandbox/accounts", json={"credits_usd": credits_usd},
                          headers={"Authorization": f"Bearer {sandbox.operator_token}"})
    response.raise_for_status()
    return response.json()


def chat(sandbox: SandboxServer, key: str) -> httpx.Response:
    return httpx.post(sandbox.base_url + "/chat/completions", json=BODY, headers={"Authorization": f"Bearer {key}"})


def test_revocation_by_another_connection_applies_at_once(sandbox: SandboxServer) -> None:
    acct = account(sandbox)
    assert chat(sandbox, acct["api_key"]).status_code == 200
    with Store(sandbox.data_dir) as store, store.transaction() as db:
        db.execute("UPDATE api_keys SET revoked_at = 1 WHERE id = ?", (acct["api_key_id"],))
    answer = chat(sandbox, acct["api_key"])
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "invalid_api_key"


def test_in_process_revocation_applies_at_once(sandbox: SandboxServer) -> None:
    acct = account(sandbox)
    assert chat(sandbox, acct["api_key"]).status_code == 200
    with sandbox.app.state.sandbox.store.transaction() as db:
        db.execute("UPDATE api_keys SET revoked_at = 1 WHERE id = ?", (acct["api_key_id"],))
    assert chat(sandbox, acct["api_key"]).status_code == 401


def test_a_key_created_elsewhere_works_at_once_after_a_miss(sandbox: SandboxServer) -> None:
    acct = account(sandbox)
    unknown = "sk-proj-" + "x" * 40
    assert chat(sandbox, unknown).status_code == 401  # a cached miss
    with Store(sandbox.data_dir) as store, store.transaction() as db:
        db.execute("UPDATE api_keys SET hash = ? WHERE id = ?", (store.hash_key(unknown), acct["api_key_id"]))
    assert chat(sandbox, unknown).status_code == 200


def test_project_rate_limit_set_elsewhere_applies_at_once(sandbox: SandboxServer) -> None:
    acct = account(sandbox)
    assert chat(sandbox, acct["api_key"]).headers["x-ratelimit-limit-requests"] == "500"
    with Store(sandbox.data_dir) as store, store.transaction() as db:
        db.execute("INSERT INTO project_rate_limits (project_id, model, max_requests_per_1_minute,"
                   " max_tokens_per_1_minute) VALUES (?, ?, 7, 70000)", (acct["project_id"], BODY["model"]))
    assert chat(sandbox, acct["api_key"]).headers["x-ratelimit-limit-requests"] == "7"


def test_cached_balance_follows_debits_and_outside_credit(sandbox: SandboxServer) -> None:
    acct = account(sandbox, credits_usd="0")
    assert chat(sandbox, acct["api_key"]).status_code == 429  # no credit (and now cached)
    with Store(sandbox.data_dir) as store:
        grant_credit(store, Clock(store), acct["organization_id"], Decimal("0.00002"), "test")
    assert chat(sandbox, acct["api_key"]).status_code == 200  # credit from elsewhere seen at once
    # Calls go on until the debits exhaust the balance, exactly as the database counts them.
    for _ in range(200):
        if chat(sandbox, acct["api_key"]).status_code != 200:
            break
    store = sandbox.app.state.sandbox.store
    balance = store.query_one("SELECT balance_pico FROM organizations WHERE id = ?", (acct["organization_id"],))[0]
    spent = store.query_one("SELECT SUM(cost_pico) FROM usage WHERE org_id = ?", (acct["organization_id"],))[0]
    assert balance <= 0  # refused only once the balance ran out (the last call may overdraw it)
    assert balance == 20_000_000 - spent
    assert chat(sandbox, acct["api_key"]).status_code == 429


def test_spend_limit_set_elsewhere_applies_at_once(sandbox: SandboxServer) -> None:
    acct = account(sandbox)
    assert chat(sandbox, acct["api_key"]).status_code == 200
    with Store(sandbox.data_dir) as store, store.transaction() as db:
        db.execute("INSERT INTO spend_limits (scope, scope_id, threshold_cents, created_at)"
                   " VALUES ('organization', ?, 0, 0)", (acct["organization_id"],))
    answer = chat(sandbox, acct["api_key"])
    assert answer.status_code == 429, json.dumps(answer.json())
    assert answer.json()["error"]["code"] == "organization_spend_limit_exceeded"


def test_other_connections_commits_are_checked_once_per_event_loop_turn(tmp_path) -> None:
    """Inside a loop the data_version check is shared by one turn (a request that runs in it was
    read before the check); the next turn checks again. Outside a loop every call checks."""
    with Store(tmp_path) as store, Store(tmp_path) as other:

        writes = iter(range(10))

        def write_elsewhere() -> None:  # a new value each time: a write that changes nothing is no commit
            other.set_meta("probe", str(next(writes)))

        async def turns() -> None:
            first = store.cache()
            first["marker"] = True
            write_elsewhere()
            assert store.cache() is first, "the same turn reuses its check"
            await asyncio.sleep(0)
            assert "marker" not in store.cache(), "the next turn sees the other connection's commit"

        asyncio.run(turns())
        outside = store.cache()
        outside["marker"] = True
        write_elsewhere()
        assert "marker" not in store.cache(), "outside a loop every call checks"


def test_opening_an_up_to_date_database_writes_nothing(tmp_path) -> None:
    """Every open but the first only reads the schema version: no commit that would empty the
    running server's hot-read cache (another connection's data_version stays the same)."""
    with Store(tmp_path) as first:
        before = first.conn.execute("PRAGMA data_version").fetchone()[0]
        with Store(tmp_path):
            pass
        assert first.conn.execute("PRAGMA data_version").fetchone()[0] == before

"""Metering is exact: parallel calls debit exactly what their usage costs, and a restart keeps it all."""

from __future__ import annotations

import asyncio
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openai import AsyncOpenAI, OpenAI

from keylab.pricing import cost_of
from keylab.sandbox import SandboxServer, serve_in_background
from keylab.sandbox.accounts import create_account, find_key
from keylab.sandbox.billing import Billing
from keylab.sandbox.client import ControlClient
from keylab.sandbox.clock import Clock
from keylab.sandbox.store import Store

CALLS = 100
MODELS = ("gpt-6-luna", "gpt-6.1-terra", "gpt-5.4-mini", "gpt-6-astra")


def _balance_and_rows(data_dir: Path, org_id: str, key_id: str) -> tuple[int, int]:
    store = Store(data_dir)
    try:
        balance = store.query_one("SELECT balance_pico FROM organizations WHERE id = ?", (org_id,))[0]
        rows = store.query_one("SELECT COUNT(*) FROM usage WHERE key_id = ?", (key_id,))[0]
    finally:
        store.close()
    return int(balance), int(rows)


def test_parallel_calls_debit_exactly_their_cost(sandbox: SandboxServer, control: ControlClient) -> None:
    """100 concurrent calls of varied models and lengths: balance before - after == Σ cost_of(usage),
    to the picodollar, and one usage row per call. Reservations must not leak or double-debit."""
    account = control.create_account(credits_usd="20")
    before, rows_before = _balance_and_rows(sandbox.data_dir, account["organization_id"], account["api_key_id"])
    assert rows_before == 0

    async def run() -> list[Any]:
        async with AsyncOpenAI(api_key=account["api_key"], base_url=sandbox.base_url, max_retries=0,
                               _strict_response_validation=True) as client:
            calls = [
                client.chat.completions.create(
                    model=MODELS[i % len(MODELS)], n=1 + i % 3, max_tokens=None if i % 2 else 3 + i % 7,
                    messages=[{"role": "user", "content": f"Tell me about tokens, question {i}" * (1 + i % 5)}],
                )
                for i in range(CALLS)
            ]
            return await asyncio.gather(*calls)

    completions = asyncio.run(run())
    after, rows = _balance_and_rows(sandbox.data_dir, account["organization_id"], account["api_key_id"])
    expected = sum(
        cost_of(c.model, c.usage.prompt_tokens, c.usage.completion_tokens).total_pico for c in completions
    )
    assert rows == CALLS
    assert expected > 0
    assert before - after == expected


def test_restart_keeps_keys_balances_and_usage(tmp_path: Path) -> None:
    """Stop a sandbox and start another on the same data dir: same keys, balance and usage rows."""
    data_dir = tmp_path / "sandbox"
    with serve_in_background(data_dir) as first:
        account = ControlClient(first.url, first.operator_token).create_account(credits_usd="1")
        client = OpenAI(api_key=account["api_key"], base_url=first.base_url, max_retries=0)
        completion = client.chat.completions.create(model="gpt-6-luna", messages=[{"role": "user", "content": "hi"}])
        assert completion.usage is not None
    state_before = _balance_and_rows(data_dir, account["organization_id"], account["api_key_id"])
    assert state_before[1] == 1
    with serve_in_background(data_dir) as second:
        assert second.operator_token == first.operator_token
        assert _balance_and_rows(data_dir, account["organization_id"], account["api_key_id"]) == state_before
        again = OpenAI(api_key=account["api_key"], base_url=second.base_url, max_retries=0)
        assert again.models.list().data, "the key from before the restart still works"
        again.chat.completions.create(model="gpt-6-luna", messages=[{"role": "user", "content": "hi"}])
    balance, rows = _balance_and_rows(data_dir, account["organization_id"], account["api_key_id"])
    assert rows == 2 and balance == state_before[0] - cost_of(
        "gpt-6-luna", completion.usage.prompt_tokens, completion.usage.completion_tokens).total_pico


def test_group_commit_gives_each_call_its_own_outcome(tmp_path: Path) -> None:
    """`settle_async` commits the calls of one event-loop turn together; when one of them cannot be
    written, the others are still billed (each exactly once) and only that one call raises."""
    with Store(tmp_path) as store:
        clock = Clock(store)
        clock.freeze()  # last_used_at below is compared with the clock's second
        billing = Billing(store, clock)
        account = create_account(store, clock, credits_usd=Decimal("1"))
        key = find_key(store, clock, account.api_key)
        assert key is not None
        before = billing.balance_pico(key.org_id)
        cost = cost_of("gpt-6-luna", 10, 5)
        settled = []
        billing.listeners.append(settled.append)

        async def settle_three() -> list[Any]:
            return await asyncio.gather(*(
                billing.settle_async(billing.reserve(key, cost.total_pico), key=key, request_id=request_id,
                                     endpoint="/v1/chat/completions", cost=cost)
                for request_id in ("req_a", None, "req_c")  # None: the usage row's NOT NULL refuses it
            ), return_exceptions=True)

        outcomes = asyncio.run(settle_three())
        assert outcomes[0] is None and outcomes[2] is None
        with pytest.raises(sqlite3.IntegrityError):
            raise outcomes[1]
        rows = store.query("SELECT request_id FROM usage ORDER BY request_id")
        assert [row[0] for row in rows] == ["req_a", "req_c"]
        assert billing.balance_pico(key.org_id) == before - 2 * cost.total_pico
        assert len(settled) == 2
        assert billing._reserved == {}, "every reservation is released, the failed one too"
        assert billing._reserved_sums == {}, "and nothing stays set aside for the org or project"
        last_used = store.query_one("SELECT last_used_at FROM api_keys WHERE id = ?", (key.id,))[0]
        assert last_used == clock.now_s(), "last_used_at is written although the first attempt rolled back"

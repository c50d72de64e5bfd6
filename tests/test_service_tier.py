"""The sandbox honours `service_tier`: it echoes the tier that served a call, bills it at that tier's
rate from `cost_of`, and the usage API groups by it, through the official SDK."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal
from typing import Any

import openai
import pytest
from openai import OpenAI

from keylab.pricing import COURSE_MODEL, MODELS, cost_of
from keylab.sandbox.accounts import balance_pico as balance
from keylab.sandbox.store import Store
from tests.conftest import make_client

MESSAGES = [{"role": "user", "content": "Say hello in five words."}]

# requested -> echoed (the spec: fast is shown as "priority"; auto is the project's default)
ECHOES = [(None, "default"), ("auto", "default"), ("default", "default"), ("flex", "flex"),
          ("priority", "priority"), ("fast", "priority"), ("scale", "default")]


def debit_after_stream(store: Store, org_id: str, before: int) -> int:
    """A stream's bill is written once its last event has gone out: wait (briefly) for it."""
    deadline = time.monotonic() + 5
    while balance(store, org_id) == before and time.monotonic() < deadline:
        time.sleep(0.01)
    return before - balance(store, org_id)


def tier_args(requested: str | None) -> dict[str, Any]:
    return {} if requested is None else {"service_tier": requested}


@pytest.mark.parametrize(("requested", "echoed"), ECHOES, ids=[str(r) for r, _ in ECHOES])
def test_chat_echoes_and_bills_the_tier(client: OpenAI, store: Store, account: dict[str, Any],
                                        requested: str | None, echoed: str) -> None:
    before = balance(store, account["organization_id"])
    completion = client.chat.completions.create(model=COURSE_MODEL, messages=MESSAGES, **tier_args(requested))
    assert completion.service_tier == echoed
    usage = completion.usage
    assert usage is not None
    expected = cost_of(COURSE_MODEL, usage.prompt_tokens, usage.completion_tokens, tier=echoed)
    assert before - balance(store, account["organization_id"]) == expected.total_pico


@pytest.mark.parametrize(("requested", "echoed"), [("fast", "priority"), ("flex", "flex"), (None, "default")])
def test_chat_stream_chunks_carry_the_tier(client: OpenAI, store: Store, account: dict[str, Any],
                                           requested: str | None, echoed: str) -> None:
    before = balance(store, account["organization_id"])
    chunks = list(client.chat.completions.create(
        model=COURSE_MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": True},
        **tier_args(requested)))
    assert {chunk.service_tier for chunk in chunks} == {echoed}
    usage = chunks[-1].usage
    assert usage is not None
    expected = cost_of(COURSE_MODEL, usage.prompt_tokens, usage.completion_tokens, tier=echoed)
    assert debit_after_stream(store, account["organization_id"], before) == expected.total_pico


@pytest.mark.parametrize(("requested", "echoed"), [*ECHOES, ("ultrafast", "default")],
                         ids=[str(r) for r, _ in ECHOES] + ["ultrafast"])
def test_responses_echo_and_bill_the_tier(client: OpenAI, store: Store, account: dict[str, Any],
                                          requested: str | None, echoed: str) -> None:
    before = balance(store, account["organization_id"])
    response = client.responses.create(model=COURSE_MODEL, input="Say hello.", **tier_args(requested))
    assert response.service_tier == echoed
    assert client.responses.retrieve(response.id).service_tier == echoed
    usage = response.usage
    assert usage is not None
    expected = cost_of(COURSE_MODEL, usage.input_tokens, usage.output_tokens, tier=echoed)
    assert before - balance(store, account["organization_id"]) == expected.total_pico


def test_responses_stream_bills_the_tier(client: OpenAI, store: Store, account: dict[str, Any]) -> None:
    before = balance(store, account["organization_id"])
    with client.responses.stream(model=COURSE_MODEL, input="Say hello.", service_tier="flex") as stream:
        final = stream.get_final_response()
    assert final.service_tier == "flex" and final.usage is not None
    expected = cost_of(COURSE_MODEL, final.usage.input_tokens, final.usage.output_tokens, tier="flex")
    assert debit_after_stream(store, account["organization_id"], before) == expected.total_pico


@pytest.mark.parametrize("value", ["turbo", "ultrafast", "Flex"])
def test_chat_refuses_unknown_tiers(client: OpenAI, value: str) -> None:
    """Chat Completions has no ultrafast tier (only the Responses API lists it)."""
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=COURSE_MODEL, messages=MESSAGES, service_tier=value)  # type: ignore[arg-type]
    error = caught.value
    assert error.code == "invalid_value" and error.param == "service_tier"
    assert f"Invalid value: '{value}'" in error.message and "'flex'" in error.message


def test_wrong_type_is_refused(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model=COURSE_MODEL, input="hi", service_tier=2)  # type: ignore[arg-type]
    assert caught.value.code == "invalid_type" and caught.value.param == "service_tier"


def test_fast_costs_four_times_flex(sandbox: Any, control: Any, store: Store) -> None:
    """Same call, two tiers: the debits differ exactly by the tiers' rates."""
    account = control.create_account(credits_usd="5")
    client = make_client(sandbox, account["api_key"])
    org = account["organization_id"]
    spent = {}
    for tier in ("flex", "fast"):
        before = balance(store, org)
        client.chat.completions.create(model=COURSE_MODEL, messages=MESSAGES, service_tier=tier)  # type: ignore[arg-type]
        spent[tier] = before - balance(store, org)
    assert spent["fast"] == 4 * spent["flex"] > 0


def test_usage_api_groups_by_tier(sandbox: Any, control: Any) -> None:
    account = control.create_account(credits_usd="5")
    client = make_client(sandbox, account["api_key"])
    for tier in (None, "flex", "flex", "fast", "priority"):
        client.chat.completions.create(model=COURSE_MODEL, messages=MESSAGES, **tier_args(tier))
    client.responses.create(model=COURSE_MODEL, input="hi", service_tier="flex")
    admin = OpenAI(admin_api_key=account["admin_key"], base_url=sandbox.base_url, max_retries=0)
    today = int(dt.datetime.combine(dt.datetime.now(dt.timezone.utc).date(), dt.time(),
                                    dt.timezone.utc).timestamp())
    page = admin.admin.organization.usage.completions(start_time=today - 86400, group_by=["service_tier"])
    results = [r for bucket in page.data for r in bucket.results]
    counts = {r.service_tier: r.num_model_requests for r in results}
    assert counts == {"default": 1, "flex": 3, "priority": 2}
    ungrouped = admin.admin.organization.usage.completions(start_time=today - 86400)
    assert all(r.service_tier is None for bucket in ungrouped.data for r in bucket.results)


def test_long_prompts_bill_at_long_context_rates(sandbox: Any, control: Any, store: Any) -> None:
    """A prompt over 272K tokens: the whole request at the long-context rates, with the tier on top."""
    account = control.create_account(credits_usd="5")
    admin = OpenAI(admin_api_key=account["admin_key"], base_url=sandbox.base_url, max_retries=0)
    admin.admin.organization.projects.rate_limits.update_rate_limit(
        f"rl-{COURSE_MODEL}", project_id=account["project_id"], max_tokens_per_1_minute=5_000_000)
    client = make_client(sandbox, account["api_key"])
    before = balance(store, account["organization_id"])
    long_prompt = [{"role": "user", "content": "budget " * 290_000}]
    completion = client.chat.completions.create(model=COURSE_MODEL, messages=long_prompt, service_tier="flex",
                                                max_completion_tokens=20)
    usage = completion.usage
    assert usage is not None and usage.prompt_tokens > 272_000
    cost = cost_of(COURSE_MODEL, usage.prompt_tokens, usage.completion_tokens, tier="flex")
    assert cost.long_context
    assert before - balance(store, account["organization_id"]) == cost.total_pico
    row = MODELS[COURSE_MODEL]
    by_hand = (row.input * 2 * usage.prompt_tokens + row.output * Decimal("1.5") * usage.completion_tokens) / 2
    assert cost.total_usd == by_hand / 1_000_000  # 2x input, 1.5x output, then flex halves it

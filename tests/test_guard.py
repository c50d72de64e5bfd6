"""keylab.guard.BudgetGuard against a real sandbox, through the official SDK.

The sandbox's own books are the oracle: what the guard says it spent must be exactly what the
sandbox debited, and a refused call must never reach the sandbox.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import warnings
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import openai
import pytest
from openai import OpenAI

from keylab.guard import BudgetExceeded, BudgetGuard, OutputCapNotice, sandbox_clock
from keylab.guard.estimate import count_prompt
from keylab.pricing import COURSE_MODEL, cost_of, format_usd, to_pico
from keylab.sandbox import serve_in_background
from keylab.sandbox.accounts import balance_pico
from keylab.sandbox.client import ControlClient, ControlError
from keylab.sandbox.store import Store
from tests.conftest import make_client

HELLO = [{"role": "user", "content": "Say hello in five words."}]
PROMPT = count_prompt(HELLO, COURSE_MODEL, {})  # the guard's count (an upper bound without tiktoken's file)


@pytest.fixture
def client(sandbox: Any, control: ControlClient) -> Iterator[OpenAI]:
    """A fresh funded account per test, so the sandbox's debit is this test's alone."""
    account = control.create_account(credits_usd="5")
    sdk = make_client(sandbox, account["api_key"])
    sdk.org_id_for_test = account["organization_id"]  # type: ignore[attr-defined]
    yield sdk
    sdk.close()


def debited(store: Store, client: OpenAI) -> int:
    """Picodollars the sandbox has debited from this client's account (from its $5)."""
    return 5 * 10**12 - balance_pico(store, client.org_id_for_test)  # type: ignore[attr-defined]


def wait_for(condition: Any, seconds: float = 5) -> None:
    """A stream's bill is written on the server after its last event: wait briefly for it."""
    import time

    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_spent_is_exactly_what_the_sandbox_billed(client: OpenAI, store: Store) -> None:
    guard = BudgetGuard(client, "1")
    chat = guard.chat.completions.create(model=COURSE_MODEL, messages=HELLO, max_completion_tokens=100)
    response = guard.responses.create(model=COURSE_MODEL, input="Say hello.", max_output_tokens=100)
    assert chat.usage is not None and response.usage is not None
    expected = (cost_of(COURSE_MODEL, chat.usage.prompt_tokens, chat.usage.completion_tokens).total_usd
                + cost_of(COURSE_MODEL, response.usage.input_tokens, response.usage.output_tokens).total_usd)
    assert isinstance(guard.spent_usd, Decimal)
    assert guard.spent_usd == expected and guard.calls == 2
    assert to_pico(guard.spent_usd) == debited(store, client)
    assert guard.remaining_usd == Decimal(1) - expected and guard.reserved_usd == 0
    assert guard.overshoot_usd == 0


def test_a_call_without_a_cap_gets_one_and_is_told(client: OpenAI) -> None:
    guard = BudgetGuard(client, "1", default_max_output_tokens=5)
    with pytest.warns(OutputCapNotice, match="max_completion_tokens=5"):
        chat = guard.chat.completions.create(model=COURSE_MODEL, messages=HELLO)
    assert chat.choices[0].finish_reason == "length" and chat.usage is not None
    assert chat.usage.completion_tokens == 5  # the cap was sent
    with pytest.warns(OutputCapNotice, match="max_output_tokens=16"):
        BudgetGuard(client, "1", default_max_output_tokens=16).responses.create(model=COURSE_MODEL, input="hi")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a call with its own cap is not warned about
        guard.chat.completions.create(model=COURSE_MODEL, messages=HELLO, max_tokens=20)


def test_over_budget_raises_and_sends_nothing(client: OpenAI, store: Store) -> None:
    # gpt-6-luna: 1,000 output tokens alone cost $0.0005, so with the prompt the call cannot fit
    guard = BudgetGuard(client, "0.0005")
    with pytest.raises(BudgetExceeded) as caught:
        guard.chat.completions.create(model=COURSE_MODEL, messages=HELLO, max_completion_tokens=1000)
    error = caught.value
    assert error.needed_usd > error.budget_usd == Decimal("0.0005")
    assert "Not sent" in str(error) and "Lower the output cap" in str(error)
    assert debited(store, client) == 0
    assert guard.spent_usd == 0 and guard.reserved_usd == 0
    guard.chat.completions.create(model=COURSE_MODEL, messages=HELLO, max_completion_tokens=100)  # fits
    assert guard.calls == 1


def test_fifty_threads_never_cross_the_budget(client: OpenAI, store: Store) -> None:
    """Budget for ~20 worst cases, 50 threads calling until refused: never over, exactly billed."""
    worst = cost_of(COURSE_MODEL, PROMPT, 40).total_usd
    budget = worst * 20 + worst / 2
    guard = BudgetGuard(client, budget)
    refused = []
    errors = []

    def work() -> None:
        try:
            for _ in range(3):
                guard.chat.completions.create(model=COURSE_MODEL, messages=HELLO, max_completion_tokens=40)
                assert guard.spent_usd + guard.reserved_usd <= budget
        except BudgetExceeded:
            refused.append(1)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert refused, "some calls must have been refused"
    assert guard.spent_usd <= budget and guard.reserved_usd == 0 and guard.overshoot_usd == 0
    assert to_pico(guard.spent_usd) == debited(store, client)  # every call the sandbox billed was booked
    assert guard.calls >= 20  # real costs are below the worst case, so at least 20 fit


def test_chat_stream_settles_and_hides_the_usage_chunk(client: OpenAI, store: Store) -> None:
    guard = BudgetGuard(client, "1")
    stream = guard.chat.completions.create(model=COURSE_MODEL, messages=HELLO, stream=True,
                                           max_completion_tokens=100)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream)  # as a learner writes it
    assert text and guard.reserved_usd == 0 and guard.spent_usd > 0
    wait_for(lambda: debited(store, client) > 0)
    assert to_pico(guard.spent_usd) == debited(store, client)
    # Asked for by the caller, the usage chunk is there.
    chunks = list(guard.chat.completions.create(model=COURSE_MODEL, messages=HELLO, stream=True,
                                                stream_options={"include_usage": True}, max_completion_tokens=100))
    assert chunks[-1].choices == [] and chunks[-1].usage is not None


def test_a_stream_closed_early_is_booked_at_its_worst_case(client: OpenAI) -> None:
    guard = BudgetGuard(client, "1")
    with guard.chat.completions.create(model=COURSE_MODEL, messages=HELLO, stream=True,
                                       max_completion_tokens=100) as stream:
        next(stream)
        assert guard.reserved_usd == cost_of(COURSE_MODEL, PROMPT, 100).total_usd
    assert guard.reserved_usd == 0 and guard.spent_usd == cost_of(COURSE_MODEL, PROMPT, 100).total_usd


def test_responses_stream_settles_from_its_final_event(client: OpenAI, store: Store) -> None:
    guard = BudgetGuard(client, "1")
    events = list(guard.responses.create(model=COURSE_MODEL, input="Say hello.", stream=True, max_output_tokens=64))
    final = events[-1].response
    assert final.usage is not None
    assert guard.spent_usd == cost_of(COURSE_MODEL, final.usage.input_tokens, final.usage.output_tokens).total_usd
    wait_for(lambda: debited(store, client) > 0)
    assert to_pico(guard.spent_usd) == debited(store, client)


def test_a_continued_conversation_reserves_the_earlier_turns(client: OpenAI, store: Store) -> None:
    guard = BudgetGuard(client, "1")
    first = guard.responses.create(model=COURSE_MODEL, input="Say hello.", max_output_tokens=64)
    second = guard.responses.create(model=COURSE_MODEL, input="Again.", previous_response_id=first.id,
                                    max_output_tokens=64)
    assert second.usage is not None and first.usage is not None
    assert second.usage.input_tokens > first.usage.total_tokens
    assert guard.overshoot_usd == 0 and to_pico(guard.spent_usd) == debited(store, client)


def test_tiers_are_reserved_and_settled_at_their_rate(client: OpenAI, store: Store) -> None:
    guard = BudgetGuard(client, "1")
    chat = guard.chat.completions.create(model=COURSE_MODEL, messages=HELLO, max_completion_tokens=50,
                                         service_tier="fast")
    assert chat.service_tier == "priority" and chat.usage is not None
    assert guard.spent_usd == cost_of(COURSE_MODEL, chat.usage.prompt_tokens, chat.usage.completion_tokens,
                                      tier="fast").total_usd
    assert to_pico(guard.spent_usd) == debited(store, client)
    with pytest.raises(ValueError, match="cannot price service_tier='turbo'"):
        guard.chat.completions.create(model=COURSE_MODEL, messages=HELLO, service_tier="turbo")  # type: ignore[arg-type]


def test_api_errors_cost_nothing_and_lost_answers_cost_the_worst(client: OpenAI, control: ControlClient,
                                                                  sandbox: Any) -> None:
    guard = BudgetGuard(client, "1")
    control.inject_fault("server_error", path="/v1/chat/completions")
    with pytest.raises(openai.InternalServerError):
        guard.chat.completions.create(model=COURSE_MODEL, messages=HELLO, max_completion_tokens=50)
    assert guard.spent_usd == 0 and guard.reserved_usd == 0
    with pytest.raises(openai.NotFoundError):
        guard.chat.completions.create(model="gpt-4-turbo", messages=HELLO, max_completion_tokens=50)  # shut down
    assert guard.spent_usd == 0
    control.inject_fault("latency", path="/v1/chat/completions", latency_ms=1500)
    impatient = BudgetGuard(client.with_options(timeout=0.3), "1")
    try:
        with pytest.raises(openai.APITimeoutError):
            impatient.chat.completions.create(model=COURSE_MODEL, messages=HELLO, max_completion_tokens=50)
    finally:
        control.clear_faults()
    assert impatient.spent_usd == cost_of(COURSE_MODEL, PROMPT, 50).total_usd


def test_everything_else_passes_through(client: OpenAI) -> None:
    guard = BudgetGuard(client, "1")
    assert COURSE_MODEL in {model.id for model in guard.models.list()}
    assert guard.base_url == client.base_url
    assert guard.chat.completions.with_raw_response is not None
    with pytest.raises(TypeError, match=r"create\(\.\.\., stream=True\)"):
        guard.chat.completions.stream(model=COURSE_MODEL, messages=HELLO)
    with pytest.raises(TypeError, match="synchronous"):
        BudgetGuard(openai.AsyncOpenAI(api_key="sk-test", base_url=str(client.base_url)), "1")


def test_tools_and_formats_count_as_prompt() -> None:
    """Tool and response-format definitions reach the model as prompt tokens: they are reserved too."""
    import pydantic

    class City(pydantic.BaseModel):
        name: str
        population: int

    plain = count_prompt(HELLO, COURSE_MODEL, {})
    assert count_prompt(HELLO, COURSE_MODEL, {"response_format": City}) > plain + 10
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
    assert count_prompt(HELLO, COURSE_MODEL, {"tools": [tool]}) > plain + 5


@pytest.mark.parametrize(("budget", "message"), [("-1", "0 or more"), ("five", "amount in dollars")])
def test_bad_budget(client: OpenAI, budget: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BudgetGuard(client, budget)


# --- surviving a restart, and the month -------------------------------------------------------------

def test_spending_survives_a_restart(client: OpenAI, tmp_path: Path) -> None:
    state = tmp_path / "guard.json"
    first = BudgetGuard(client, "1", state_file=state)
    first.chat.completions.create(model=COURSE_MODEL, messages=HELLO, max_completion_tokens=50)
    spent = first.spent_usd
    del first  # the kernel restarts
    second = BudgetGuard(client, "1", state_file=state)
    assert second.spent_usd == spent > 0 and second.calls == 1
    saved = json.loads(state.read_text())
    assert saved["spent_usd"] == str(spent) and saved["in_flight"] == {}
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically, nothing left behind


def test_a_call_in_flight_at_a_crash_counts_at_its_worst_case(client: OpenAI, tmp_path: Path) -> None:
    state = tmp_path / "guard.json"
    first = BudgetGuard(client, "1", state_file=state)
    stream = first.chat.completions.create(model=COURSE_MODEL, messages=HELLO, stream=True, max_completion_tokens=50)
    after_crash = BudgetGuard(client, "1", state_file=state)  # read while the call is in flight
    assert after_crash.spent_usd == cost_of(COURSE_MODEL, PROMPT, 50).total_usd
    stream.close()


def test_a_damaged_state_file_is_reported_and_kept(client: OpenAI, tmp_path: Path) -> None:
    state = tmp_path / "guard.json"
    state.write_text("{not json")
    with pytest.raises(ValueError, match="not a budget guard's state file"):
        BudgetGuard(client, "1", state_file=state)
    assert state.read_text() == "{not json"


class FakeClock:
    def __init__(self, day: dt.date) -> None:
        self.day = day

    def __call__(self) -> float:
        return dt.datetime.combine(self.day, dt.time(12), dt.timezone.utc).timestamp()


def test_the_budget_is_monthly(client: OpenAI, tmp_path: Path) -> None:
    clock = FakeClock(dt.date(2026, 12, 31))
    worst = cost_of(COURSE_MODEL, PROMPT, 50).total_usd
    guard = BudgetGuard(client, worst, state_file=tmp_path / "g.json", clock=clock)
    guard.chat.completions.create(model=COURSE_MODEL, messages=HELLO, max_completion_tokens=50)
    with pytest.raises(BudgetExceeded, match="for 2026-12"):
        guard.chat.completions.create(model=COURSE_MODEL, messages=HELLO, max_completion_tokens=50)
    clock.day = dt.date(2027, 1, 1)
    assert guard.period == "2027-01" and guard.spent_usd == 0
    guard.chat.completions.create(model=COURSE_MODEL, messages=HELLO, max_completion_tokens=50)
    restarted = BudgetGuard(client, worst, state_file=tmp_path / "g.json", clock=clock)
    assert restarted.spent_usd == guard.spent_usd > 0
    forever = BudgetGuard(client, "1", state_file=tmp_path / "t.json", clock=clock, period="total")
    assert forever.period == "total"


def test_repr_shows_the_books_reading_the_clock_once(client: OpenAI) -> None:
    clock = FakeClock(dt.date(2026, 12, 31))
    readings = 0

    def counted() -> float:
        nonlocal readings
        readings += 1
        return clock()

    guard = BudgetGuard(client, "2.5", clock=counted)
    guard.chat.completions.create(model=COURSE_MODEL, messages=HELLO, max_completion_tokens=50)
    spent = guard.spent_usd
    readings = 0
    text = repr(guard)
    assert readings == 1
    assert text == (f"<BudgetGuard {format_usd(spent)} spent of $2.50 (2026-12), "
                    f"{format_usd(Decimal('2.5') - spent)} left>")
    assert guard.remaining_usd == Decimal("2.5") - spent


def test_the_sandbox_clock_moves_the_month(tmp_path: Path) -> None:
    """In a lesson the guard follows the sandbox's clock: next month there, a fresh budget."""
    with serve_in_background(tmp_path / "sandbox") as server:
        control = ControlClient(server.url, server.operator_token)
        account = control.create_account(credits_usd="5")
        sdk = make_client(server, account["api_key"])
        guard = BudgetGuard(sdk, cost_of(COURSE_MODEL, PROMPT, 50).total_usd, clock=sandbox_clock(control))
        guard.chat.completions.create(model=COURSE_MODEL, messages=HELLO, max_completion_tokens=50)
        with pytest.raises(BudgetExceeded):
            guard.chat.completions.create(model=COURSE_MODEL, messages=HELLO, max_completion_tokens=50)
        month = guard.period
        control.advance_clock(32 * 86400)
        assert guard.period != month and guard.spent_usd == 0
        guard.chat.completions.create(model=COURSE_MODEL, messages=HELLO, max_completion_tokens=50)
        sdk.close()


def test_an_answered_call_is_booked_when_the_clock_cannot_be_read(client: OpenAI) -> None:
    """The sandbox's clock may not answer between a call and its settling: the call still counts."""
    clock = FakeClock(dt.date(2026, 12, 31))
    readings = 0

    def answers_twice() -> float:  # read when the guard is made and the call reserved; gone afterwards
        nonlocal readings
        readings += 1
        if readings > 2:
            raise ControlError("The sandbox at http://127.0.0.1:1 does not answer (ReadError).")
        return clock()

    guard = BudgetGuard(client, "2.5", clock=answers_twice)
    reply = guard.chat.completions.create(model=COURSE_MODEL, messages=HELLO, max_completion_tokens=50)
    assert readings == 2  # settling reads no clock
    books = guard._ledger  # read without the clock
    assert books.reserved_usd == 0 and books.calls == 1
    assert books.spent_usd == cost_of(COURSE_MODEL, reply.usage.prompt_tokens, reply.usage.completion_tokens).total_usd

"""The Responses API of the sandbox, through the official SDK (strict parsing, no retries)."""

from __future__ import annotations

import json
import typing
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI
from openai.types.responses import Response
from openai.types.responses.response_create_params import ResponseCreateParamsBase
from spec import properties, validate

from conftest import make_client
from keylab.pricing import COURSE_MODEL, cost_of, count_messages, get_model
from keylab.pricing.tokens import split_tokens
from keylab.sandbox import simulate
from keylab.sandbox.accounts import create_key
from keylab.sandbox.api.responses import COUNT_PARAMS, CREATE_PARAMS, PARAMS
from keylab.sandbox.clock import Clock
from keylab.sandbox.store import Store

MODEL = COURSE_MODEL
STREAM_ORDER = [
    "response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
    "response.output_text.delta", "response.output_text.done", "response.content_part.done",
    "response.output_item.done", "response.completed",
]


# One account and client for the module (tests compare balances before and after, so they can share).
@pytest.fixture(scope="module")
def account(control: Any) -> dict[str, Any]:
    return control.create_account(credits_usd="5")


@pytest.fixture(scope="module")
def client(sandbox: Any, account: dict[str, Any]) -> OpenAI:
    return make_client(sandbox, account["api_key"])


@pytest.fixture(scope="module")
def store(sandbox: Any) -> Iterator[Store]:
    """The sandbox's database, opened beside the server as the admin CLI opens it."""
    handle = Store(sandbox.data_dir)
    yield handle
    handle.close()


def balance(store: Store, org_id: str) -> int:
    row = store.query_one("SELECT balance_pico FROM organizations WHERE id = ?", (org_id,))
    assert row is not None
    return int(row[0])


def output_tokens(text: str) -> int:
    return len(split_tokens(text, MODEL))


def squash(types: list[str]) -> list[str]:
    """Event types with each run of deltas folded into one."""
    out: list[str] = []
    for kind in types:
        if not (out and out[-1] == kind == "response.output_text.delta"):
            out.append(kind)
    return out


def check_stream(events: list[Any], last: str = "response.completed") -> str:
    """Order, sequence numbers and delta fields of a finished stream; returns the joined deltas."""
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert squash([e.type for e in events]) == [*STREAM_ORDER[:-1], last]
    deltas = [e for e in events if e.type == "response.output_text.delta"]
    item_id = events[2].item.id
    for event in events[3:-2]:
        assert event.item_id == item_id and event.output_index == 0 and event.content_index == 0
    for event in deltas:
        assert event.logprobs == []
    text = "".join(e.delta for e in deltas)
    done = next(e for e in events if e.type == "response.output_text.done")
    assert done.text == text and done.logprobs == []
    assert events[-1].response.output[0].content[0].text == text
    assert events[0].response.status == "in_progress" and events[0].response.usage is None
    return text


# --- create -----------------------------------------------------------------------------------

def test_create_with_string_input(client: OpenAI) -> None:
    prompt = "Tell me a joke about API keys"
    response = client.responses.create(model=MODEL, input=prompt)
    assert isinstance(response, Response)
    assert response.id.startswith("resp_") and response.object == "response"
    assert response.status == "completed" and response.error is None and response.incomplete_details is None
    assert response.output_text.startswith("[sandbox]")
    item = response.output[0]
    assert item.type == "message" and item.id.startswith("msg_") and item.role == "assistant"
    assert item.content[0].annotations == [] and item.content[0].logprobs == []
    usage = response.usage
    assert usage is not None
    assert usage.input_tokens == count_messages([{"role": "user", "content": prompt}], MODEL).tokens
    assert usage.output_tokens == output_tokens(response.output_text)
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    assert usage.input_tokens_details.cached_tokens == 0 and usage.output_tokens_details.reasoning_tokens == 0
    assert response.model == MODEL and response.store is True and response.tools == []
    assert response.tool_choice == "auto" and response.parallel_tool_calls is True and response.metadata == {}


def test_create_with_messages_and_instructions(client: OpenAI) -> None:
    messages: list[Any] = [
        {"role": "user", "content": "Hello!"},
        {"role": "assistant", "content": "Hi, how can I help?"},
        {"role": "user", "content": [{"type": "input_text", "text": "What is the capital of France?"}]},
    ]
    response = client.responses.create(model=MODEL, input=messages, instructions="Answer in one sentence.",
                                       temperature=0.2, top_p=0.5, metadata={"lesson": "3"})
    assert response.output_text == "[sandbox] The capital of France is Paris."
    assert response.instructions == "Answer in one sentence."
    assert (response.temperature, response.top_p, response.metadata) == (0.2, 0.5, {"lesson": "3"})
    counted = [{"role": "developer", "content": "Answer in one sentence."}, messages[0],
               {"role": "assistant", "content": [{"type": "output_text", "text": "Hi, how can I help?"}]},
               messages[2]]
    assert response.usage is not None
    assert response.usage.input_tokens == count_messages(counted, MODEL).tokens
    assert response.usage.input_tokens > count_messages(messages, MODEL).tokens  # instructions count


def test_max_output_tokens_cuts_the_answer(client: OpenAI) -> None:
    prompt = "Describe the weather on the moon in detail"
    full = simulate.answer(prompt, model=MODEL, context=[])
    assert output_tokens(full) > 16
    response = client.responses.create(model=MODEL, input=prompt, max_output_tokens=16)
    assert response.status == "incomplete"
    assert response.incomplete_details is not None and response.incomplete_details.reason == "max_output_tokens"
    assert response.output[0].status == "incomplete"
    assert response.usage is not None and response.usage.output_tokens == 16
    assert response.output_text == "".join(split_tokens(full, MODEL)[:16])
    assert response.max_output_tokens == 16


def test_max_output_tokens_below_minimum(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model=MODEL, input="hi", max_output_tokens=5)
    assert caught.value.code == "integer_below_min_value" and caught.value.param == "max_output_tokens"


def test_unknown_parameter_and_bad_role(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model=MODEL, input="hi", extra_body={"max_tokens": 20})
    assert caught.value.code == "unknown_parameter" and "Unknown parameter: 'max_tokens'." in str(caught.value)
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model=MODEL, input=[{"role": "robot", "content": "hi"}])  # type: ignore[list-item]
    assert caught.value.code == "invalid_value" and caught.value.param == "input[0].role"


def test_input_over_the_context_window(client: OpenAI) -> None:
    # gpt-5.4-mini's window is 400,000 tokens; 900,000 words are over it counted exactly or roughly.
    # (A model with no shutdown date, so the test does not expire with the model.)
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="gpt-5.4-mini", input="a " * 900_000)
    assert (caught.value.code, caught.value.param) == ("context_length_exceeded", "input")
    assert caught.value.message.endswith(
        "Your input exceeds the context window of this model. Please adjust your input and try again.")


def test_every_sdk_parameter_is_known() -> None:
    sdk = set(typing.get_type_hints(ResponseCreateParamsBase)) | {"stream"}
    assert sdk <= set(CREATE_PARAMS), sdk - set(CREATE_PARAMS)


def test_unknown_model_is_404(client: OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.create(model="gpt-nope", input="hi")
    assert caught.value.code == "model_not_found"
    assert "The model `gpt-nope` does not exist" in str(caught.value)


# --- streaming --------------------------------------------------------------------------------

def test_stream_helper(client: OpenAI) -> None:
    with client.responses.stream(model=MODEL, input="hello there") as stream:
        events = list(stream)
        final = stream.get_final_response()
    text = check_stream(events)
    assert final.output_text == text and text.startswith("[sandbox] ")
    assert final.status == "completed" and final.usage is not None
    assert final.usage.output_tokens == len([e for e in events if e.type == "response.output_text.delta"])
    assert final.usage.input_tokens == count_messages([{"role": "user", "content": "hello there"}], MODEL).tokens


def test_stream_true(client: OpenAI) -> None:
    events = list(client.responses.create(model=MODEL, input="Write a haiku", stream=True))
    text = check_stream(events)
    assert events[-1].response.output_text == text
    assert events[-1].response.id == events[0].response.id
    stored = client.responses.retrieve(events[0].response.id)
    assert stored.output_text == text and stored.status == "completed"


def test_stream_cut_ends_with_incomplete(client: OpenAI) -> None:
    events = list(client.responses.create(model=MODEL, input="Something long please", max_output_tokens=16,
                                          stream=True))
    check_stream(events, last="response.incomplete")
    assert events[-1].response.incomplete_details.reason == "max_output_tokens"
    assert len([e for e in events if e.type == "response.output_text.delta"]) == 16


def test_stream_error_fault(client: OpenAI, control: Any, account: dict[str, Any], store: Store) -> None:
    before = balance(store, account["organization_id"])
    control.inject_fault("stream_error", path="/v1/responses")
    events = list(client.responses.create(model=MODEL, input="hello", stream=True))  # does not raise
    error = events[-1]
    assert error.type == "error" and error.code == "server_error" and error.param is None
    assert error.message == "The server had an error while processing your request. Sorry about that!"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert "response.completed" not in [e.type for e in events]
    sent = len([e for e in events if e.type == "response.output_text.delta"])
    full = output_tokens(simulate.answer("hello", model=MODEL, context=[]))
    assert 0 < sent < full
    prompt_tokens = count_messages([{"role": "user", "content": "hello"}], MODEL).tokens
    assert before - balance(store, account["organization_id"]) == cost_of(MODEL, prompt_tokens, sent).total_pico
    stored = client.responses.retrieve(events[0].response.id)
    assert stored.status == "failed" and stored.error is not None and stored.error.code == "server_error"

    control.inject_fault("stream_error", path="/v1/responses")
    with client.responses.stream(model=MODEL, input="hello") as stream:
        assert list(stream)[-1].type == "error"
        with pytest.raises(RuntimeError, match="response.completed"):
            stream.get_final_response()


# --- stored responses -------------------------------------------------------------------------

def test_retrieve_delete_and_input_items(client: OpenAI, sandbox: Any, control: Any) -> None:
    created = client.responses.create(model=MODEL, input="hello")
    fetched = client.responses.retrieve(created.id)
    assert fetched.model_dump() == created.model_dump()
    items = client.responses.input_items.list(created.id)
    assert [(i.type, i.role, i.content[0].text) for i in items.data] == [("message", "user", "hello")]

    other = make_client(sandbox, control.create_account(credits_usd="1")["api_key"])
    with pytest.raises(openai.NotFoundError) as caught:
        other.responses.retrieve(created.id)
    assert str(caught.value).endswith(f"Response with id '{created.id}' not found.")
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve("resp_doesnotexist")

    client.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)

    unstored = client.responses.create(model=MODEL, input="hello", store=False)
    assert unstored.store is False
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(unstored.id)


def test_input_items_limit_is_checked_like_a_body_integer(client: OpenAI) -> None:
    created = client.responses.create(model=MODEL, input="hello")
    for limit, code, wording in ((0, "integer_below_min_value", "integer below minimum value"),
                                 (101, "integer_above_max_value", "integer above maximum value")):
        with pytest.raises(openai.BadRequestError) as caught:
            client.responses.input_items.list(created.id, limit=limit)
        assert caught.value.code == code
        assert caught.value.param == "limit"
        assert f"Invalid 'limit': {wording}." in str(caught.value)
    assert len(client.responses.input_items.list(created.id, limit=100).data) == 1


def test_previous_response_id(client: OpenAI) -> None:
    first = client.responses.create(model=MODEL, input="Tell me about tokens", instructions="Be short.")
    second = client.responses.create(model=MODEL, input="And again?", previous_response_id=first.id)
    assert second.previous_response_id == first.id
    conversation = [{"role": "user", "content": "Tell me about tokens"},
                    {"role": "assistant", "content": first.output_text},
                    {"role": "user", "content": "And again?"}]  # instructions are not carried over
    assert second.usage is not None and second.usage.input_tokens == count_messages(conversation, MODEL).tokens
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model=MODEL, input="hi", previous_response_id="resp_missing")
    assert caught.value.code == "previous_response_not_found" and caught.value.param == "previous_response_id"


# --- counting, billing, scopes ----------------------------------------------------------------

def test_input_tokens_count_is_free(client: OpenAI, account: dict[str, Any], store: Store) -> None:
    before = balance(store, account["organization_id"])
    counted = client.responses.input_tokens.count(model=MODEL, input="How many tokens is this?",
                                                  instructions="Be brief.")
    assert counted.object == "response.input_tokens"
    assert balance(store, account["organization_id"]) == before
    created = client.responses.create(model=MODEL, input="How many tokens is this?", instructions="Be brief.")
    assert created.usage is not None and created.usage.input_tokens == counted.input_tokens


def test_billing_debits_the_exact_cost(client: OpenAI, account: dict[str, Any], store: Store) -> None:
    before = balance(store, account["organization_id"])
    response = client.responses.create(model=MODEL, input="What is an API key?")
    assert response.usage is not None
    cost = cost_of(get_model(MODEL) or MODEL, response.usage.input_tokens, response.usage.output_tokens)
    assert cost.total_pico > 0
    assert before - balance(store, account["organization_id"]) == cost.total_pico
    row = store.query_one("SELECT endpoint, input_tokens, output_tokens FROM usage WHERE org_id = ?"
                          " ORDER BY id DESC", (account["organization_id"],))
    assert row is not None
    assert tuple(row) == ("/v1/responses", response.usage.input_tokens, response.usage.output_tokens)


def test_restricted_key_scopes(client: OpenAI, sandbox: Any, account: dict[str, Any], store: Store) -> None:
    def key(permission: str, scopes: list[str] | None = None) -> OpenAI:
        _, full = create_key(store, Clock(store), org_id=account["organization_id"],
                             project_id=account["project_id"], name="lab", permission=permission, scopes=scopes)
        return make_client(sandbox, full)

    with pytest.raises(openai.AuthenticationError) as caught:
        key("restricted", ["api.responses.write"]).responses.create(model=MODEL, input="hi")
    assert "Missing scopes: model.request." in str(caught.value) and caught.value.status_code == 401
    with pytest.raises(openai.AuthenticationError) as caught:
        key("restricted", ["model.request"]).responses.create(model=MODEL, input="hi")
    assert "Missing scopes: api.responses.write." in str(caught.value)

    created = key("restricted", ["api.responses.write", "model.request"]).responses.create(model=MODEL, input="hi")
    reader = key("read_only")
    with pytest.raises(openai.AuthenticationError) as caught:
        reader.responses.create(model=MODEL, input="hi")
    assert "Missing scopes: api.responses.write." in str(caught.value)
    assert reader.responses.retrieve(created.id).id == created.id


# --- the official spec ------------------------------------------------------------------------

def test_parameter_tables_match_the_spec() -> None:
    assert set(PARAMS) == set(properties("CreateResponse"))
    assert set(properties("TokenCountsBody")) <= set(COUNT_PARAMS)


def test_bodies_match_the_spec(sandbox: Any, account: dict[str, Any], control: Any) -> None:
    headers = {"Authorization": f"Bearer {account['api_key']}"}
    url = sandbox.base_url + "/responses"
    with httpx.Client(headers=headers, timeout=10) as http:
        for body in ({"model": MODEL, "input": "hi", "instructions": "Be brief."},
                     {"model": MODEL, "input": "Something long please", "max_output_tokens": 16}):
            created = http.post(url, json=body).json()
            validate("Response", created)
        validate("Response", http.get(f"{url}/{created['id']}").json())
        validate("ResponseItemList", http.get(f"{url}/{created['id']}/input_items").json())
        validate("TokenCountsResource", http.post(f"{url}/input_tokens", json={"model": MODEL, "input": "hi"}).json())
        control.inject_fault("stream_error", path="/v1/responses")
        for _ in range(2):  # the second stream completes, the first breaks off
            with http.stream("POST", url, json={"model": MODEL, "input": "hello", "stream": True}) as stream:
                assert stream.headers["content-type"].startswith("text/event-stream")
                lines = [line for line in stream.iter_lines() if line]
            for kind, data in zip(lines[::2], lines[1::2], strict=True):
                event = json.loads(data.removeprefix("data: "))
                assert kind == f"event: {event['type']}"
                validate("ResponseStreamEvent", event)

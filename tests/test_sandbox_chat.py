"""Chat Completions on the sandbox through the official SDK: plain, streamed, cut short, repeatable.

The `client` fixture parses with `_strict_response_validation=True`, so a body that does not fit
the SDK's types fails here as APIResponseValidationError, not later in a learner's notebook.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from openai import OpenAI

from keylab.sandbox import SandboxServer

MODEL = "gpt-6-luna"
HELLO = [{"role": "user", "content": "hello"}]
GO_DURATION = re.compile(r"(\d+m)?\d+(\.\d+)?s|\d+ms")


def test_plain_completion(client: OpenAI) -> None:
    """A plain answer: one choice, finish_reason stop, marked as the sandbox's, usage that adds up."""
    completion = client.chat.completions.create(model=MODEL, messages=HELLO)
    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert completion.model == MODEL
    [choice] = completion.choices
    assert choice.finish_reason == "stop" and choice.index == 0
    assert choice.message.role == "assistant"
    assert (choice.message.content or "").startswith("[sandbox]")
    usage = completion.usage
    assert usage is not None and usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_response_headers(client: OpenAI, account: dict[str, Any]) -> None:
    """Every authenticated answer carries the real API's headers (facts.md B4)."""
    raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=HELLO)
    headers = raw.headers
    assert re.fullmatch(r"req_[0-9a-f]{32}", headers["x-request-id"])
    assert headers["openai-organization"] == account["organization_id"]
    assert headers["openai-project"] == account["project_id"]
    assert headers["openai-version"] == "2020-10-01"
    assert int(headers["openai-processing-ms"]) >= 1
    for kind in ("requests", "tokens"):
        assert int(headers[f"x-ratelimit-limit-{kind}"]) > int(headers[f"x-ratelimit-remaining-{kind}"]) >= 0
        assert GO_DURATION.fullmatch(headers[f"x-ratelimit-reset-{kind}"])
    assert raw.parse().choices


@pytest.mark.parametrize("call", [
    pytest.param(lambda c: c.models.with_raw_response.list(), id="list-models"),
    pytest.param(lambda c: c.models.with_raw_response.retrieve(MODEL), id="retrieve-model"),
    pytest.param(lambda c: c.chat.completions.with_raw_response.create(model=MODEL, messages=[]), id="a-400"),
])
def test_headers_on_other_authenticated_answers(client: OpenAI, call: Any) -> None:
    """Model listing and 4xx answers to a known key carry the same header set as a completion."""
    try:
        headers = call(client).headers
    except Exception as error:  # noqa: BLE001 - the 400 case: read the headers off the error
        headers = error.response.headers  # type: ignore[attr-defined]
    for name in ("x-request-id", "openai-organization", "openai-project", "openai-processing-ms",
                 "openai-version", "x-ratelimit-limit-requests", "x-ratelimit-remaining-requests",
                 "x-ratelimit-reset-requests", "x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens",
                 "x-ratelimit-reset-tokens"):
        assert name in headers, name


def test_stream_with_usage(client: OpenAI) -> None:
    """stream=True with include_usage: content deltas, then a final chunk with no choices and the usage."""
    chunks = list(client.chat.completions.create(model=MODEL, messages=HELLO, stream=True,
                                                 stream_options={"include_usage": True}))
    *body, last = chunks
    assert all(chunk.usage is None for chunk in body)
    assert last.choices == [] and last.usage is not None
    assert body[0].choices[0].delta.role == "assistant"
    assert body[-1].choices[0].finish_reason == "stop"
    text = "".join(chunk.choices[0].delta.content or "" for chunk in body)
    assert text.startswith("[sandbox]")
    assert len({chunk.id for chunk in chunks}) == 1
    plain = client.chat.completions.create(model=MODEL, messages=HELLO)
    assert text == plain.choices[0].message.content, "streamed and plain answers differ"
    assert last.usage.completion_tokens == sum(1 for chunk in body if chunk.choices[0].delta.content)


def test_stream_wire_format(sandbox: SandboxServer, account: dict[str, Any]) -> None:
    """On the wire: text/event-stream, `data:` lines only, `usage: null` on every chunk before the
    last when include_usage is on, and a closing `data: [DONE]`."""
    request = {"model": MODEL, "messages": HELLO, "stream": True, "stream_options": {"include_usage": True}}
    response = httpx.post(sandbox.base_url + "/chat/completions", json=request,
                          headers={"Authorization": f"Bearer {account['api_key']}"})
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [block for block in response.text.split("\n\n") if block]
    assert all(block.startswith("data: ") for block in events)
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(block[len("data: "):]) for block in events[:-1]]
    assert all("usage" in chunk and chunk["usage"] is None for chunk in chunks[:-1])
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] > 0


def test_stream_helper(client: OpenAI) -> None:
    """The SDK's `chat.completions.stream(...)` helper assembles the same answer as a plain call."""
    with client.chat.completions.stream(model=MODEL, messages=HELLO) as stream:
        deltas = [event.delta for event in stream if event.type == "content.delta"]
        final = stream.get_final_completion()
    content = final.choices[0].message.content
    assert content and content.startswith("[sandbox]")
    assert "".join(deltas) == content
    assert final.choices[0].finish_reason == "stop"


@pytest.mark.parametrize("limit", ["max_tokens", "max_completion_tokens"])
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_token_limit_cuts_the_answer(client: OpenAI, limit: str, stream: bool) -> None:
    """A cap below the answer's length cuts it at exactly that many tokens, finish_reason 'length'."""
    kwargs: dict[str, Any] = {limit: 4}
    if stream:
        chunks = list(client.chat.completions.create(model=MODEL, messages=HELLO, stream=True,
                                                     stream_options={"include_usage": True}, **kwargs))
        assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 4
        assert chunks[-2].choices[0].finish_reason == "length"
    else:
        completion = client.chat.completions.create(model=MODEL, messages=HELLO, **kwargs)
        assert completion.choices[0].finish_reason == "length"
        assert completion.usage is not None and completion.usage.completion_tokens == 4


def test_n_seed_temperature(client: OpenAI) -> None:
    """n, seed and temperature are accepted; n gives that many indexed choices, billed together."""
    completion = client.chat.completions.create(model=MODEL, messages=HELLO, n=3, seed=7, temperature=0.2)
    assert [choice.index for choice in completion.choices] == [0, 1, 2]
    assert all((choice.message.content or "").startswith("[sandbox]") for choice in completion.choices)
    single = client.chat.completions.create(model=MODEL, messages=HELLO, seed=7, temperature=0.2)
    assert completion.usage is not None and single.usage is not None
    assert completion.usage.prompt_tokens == single.usage.prompt_tokens


def test_same_request_same_answer(client: OpenAI) -> None:
    """The simulator is deterministic, so committed notebook outputs stay stable."""
    request: dict[str, Any] = {"model": MODEL, "messages": [{"role": "user", "content": "Write a haiku"}],
                               "seed": 3}
    first = client.chat.completions.create(**request)
    second = client.chat.completions.create(**request)
    assert first.choices[0].message.content == second.choices[0].message.content
    assert first.usage == second.usage
    assert first.id != second.id


def test_snapshot_model_name(client: OpenAI) -> None:
    """A dated snapshot of a listed family is answered (and billed) as that family."""
    completion = client.chat.completions.create(model="gpt-5.4-mini-2026-03-17", messages=HELLO)
    assert completion.choices[0].message.content


def test_models_list(client: OpenAI) -> None:
    """GET /v1/models lists current models with shutdown_date, never ones already shut down."""
    ids = {model.id for model in client.models.list()}
    assert MODEL in ids and "o1" not in ids
    assert client.models.retrieve(MODEL).id == MODEL

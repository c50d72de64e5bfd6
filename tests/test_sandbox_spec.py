"""Sandbox bodies against the official OpenAPI spec, and the sandbox's parameter table against it.

The SDK's strict parsing (the `client` fixture) is one oracle; the spec is a second, independent
one: a field the SDK tolerates but the spec forbids, or a required field both the SDK and the
sandbox forgot, shows up here.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from openai.types.chat import completion_create_params
from spec import properties, validate

from keylab.sandbox import SandboxServer
from keylab.sandbox.api.chat import PARAMS

MODEL = "gpt-6-luna"
HELLO = [{"role": "user", "content": "hello"}]


def _post(sandbox: SandboxServer, key: str, body: Any, **kwargs: Any) -> httpx.Response:
    return httpx.post(sandbox.base_url + "/chat/completions", json=body,
                      headers={"Authorization": f"Bearer {key}"}, **kwargs)


@pytest.mark.parametrize("extra", [
    pytest.param({}, id="plain"),
    pytest.param({"n": 2, "seed": 1, "temperature": 0.5}, id="n-seed-temperature"),
    pytest.param({"max_completion_tokens": 3}, id="cut-short"),
])
def test_chat_completion_matches_spec(sandbox: SandboxServer, account: dict[str, Any], extra: dict[str, Any]) -> None:
    response = _post(sandbox, account["api_key"], {"model": MODEL, "messages": HELLO, **extra})
    assert response.status_code == 200
    validate("CreateChatCompletionResponse", response.json())


@pytest.mark.parametrize("include_usage", [False, True], ids=["no-usage", "include-usage"])
def test_stream_chunks_match_spec(sandbox: SandboxServer, account: dict[str, Any], include_usage: bool) -> None:
    body = {"model": MODEL, "messages": HELLO, "stream": True, "n": 2,
            "stream_options": {"include_usage": include_usage}}
    response = _post(sandbox, account["api_key"], body)
    blocks = [b[len("data: "):] for b in response.text.split("\n\n") if b and b != "data: [DONE]"]
    assert blocks
    for block in blocks:
        validate("CreateChatCompletionStreamResponse", json.loads(block))


def test_models_match_spec(sandbox: SandboxServer, account: dict[str, Any]) -> None:
    headers = {"Authorization": f"Bearer {account['api_key']}"}
    listed = httpx.get(sandbox.base_url + "/models", headers=headers).json()
    validate("ListModelsResponse", listed)
    one = httpx.get(sandbox.base_url + f"/models/{MODEL}", headers=headers).json()
    validate("Model", one)


ERROR_REQUESTS = {
    "missing-key": ({}, {"model": MODEL, "messages": HELLO}),
    "wrong-key": ({"Authorization": "Bearer sk-proj-not-a-key-at-all-0000"}, {"model": MODEL, "messages": HELLO}),
    "unknown-model": (None, {"model": "gpt-nope", "messages": HELLO}),
    "unknown-parameter": (None, {"model": MODEL, "messages": HELLO, "foo": 1}),
    "invalid-json": (None, b"{"),
}


@pytest.mark.parametrize(("headers", "body"), ERROR_REQUESTS.values(), ids=ERROR_REQUESTS.keys())
def test_error_bodies_match_spec(sandbox: SandboxServer, account: dict[str, Any], headers: dict[str, str] | None,
                                 body: Any) -> None:
    auth = {"Authorization": f"Bearer {account['api_key']}"} if headers is None else headers
    kwargs: dict[str, Any] = {"content": body} if isinstance(body, bytes) else {"json": body}
    response = httpx.post(sandbox.base_url + "/chat/completions", headers=auth, **kwargs)
    assert response.status_code >= 400
    validate("ErrorResponse", response.json())


def test_unknown_url_matches_spec(sandbox: SandboxServer) -> None:
    validate("ErrorResponse", httpx.get(sandbox.base_url + "/nope").json())


def test_chat_parameters_match_the_spec() -> None:
    """The sandbox knows exactly the request properties the spec lists: a parameter the spec adds
    must not be refused as 'Unknown parameter', and the sandbox must not accept one the API refuses."""
    spec_params = set(properties("CreateChatCompletionRequest"))
    assert set(PARAMS) == spec_params, (
        f"only in the spec: {sorted(spec_params - set(PARAMS))}; only in the sandbox: {sorted(set(PARAMS) - spec_params)}"
    )


def test_chat_parameters_cover_the_sdk() -> None:
    """Everything SDK 3.57 can send to create() is known to the sandbox (`stream` is added by the SDK)."""
    sdk_params = set(completion_create_params.CompletionCreateParamsBase.__annotations__) | {"stream"}
    assert sdk_params <= set(PARAMS), sorted(sdk_params - set(PARAMS))


def test_spec_normalises_nullable() -> None:
    """The 3.0 `nullable: true` is turned into a 3.1 null branch, so `n: null` is valid as the API accepts it."""
    n = properties("CreateChatCompletionRequest")["n"]
    assert "nullable" not in json.dumps(n)
    assert {"type": "null"} in n["anyOf"]

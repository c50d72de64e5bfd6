"""`POST /v1/chat/completions`, plain and streamed, shaped as the SDK's `ChatCompletion` types."""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import Response, StreamingResponse

from keylab.pricing import count_messages
from keylab.pricing.tokens import MEMO_MAX_CHARS, token_pieces
from keylab.sandbox import simulate
from keylab.sandbox.accounts import new_id
from keylab.sandbox.api.common import (
    Call,
    check_params,
    check_range,
    check_text_part,
    describe_type,
    json_body,
    json_bytes,
    require_model,
)
from keylab.sandbox.api.metering import CHAT_TIERS, Admission, admit, bill, bill_async, served_tier
from keylab.sandbox.errors import ApiError

ENDPOINT = "/v1/chat/completions"
SYSTEM_FINGERPRINT = "fp_keylab_sandbox"

# Top-level parameters of CreateChatCompletionRequest in the official spec (tests check for drift).
PARAMS: dict[str, str] = {
    "model": "string", "messages": "array", "store": "boolean", "reasoning_effort": "string",
    "metadata": "object", "frequency_penalty": "number", "logit_bias": "object", "logprobs": "boolean",
    "top_logprobs": "integer", "max_tokens": "integer", "max_completion_tokens": "integer", "n": "integer",
    "modalities": "array", "prediction": "object", "audio": "object", "presence_penalty": "number",
    "response_format": "object", "seed": "integer", "service_tier": "string", "stop": "any",
    "stream": "boolean", "stream_options": "object", "temperature": "number", "top_p": "number",
    "tools": "array", "tool_choice": "any", "parallel_tool_calls": "boolean", "user": "string",
    "function_call": "any", "functions": "array", "web_search_options": "object", "verbosity": "string",
    "prompt_cache_key": "string", "safety_identifier": "string", "prompt_cache_retention": "string",
    "prompt_cache_options": "object", "moderation": "object",
}
ROLES = ("system", "assistant", "user", "function", "tool", "developer")
CONTENT_REQUIRED = ("system", "user", "tool", "developer")  # an assistant message may carry tool_calls only


def _check_messages(messages: list[Any]) -> None:
    if not messages:
        raise ApiError("empty_array", param="messages")
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise ApiError("invalid_type", param=f"messages[{i}]", expected="an object",
                           got=describe_type(message))
        role = message.get("role")
        if role is None:
            raise ApiError("missing_required_parameter", param=f"messages[{i}].role")
        if role not in ROLES:
            raise ApiError("invalid_value", param=f"messages[{i}].role", value=role,
                           supported=", ".join(f"'{r}'" for r in ROLES))
        content = message.get("content")
        if content is None and role in CONTENT_REQUIRED:
            raise ApiError("missing_required_parameter", param=f"messages[{i}].content")
        if content is not None and not isinstance(content, (str, list)):
            raise ApiError("invalid_type", param=f"messages[{i}].content", expected="one of a string or array",
                           got=describe_type(content))
        if isinstance(content, list):
            _check_parts(content, f"messages[{i}].content")


def _check_parts(parts: list[Any], param: str) -> None:
    """Content parts: objects; a text part's `text` is a string (the API refuses a number there)."""
    for j, part in enumerate(parts):
        if not isinstance(part, dict):
            raise ApiError("invalid_type", param=f"{param}[{j}]", expected="an object", got=describe_type(part))
        check_text_part(part, f"{param}[{j}]", ("text",))


Answer = tuple[tuple[str, ...], str]  # one choice: its token pieces and its finish_reason


@functools.lru_cache(maxsize=1024, typed=True)  # typed: 1 and 1.0 may pick different answers
def _single_message_pieces(prompt: str, model: str, seed: Any, temperature: Any, index: int,
                           encoding: Any) -> tuple[str, ...]:
    text = simulate.answer(prompt, model=model, seed=seed, temperature=temperature, index=index, context=[])
    return token_pieces(text, model, encoding=encoding)


def _answers(body: dict[str, Any], model: str, limit: int | None, encoding: Any) -> tuple[Answer, ...]:
    """Per choice: the answer's token pieces (cut at `limit`) and its finish_reason."""
    prompt = simulate.last_user_text(body["messages"])
    out = []
    context = body["messages"][:-1]
    seed, temperature = body.get("seed"), body.get("temperature")
    # A single short message, the usual request: its answer depends on validated scalars only, so
    # it is memoised (long prompts are not kept in memory).
    memoised = not context and len(prompt) <= MEMO_MAX_CHARS
    for index in range(body.get("n") or 1):
        if memoised:
            pieces = _single_message_pieces(prompt, model, seed, temperature, index, encoding)
        else:
            text = simulate.answer(prompt, model=model, seed=seed, temperature=temperature, index=index,
                                   context=context)
            pieces = token_pieces(text, model, encoding=encoding)
        if limit is not None and len(pieces) > limit:
            out.append((pieces[:limit], "length"))
        else:
            out.append((pieces, "stop"))
    return tuple(out)


def _usage(prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0, "audio_tokens": 0,
            "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0,
        },
    }


async def create(call: Call) -> Response:
    body = await json_body(call)
    check_params(body, PARAMS, required=("model", "messages"))
    model = require_model(call, body)
    _check_messages(body["messages"])
    check_range(body, "max_tokens", minimum=1)
    check_range(body, "max_completion_tokens", minimum=1)
    check_range(body, "n", minimum=1, maximum=128)
    check_range(body, "temperature", minimum=0, maximum=2)
    include_usage = (body.get("stream_options") or {}).get("include_usage")
    if include_usage is not None and not isinstance(include_usage, bool):
        raise ApiError("invalid_type", param="stream_options.include_usage", expected="a boolean",
                       got=describe_type(include_usage))
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    encoding = call.state.encoding_for(model.id)
    prompt_tokens = count_messages(body["messages"], model.id, encoding=encoding).tokens
    if prompt_tokens > model.context_window:
        raise ApiError("context_length_exceeded", limit=model.context_window, tokens=prompt_tokens)
    n = body.get("n") or 1
    max_output = n * min(limit or simulate.MAX_ANSWER_TOKENS, simulate.MAX_ANSWER_TOKENS)
    answers = _answers(body, model.id, limit, encoding)
    completion_tokens = sum(len(pieces) for pieces, _ in answers)
    admission = admit(call, model, prompt_tokens, max_output, served_tier(body, CHAT_TIERS), completion_tokens)
    completion_id = new_id("chatcmpl-", 29)
    created = call.state.clock.now_s()
    if body.get("stream"):
        return _stream(call, admission, body, answers, completion_id, created)
    await bill_async(call, admission, output_tokens=completion_tokens, endpoint=ENDPOINT)
    return call.json(b'{"id":"%s","object":"chat.completion","created":%d,%s' % (
        completion_id.encode(), created, _completion_rest(model.id, answers, prompt_tokens, completion_tokens,
                                                            admission.service_tier)))


@functools.lru_cache(maxsize=1024)
def _completion_rest(model_id: str, answers: tuple[Answer, ...], prompt_tokens: int, completion_tokens: int,
                     service_tier: str) -> bytes:
    """A completion's JSON after its id and created time, which alone differ between identical calls
    (encoded once per distinct answer rather than on every call)."""
    rest = json_bytes({
        "model": model_id,
        "choices": [
            {
                "index": index,
                "message": {"role": "assistant", "content": "".join(pieces), "refusal": None, "annotations": []},
                "logprobs": None,
                "finish_reason": reason,
            }
            for index, (pieces, reason) in enumerate(answers)
        ],
        "usage": _usage(prompt_tokens, completion_tokens),
        "service_tier": service_tier,
        "system_fingerprint": SYSTEM_FINGERPRINT,
    })
    return rest[1:]  # without its opening brace


def _stream(call: Call, admission: Admission, body: dict[str, Any], answers: tuple[Answer, ...],
            completion_id: str, created: int) -> Response:
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    fault = call.state.faults.take(ENDPOINT, ("stream_error",), (None, call.key.tenant_id))
    model_id = admission.model.id

    def chunk(choices: list[dict[str, Any]], usage: dict[str, Any] | None = None) -> str:
        payload: dict[str, Any] = {
            "id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model_id,
            "service_tier": admission.service_tier, "system_fingerprint": SYSTEM_FINGERPRINT, "choices": choices,
        }
        if include_usage:
            payload["usage"] = usage
        return f"data: {json.dumps(payload)}\n\n"

    async def events() -> AsyncIterator[str]:
        sent = 0
        try:
            for index, (pieces, reason) in enumerate(answers):
                yield chunk([{"index": index, "delta": {"role": "assistant", "content": "", "refusal": None},
                              "logprobs": None, "finish_reason": None}])
                for position, piece in enumerate(pieces):
                    if fault is not None and position == len(pieces) // 2:
                        error = ApiError("server_error")
                        yield f"data: {json.dumps(error.body())}\n\n"
                        return
                    sent += 1
                    yield chunk([{"index": index, "delta": {"content": piece}, "logprobs": None,
                                  "finish_reason": None}])
                yield chunk([{"index": index, "delta": {}, "logprobs": None, "finish_reason": reason}])
            if include_usage:
                yield chunk([], _usage(admission.prompt_tokens, sent))
            yield "data: [DONE]\n\n"
        finally:
            # Tokens that were generated are billed, even when the stream broke off.
            bill(call, admission, output_tokens=sent, endpoint=ENDPOINT)

    return StreamingResponse(events(), media_type="text/event-stream; charset=utf-8", headers=call.base_headers())

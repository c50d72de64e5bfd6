"""The Responses API: `POST /v1/responses` (plain and streamed), `GET`/`DELETE /v1/responses/{id}`,
`GET /v1/responses/{id}/input_items` and `POST /v1/responses/input_tokens`.

Shapes follow the SDK's `openai.types.responses` types and the spec's `Response` schema (facts.md B9):
every field the spec marks required is sent, nulls included. Auth, rate limits, credit and the bill
go through the same path as Chat Completions (`metering.admit` / `metering.bill`).

Token counts: the request is turned into chat-style messages (`instructions` first, as a developer
message, then the previous response's conversation, then `input`) and counted with
`keylab.pricing.count_messages`, so `usage.input_tokens` is what the course's estimator says.

Streaming sends `event: <type>` + `data: {json}` in the real order, every event with a
`sequence_number` from 0:

    response.created, response.in_progress, response.output_item.added, response.content_part.added,
    response.output_text.delta x N, response.output_text.done, response.content_part.done,
    response.output_item.done, response.completed | response.incomplete (cut by max_output_tokens)

A staged `stream_error` fault breaks the stream halfway through the deltas with an `error` event
(`{type, code, message, param, sequence_number}`); the SDK yields it and does not raise (B9). Only
the tokens already sent are billed, and a stored response then reads `status: "failed"`.

Stored responses (`store` defaults to true) live in the `responses` table, scoped to the
organization. The row's `body` is `{"response": <Response>, "input_items": [...],
"conversation": [...]}`: the object GET returns, the items `input_items` lists, and the chat-style
messages (without instructions) a later `previous_response_id` continues from.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from keylab.pricing import ModelPrice, count_messages
from keylab.pricing.tokens import token_pieces
from keylab.sandbox import simulate
from keylab.sandbox.accounts import new_id
from keylab.sandbox.api.common import (
    Call,
    check_params,
    check_range,
    check_text_part,
    describe_type,
    endpoint,
    json_body,
    require_model,
)
from keylab.sandbox.api.metering import RESPONSES_TIERS, Admission, admit, bill, release, served_tier
from keylab.sandbox.errors import ApiError

ENDPOINT = "/v1/responses"

# Top-level properties of CreateResponse in the official spec (CreateModelResponseProperties +
# ResponseProperties + CreateResponse), with their JSON types; "any" where the spec allows several.
PARAMS: dict[str, str] = {
    "metadata": "object", "top_logprobs": "integer", "temperature": "number", "top_p": "number",
    "user": "string", "safety_identifier": "string", "prompt_cache_key": "string",
    "prompt_cache_retention": "string", "prompt_cache_options": "object", "previous_response_id": "string",
    "model": "string", "background": "boolean", "max_tool_calls": "integer", "text": "object",
    "tools": "array", "tool_choice": "any", "prompt": "object", "service_tier": "string",
    "truncation": "string", "reasoning": "object", "input": "any", "include": "array",
    "parallel_tool_calls": "boolean", "store": "boolean", "instructions": "string", "moderation": "object",
    "stream": "boolean", "stream_options": "object", "conversation": "any", "context_management": "array",
    "max_output_tokens": "integer",
}
# Sent by SDK 3.57 (ResponseCreateParams) but not in the spec snapshot of 2026-08-21 (facts.md B13).
SDK_ONLY_PARAMS: dict[str, str] = {"access_programs": "object", "background_options": "object", "image": "object"}
CREATE_PARAMS = {**PARAMS, **SDK_ONLY_PARAMS}

# TokenCountsBody in the spec, plus `personality` of SDK 3.57's InputTokenCountParams (also in the spec).
COUNT_PARAMS: dict[str, str] = {
    "model": "string", "input": "any", "previous_response_id": "string", "tools": "array", "text": "object",
    "reasoning": "object", "truncation": "string", "instructions": "string", "personality": "string",
    "conversation": "any", "tool_choice": "any", "parallel_tool_calls": "boolean",
}

# Scopes of the real platform: a restricted key needs both (facts.md B2, continue#10059).
WRITE_SCOPES = ("api.responses.write",)
READ_SCOPES = ("api.responses.read", "api.responses.write")
MODEL_SCOPES = ("model.request", "api.model.request")

ROLES = ("assistant", "system", "developer", "user")
_ROLES_TEXT = "'assistant', 'system', 'developer', and 'user'"
STREAM_ERROR_MESSAGE = "The server had an error while processing your request. Sorry about that!"


def _require(call: Call, *groups: tuple[str, ...]) -> None:
    """Each group is one scope the route needs (any alias in the group will do), checked in order."""
    key = call.key
    assert key is not None
    for group in groups:
        if not any(key.has_scope(scope) for scope in group):
            raise ApiError("missing_scopes", scopes=group[0])


# --- input ------------------------------------------------------------------------------------

TEXT_PARTS = ("input_text", "output_text", "text")  # parts whose `text` must be a string


def _parts_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))


def _normalize_input(value: Any) -> list[dict[str, Any]]:
    """The request's `input` as stored input items (the shapes `input_items` lists), validated."""
    if value is None:
        return []
    if isinstance(value, str):
        return [_message_item("user", value)]
    if not isinstance(value, list):
        raise ApiError("invalid_type", param="input", expected="one of a string or an array of input items",
                       got=describe_type(value))
    items = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise ApiError("invalid_type", param=f"input[{i}]", expected="an object", got=describe_type(item))
        kind = item.get("type", "message")
        if kind != "message":
            items.append({**item, "id": item.get("id") or new_id("item_", 50)})
            continue
        role = item.get("role")
        if role is None:
            raise ApiError("missing_required_parameter", param=f"input[{i}].role")
        if role not in ROLES:
            raise ApiError("invalid_value", param=f"input[{i}].role", value=role, supported=_ROLES_TEXT)
        content = item.get("content")
        if content is None:
            raise ApiError("missing_required_parameter", param=f"input[{i}].content")
        if not isinstance(content, (str, list)):
            raise ApiError("invalid_type", param=f"input[{i}].content", expected="one of a string or array",
                           got=describe_type(content))
        for j, part in enumerate(content if isinstance(content, list) else []):
            if not isinstance(part, dict):
                raise ApiError("invalid_type", param=f"input[{i}].content[{j}]", expected="an object",
                               got=describe_type(part))
            if part.get("type") is None:
                raise ApiError("missing_required_parameter", param=f"input[{i}].content[{j}].type")
            check_text_part(part, f"input[{i}].content[{j}]", TEXT_PARTS)
        items.append(_message_item(role, content, item.get("id")))
    return items


def _message_item(role: str, content: str | list[Any], item_id: str | None = None) -> dict[str, Any]:
    if role == "assistant":
        parts = ([{"type": "output_text", "annotations": [], "logprobs": [], "text": content}]
                 if isinstance(content, str)
                 else [{"annotations": [], "logprobs": [], **p} if p.get("type") == "output_text" else p
                       for p in content])
    else:
        parts = [{"type": "input_text", "text": content}] if isinstance(content, str) else list(content)
    return {"id": item_id or new_id("msg_", 50), "type": "message", "role": role, "content": parts,
            "status": "completed"}


def _as_messages(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Input items as chat-style messages, for counting and for the simulator."""
    messages = []
    for item in items:
        if item.get("type") == "message":
            messages.append({"role": item["role"], "content": item["content"]})
        elif "output" in item:  # function_call_output and friends
            output = item["output"]
            messages.append({"role": "tool", "content": output if isinstance(output, (str, list)) else ""})
        elif "arguments" in item:  # a function_call item sent back
            messages.append({"role": "assistant", "content": str(item["arguments"])})
    return messages


def _previous(call: Call, response_id: str | None) -> list[dict[str, Any]]:
    """The conversation (chat-style messages) a `previous_response_id` continues, or 400."""
    if response_id is None:
        return []
    row = _load(call, response_id)
    if row is None:
        raise ApiError("previous_response_not_found", id=response_id)
    return list(row.get("conversation", []))


@dataclass
class Prompt:
    """A request's input, resolved: items to store, the conversation so far, what counts as input."""

    items: list[dict[str, Any]]
    conversation: list[dict[str, Any]]  # previous conversation + this input, without instructions
    counted: list[dict[str, Any]]  # instructions + conversation: what input_tokens counts
    tokens: int


def _prompt(call: Call, body: dict[str, Any], model: ModelPrice) -> Prompt:
    items = _normalize_input(body.get("input"))
    conversation = _previous(call, body.get("previous_response_id")) + _as_messages(items)
    counted = list(conversation)
    if body.get("instructions"):
        counted.insert(0, {"role": "developer", "content": body["instructions"]})
    tokens = count_messages(counted, model.id).tokens
    return Prompt(items, conversation, counted, tokens)


# --- the Response object ----------------------------------------------------------------------

def _output_message(msg_id: str, text: str, status: str) -> dict[str, Any]:
    return {
        "id": msg_id, "type": "message", "status": status,
        "content": [{"type": "output_text", "annotations": [], "logprobs": [], "text": text}],
        "role": "assistant",
    }


def _usage(input_tokens: int, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + output_tokens,
    }


@dataclass
class Run:
    """One model response being produced."""

    call: Call
    body: dict[str, Any]
    model: ModelPrice
    prompt: Prompt
    admission: Admission
    pieces: tuple[str, ...]
    cut: bool
    response_id: str = field(default_factory=lambda: new_id("resp_", 50))
    msg_id: str = field(default_factory=lambda: new_id("msg_", 50))
    created_at: int = 0

    @property
    def store(self) -> bool:
        return self.body.get("store") is not False

    def response(self, status: str, *, output: list[dict[str, Any]], output_tokens: int | None,
                 error: dict[str, Any] | None = None) -> dict[str, Any]:
        body = self.body
        finished = status in ("completed", "incomplete", "failed")
        response = {
            "id": self.response_id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "background": bool(body.get("background")),
            "completed_at": self.call.state.clock.now_s() if status == "completed" else None,
            "error": error,
            "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"),
            "max_tool_calls": body.get("max_tool_calls"),
            "model": self.model.id,
            "output": output,
            "parallel_tool_calls": body.get("parallel_tool_calls") is not False,
            "previous_response_id": body.get("previous_response_id"),
            "prompt_cache_key": body.get("prompt_cache_key"),
            "prompt_cache_retention": body.get("prompt_cache_retention"),
            "reasoning": body.get("reasoning") or {"effort": None, "summary": None},
            "safety_identifier": body.get("safety_identifier"),
            "service_tier": self.admission.service_tier,
            "store": self.store,
            "temperature": body["temperature"] if body.get("temperature") is not None else 1.0,
            "text": body.get("text") or {"format": {"type": "text"}, "verbosity": "medium"},
            "tool_choice": body["tool_choice"] if body.get("tool_choice") is not None else "auto",
            "tools": body.get("tools") or [],
            "top_logprobs": body["top_logprobs"] if body.get("top_logprobs") is not None else 0,
            "top_p": body["top_p"] if body.get("top_p") is not None else 1.0,
            "truncation": body.get("truncation") or "disabled",
            "metadata": body.get("metadata") or {},
        }
        if finished and output_tokens is not None:
            # The spec's streaming example shows "usage": null while in progress, but its schema
            # types usage as an object: leave it out until there is one (the SDK reads None).
            response["usage"] = _usage(self.prompt.tokens, output_tokens)
        if body.get("user") is not None:
            # The live API sends "user": null, but the spec types it as a plain string: only echo it.
            response["user"] = body["user"]
        return response

    def final(self, sent: int, *, failed: bool = False) -> dict[str, Any]:
        """The finished Response after `sent` token pieces."""
        text = "".join(self.pieces[:sent])
        if failed:
            error = {"code": "server_error", "message": STREAM_ERROR_MESSAGE}
            return self.response("failed", output=[_output_message(self.msg_id, text, "incomplete")],
                                 output_tokens=sent, error=error)
        status = "incomplete" if self.cut else "completed"
        return self.response(status, output=[_output_message(self.msg_id, text, status)], output_tokens=sent)

    def save(self, response: dict[str, Any]) -> None:
        if not self.store:
            return
        assert self.call.key is not None
        conversation = self.prompt.conversation + [
            {"role": "assistant", "content": response["output"][0]["content"][0]["text"]}
        ]
        row = {"response": response, "input_items": self.prompt.items, "conversation": conversation}
        with self.call.state.store.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO responses (id, org_id, project_id, body, created_at) VALUES (?, ?, ?, ?, ?)",
                (self.response_id, self.call.key.org_id, self.call.key.project_id or "", json.dumps(row),
                 self.created_at),
            )


def _load(call: Call, response_id: str) -> dict[str, Any] | None:
    assert call.key is not None
    row = call.state.store.query_one(
        "SELECT body FROM responses WHERE id = ? AND org_id = ?", (response_id, call.key.org_id)
    )
    return json.loads(row[0]) if row else None


# --- routes -----------------------------------------------------------------------------------

def _check_body(body: dict[str, Any], schema: dict[str, str]) -> None:
    check_params(body, schema, required=("model",))
    check_range(body, "max_output_tokens", minimum=16)
    check_range(body, "temperature", minimum=0, maximum=2)
    check_range(body, "top_p", minimum=0, maximum=1)
    check_range(body, "top_logprobs", minimum=0, maximum=20)


async def create(call: Call) -> Response:
    _require(call, WRITE_SCOPES, MODEL_SCOPES)
    body = await json_body(call)
    _check_body(body, CREATE_PARAMS)
    model = require_model(call, body)
    if "input" not in body and not any(body.get(k) for k in ("previous_response_id", "prompt", "conversation")):
        raise ApiError("missing_required_parameter", param="input")
    prompt = _prompt(call, body, model)
    if prompt.tokens > model.context_window:
        raise ApiError("input_context_length_exceeded")
    limit = body.get("max_output_tokens")
    text = simulate.answer(simulate.last_user_text(prompt.conversation), model=model.id,
                           temperature=body.get("temperature"), context=prompt.counted[:-1])
    pieces = token_pieces(text, model.id)
    cut = limit is not None and len(pieces) > limit
    pieces = pieces[:limit] if cut else pieces
    admission = admit(call, model, prompt.tokens, min(limit or simulate.MAX_ANSWER_TOKENS,
                                                      simulate.MAX_ANSWER_TOKENS), served_tier(body, RESPONSES_TIERS),
                      len(pieces))
    try:
        run = Run(call, body, model, prompt, admission, pieces, cut, created_at=call.state.clock.now_s())
    except BaseException:
        release(call, admission)
        raise
    if body.get("stream"):
        return _stream(run)
    bill(call, admission, output_tokens=len(run.pieces), endpoint=ENDPOINT)
    response = run.final(len(run.pieces))
    run.save(response)
    return call.json(response)


def _stream(run: Run) -> Response:
    call = run.call
    fault = call.state.faults.take(ENDPOINT, ("stream_error",), (None, call.key.tenant_id))
    sequence = 0

    def event(kind: str, **payload: Any) -> str:
        nonlocal sequence
        data = {"type": kind, "sequence_number": sequence, **payload}
        sequence += 1
        return f"event: {kind}\ndata: {json.dumps(data)}\n\n"

    async def events() -> AsyncIterator[str]:
        sent = 0
        final: dict[str, Any] | None = None
        ids = {"item_id": run.msg_id, "output_index": 0, "content_index": 0}
        try:
            start = run.response("in_progress", output=[], output_tokens=None)
            yield event("response.created", response=start)
            yield event("response.in_progress", response=start)
            yield event("response.output_item.added", output_index=0,
                        item={"id": run.msg_id, "type": "message", "status": "in_progress", "content": [],
                              "role": "assistant"})
            yield event("response.content_part.added", **ids,
                        part={"type": "output_text", "annotations": [], "logprobs": [], "text": ""})
            for position, piece in enumerate(run.pieces):
                if fault is not None and position == len(run.pieces) // 2:
                    final = run.final(sent, failed=True)
                    yield event("error", code="server_error", message=STREAM_ERROR_MESSAGE, param=None)
                    return
                sent += 1
                yield event("response.output_text.delta", **ids, delta=piece, logprobs=[])
            final = run.final(sent)
            item = final["output"][0]
            yield event("response.output_text.done", **ids, text=item["content"][0]["text"], logprobs=[])
            yield event("response.content_part.done", **ids, part=item["content"][0])
            yield event("response.output_item.done", output_index=0, item=item)
            yield event("response.incomplete" if run.cut else "response.completed", response=final)
        finally:
            # What was generated is billed, even when the stream broke off.
            bill(call, run.admission, output_tokens=sent, endpoint=ENDPOINT)
            if final is not None:
                run.save(final)

    return StreamingResponse(events(), media_type="text/event-stream; charset=utf-8", headers=call.base_headers())


def _stored(call: Call) -> tuple[str, dict[str, Any]]:
    response_id = call.request.path_params["response_id"]
    row = _load(call, response_id)
    if row is None:
        raise ApiError("response_not_found", id=response_id)
    return response_id, row


async def retrieve(call: Call) -> Response:
    _require(call, READ_SCOPES)
    _, row = _stored(call)
    return call.json(row["response"])


async def delete(call: Call) -> Response:
    _require(call, WRITE_SCOPES)
    response_id, _ = _stored(call)
    with call.state.store.transaction() as db:
        db.execute("DELETE FROM responses WHERE id = ?", (response_id,))
    return call.json({"id": response_id, "object": "response", "deleted": True})


async def input_items(call: Call) -> Response:
    _require(call, READ_SCOPES)
    _, row = _stored(call)
    query = call.request.query_params
    items = list(row.get("input_items", []))
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise ApiError("invalid_value", param="order", value=order, supported="'asc' and 'desc'")
    if order == "desc":
        items.reverse()
    try:
        limit = int(query.get("limit", 20))
    except ValueError:
        raise ApiError("invalid_type", param="limit", expected="an integer", got="a string") from None
    check_range({"limit": limit}, "limit", minimum=1, maximum=100)
    after = query.get("after")
    if after:
        ids = [item["id"] for item in items]
        items = items[ids.index(after) + 1:] if after in ids else []
    page = items[:limit]
    return call.json({
        "object": "list",
        "data": page,
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
        "has_more": len(items) > limit,
    })


async def count_input_tokens(call: Call) -> Response:
    _require(call, WRITE_SCOPES)
    body = await json_body(call)
    _check_body(body, COUNT_PARAMS)
    model = require_model(call, body)
    prompt = _prompt(call, body, model)
    return call.json({"object": "response.input_tokens", "input_tokens": prompt.tokens})


ROUTES = [
    Route("/v1/responses", endpoint(create), methods=["POST"]),
    Route("/v1/responses/input_tokens", endpoint(count_input_tokens), methods=["POST"]),
    Route("/v1/responses/{response_id}", endpoint(retrieve), methods=["GET"]),
    Route("/v1/responses/{response_id}", endpoint(delete), methods=["DELETE"]),
    Route("/v1/responses/{response_id}/input_items", endpoint(input_items), methods=["GET"]),
]

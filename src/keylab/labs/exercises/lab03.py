"""Lab 03: your first call. Checkers for `solutions/solution-03-first-call.ipynb`.

03.1 makes a real call (against the sandbox or the real API). The others give the learner's function
objects the SDK itself built from fixed values (usage, headers, stream chunks), so their feedback is the
same on every run and costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.completion_usage import CompletionUsage

from keylab.labs.feedback import Feedback, describe
from keylab.labs.registry import exercise
from keylab.pricing import COURSE_MODEL, cost_of, format_usd, get_model

TITLE = "Your first call"


@exercise(
    "03.1",
    names=["reply", "reply_text"],
    hint="reply = client.chat.completions.create(model=COURSE_MODEL, messages=[...]); "
    "reply_text = reply.choices[0].message.content",
)
def check_first_call(fb: Feedback, reply: Any, reply_text: Any) -> None:
    fb.require(
        isinstance(reply, ChatCompletion),
        "reply is a ChatCompletion (the answer object of client.chat.completions.create)",
        f"reply is {describe(reply)}; expected the object client.chat.completions.create(...) returns",
    )
    row = get_model(reply.model)
    fb.expect(
        row is not None and row.id == COURSE_MODEL,
        f"the call used COURSE_MODEL ({COURSE_MODEL})",
        f"the call used {reply.model!r}; use model=COURSE_MODEL, the course's cheap model",
    )
    fb.require(
        isinstance(reply_text, str) and reply_text.strip() != "",
        "reply_text is the answer's text",
        f"reply_text is {describe(reply_text)}; expected a non-empty string",
    )
    fb.expect(
        reply_text == reply.choices[0].message.content,
        "reply_text is reply.choices[0].message.content",
        "reply_text is not the text of reply: read reply.choices[0].message.content",
    )


def _usage(prompt: int, completion: int, cached: int | None) -> CompletionUsage:
    data: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": completion,
                            "total_tokens": prompt + completion}
    if cached is not None:
        data["prompt_tokens_details"] = {"cached_tokens": cached, "audio_tokens": 0}
    return CompletionUsage.model_validate(data)


@exercise(
    "03.2",
    names=["call_cost"],
    hint="cost_of(model, input tokens, output tokens, cached_tokens=...) prices a call, and its .total_usd "
    "is in dollars; the three counts are on usage (the cached one inside usage.prompt_tokens_details, "
    "which can be None)",
)
def check_call_cost(fb: Feedback, call_cost: Callable[[Any, str], Any]) -> None:
    cases = [
        ("a plain call", _usage(1_000, 500, 0), COURSE_MODEL),
        ("a call with 800 cached input tokens", _usage(1_000, 500, 800), COURSE_MODEL),
        ("usage without prompt_tokens_details", _usage(2_000, 100, None), "gpt-6.1-terra"),
    ]
    for label, usage, model in cases:
        details = usage.prompt_tokens_details
        cached = (details.cached_tokens or 0) if details else 0
        expected = cost_of(model, usage.prompt_tokens, usage.completion_tokens, cached_tokens=cached).total_usd
        got = fb.call(call_cost, usage, model)
        try:
            value = Decimal(str(got))
        except Exception:
            fb.fail(f"{label}: call_cost returned {describe(got)}; expected a number of dollars")
            continue
        if abs(value - expected) < Decimal("1e-12"):
            fb.ok(f"{label} ({model}): {format_usd(expected, 8)}")
            continue
        fb.fail(f"{label} ({model}): got {describe(got)}, expected {format_usd(expected, 8)}")
        no_cache = cost_of(model, usage.prompt_tokens, usage.completion_tokens).total_usd
        swapped = cost_of(model, usage.completion_tokens, usage.prompt_tokens).total_usd
        if cached and abs(value - no_cache) < Decimal("1e-12"):
            fb.hint("cached input tokens are cheaper: pass cached_tokens=usage.prompt_tokens_details.cached_tokens")
        elif abs(value - swapped) < Decimal("1e-12"):
            fb.hint("input and output are swapped: prompt_tokens are input, completion_tokens are output")
        elif abs(value - expected * 1_000_000) < Decimal("1e-6"):
            fb.hint("prices are per 1 million tokens: cost_of already divides, use its .total_usd")


def _headers(values: dict[str, str]) -> Any:
    from keylab.lessons.failures import sdk_http

    return sdk_http().Headers(values)


@exercise(
    "03.3",
    names=["read_headers"],
    hint='headers.get("x-request-id") gives the id; for the count, first get the '
    '"x-ratelimit-remaining-requests" header, then convert it with int() only if it is not None '
    "(int(None) fails when the header is missing)",
)
def check_read_headers(fb: Feedback, read_headers: Callable[[Any], Any]) -> None:
    full = _headers({"X-Request-Id": "req_0123456789abcdef0123456789abcdef",
                     "X-RateLimit-Remaining-Requests": "42", "x-ratelimit-limit-requests": "500"})
    got = fb.call(read_headers, full)
    fb.require(isinstance(got, dict), "returns a dict", f"read_headers returned {describe(got)}; expected a dict")
    fb.expect(
        got.get("request_id") == "req_0123456789abcdef0123456789abcdef",
        "request_id comes from the x-request-id header",
        f"request_id is {describe(got.get('request_id'))}; read the x-request-id header",
    )
    fb.expect(
        got.get("remaining_requests") == 42 and isinstance(got.get("remaining_requests"), int),
        "remaining_requests is the number 42 from x-ratelimit-remaining-requests",
        f"remaining_requests is {describe(got.get('remaining_requests'))}; expected the whole number 42 "
        "(headers are text: convert with int())",
    )
    partial = fb.call(read_headers, _headers({"x-request-id": "req_ffffffffffffffffffffffffffffffff"}))
    fb.expect(
        isinstance(partial, dict) and partial.get("remaining_requests") is None,
        "a missing rate-limit header gives None (some endpoints send none)",
        f"with no x-ratelimit-remaining-requests header, got {describe(partial)}; "
        "expected remaining_requests None",
    )


def _chunk(choices: list[dict[str, Any]], usage: dict[str, Any] | None = None) -> ChatCompletionChunk:
    data = {"id": "chatcmpl-lab03", "object": "chat.completion.chunk", "created": 0, "model": COURSE_MODEL,
            "choices": choices, "usage": usage}
    return ChatCompletionChunk.model_validate(data)


def _delta(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"index": 0, "delta": delta, "finish_reason": finish}


@exercise(
    "03.4",
    names=["collect_stream"],
    hint="skip chunks whose choices list is empty, and deltas whose content is None",
)
def check_collect_stream(fb: Feedback, collect_stream: Callable[[Any], Any]) -> None:
    pieces = ["Keys", " in", " dot", "-env", " rest"]
    chunks = [
        _chunk([_delta({"role": "assistant", "content": ""})]),
        *(_chunk([_delta({"content": piece})]) for piece in pieces),
        _chunk([_delta({}, "stop")]),
        _chunk([], {"prompt_tokens": 9, "completion_tokens": 5, "total_tokens": 14}),
    ]
    got = fb.call(collect_stream, iter(chunks))
    expected = "".join(pieces)
    fb.expect(
        got == expected,
        f"joins the chunks into {expected!r} (the role chunk, the finish chunk and the usage chunk add nothing)",
        f"returned {describe(got)}, expected {expected!r}",
    )

"""Lab 04: when it fails. Checkers for `solutions/solution-04-when-it-fails.ipynb`.

04.1 judges `classify_error` on real errors: in sandbox mode the checker stages each one on the
sandbox (a wrong key, an unfunded account, a 3-requests-per-minute key, a 500, …) and catches what the
SDK raises. In live mode it cannot stage them, so it builds the same errors from the catalogue, exactly
as the API sends them. 04.2 and 04.3 use errors built from the catalogue and a fake `sleep`, so they
never wait and always give the same feedback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import openai

from keylab.environment import mode
from keylab.labs.feedback import Feedback, StopCheck, describe
from keylab.labs.registry import exercise
from keylab.lessons.failures import CATEGORIES, FIX_BILLING, FIX_KEY, FIX_REQUEST, RETRY, make_error
from keylab.pricing import COURSE_MODEL

TITLE = "When it fails"

HELLO = [{"role": "user", "content": "Say hello in one short sentence."}]

# (label, catalogue case, expected category)
CASES = (
    ("wrong key", "invalid_api_key", FIX_KEY),
    ("no credit", "insufficient_quota", FIX_BILLING),
    ("too many requests", "rate_limit_requests", RETRY),
    ("request bigger than the TPM limit", "request_too_large", FIX_REQUEST),
    ("model name typo", "model_not_found", FIX_REQUEST),
    ("unknown parameter", "unknown_parameter", FIX_REQUEST),
    ("server error", "server_error", RETRY),
)


def _caught(call: Callable[[], Any]) -> openai.APIStatusError:
    try:
        call()
    except openai.APIStatusError as error:
        return error
    raise RuntimeError("the sandbox accepted a call that was staged to fail")


def staged_errors() -> dict[str, openai.APIStatusError]:
    """Each case of CASES, raised for real by the SDK against the sandbox (sandbox mode only)."""
    from keylab.keys import generate_sandbox_key
    from keylab.sandbox.client import ControlClient

    control = ControlClient.from_env()

    def client(api_key: str | None = None) -> openai.OpenAI:
        return openai.OpenAI(api_key=api_key, max_retries=0) if api_key else openai.OpenAI(max_retries=0)

    def chat(c: openai.OpenAI, **extra: Any) -> Callable[[], Any]:
        return lambda: c.chat.completions.create(model=extra.pop("model", COURSE_MODEL), messages=HELLO, **extra)

    errors = {
        "invalid_api_key": _caught(chat(client(generate_sandbox_key()))),
        "insufficient_quota": _caught(chat(client(control.create_account(credits_usd=0)["api_key"]))),
    }
    busy = control.create_account(credits_usd=1)
    control.set_key_limits(busy["api_key_id"], rpm=1)
    busy_client = client(busy["api_key"])
    busy_client.chat.completions.create(model=COURSE_MODEL, messages=HELLO)
    errors["rate_limit_requests"] = _caught(chat(busy_client))
    small = control.create_account(credits_usd=1)
    control.set_key_limits(small["api_key_id"], tpm=50)
    errors["request_too_large"] = _caught(chat(client(small["api_key"])))
    errors["model_not_found"] = _caught(chat(client(), model="gpt-6-lunar"))
    errors["unknown_parameter"] = _caught(chat(client(), extra_body={"temprature": 0.5}))
    control.inject_fault("server_error", count=1, path="/v1/chat/completions")
    errors["server_error"] = _caught(chat(client()))
    return errors


def _errors() -> tuple[dict[str, openai.APIStatusError], str]:
    if mode() == "sandbox":
        return staged_errors(), "staged on the sandbox"
    return {name: make_error(name) for _, name, _ in CASES}, "built from the catalogue (live mode stages nothing)"


def _name(error: openai.APIStatusError) -> str:
    return f"{type(error).__name__} {error.status_code} {error.code}"


@exercise(
    "04.1",
    names=["classify_error"],
    hint="look at e.status_code first, then e.code; for 429, e.code tells 'no credit' from 'too fast'",
)
def check_classify_error(fb: Feedback, classify_error: Callable[[Any], Any]) -> None:
    try:  # a stub is "not attempted": find out before staging errors on the sandbox
        classify_error(make_error("invalid_api_key"))
    except NotImplementedError:
        fb.not_attempted()
    except Exception:  # a learner's bug: reported below, on the real errors
        pass
    errors, how = _errors()
    for label, name, expected in CASES:
        error = errors[name]
        got = fb.call(classify_error, error)
        if got == expected:
            fb.ok(f"{label} ({_name(error)}) → {expected!r}")
            continue
        if got not in CATEGORIES:
            fb.fail(f"{label} ({_name(error)}): returned {describe(got)}, which is none of {list(CATEGORIES)}")
            continue
        fb.fail(f"{label} ({_name(error)}): returned {got!r}, expected {expected!r}")
        if name == "insufficient_quota":
            fb.hint("a 429 with code 'insufficient_quota' means no credit: waiting never fixes it")
        if name == "request_too_large":
            fb.hint("'Request too large' is a 429 rate_limit_exceeded that waiting cannot fix: "
                    "check for those words in e.message")
        if name == "server_error":
            fb.hint("every status of 500 or more is the server's fault: retry")
    fb.ok(f"(the errors were {how})")


def _without_retry_after(name: str) -> openai.APIStatusError:
    error = make_error(name)
    if "retry-after" in error.response.headers:
        del error.response.headers["retry-after"]
    return error


@exercise(
    "04.2",
    names=["seconds_to_wait"],
    hint='float(e.response.headers.get("retry-after", default))',
)
def check_seconds_to_wait(fb: Feedback, seconds_to_wait: Callable[..., Any]) -> None:
    cases = [
        ("Retry-After: 20", make_error("rate_limit_requests", headers={"retry-after": "20"}), 20.0),
        ("Retry-After: 0.5", make_error("rate_limit_tokens", headers={"retry-after": "0.5"}), 0.5),
        ("no Retry-After header", _without_retry_after("rate_limit_requests"), 1.0),
    ]
    for label, error, expected in cases:
        got = fb.call(seconds_to_wait, error)
        good = isinstance(got, (int, float)) and not isinstance(got, bool) and abs(got - expected) < 1e-9
        fb.expect(good, f"{label} → {expected} seconds",
                  f"{label}: returned {describe(got)}, expected the number {expected}")
    got = fb.call(seconds_to_wait, _without_retry_after("server_error"), default=4.0)
    fb.expect(got == 4.0, "no header and default=4.0 → 4.0 seconds",
              f"no header and default=4.0: returned {describe(got)}, expected 4.0")


class _Script:
    """A fake API call: raises the scripted errors in turn, then returns "ok"."""

    def __init__(self, *errors: openai.APIStatusError) -> None:
        self.errors: Iterator[openai.APIStatusError] = iter(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        error = next(self.errors, None)
        if error is not None:
            raise error
        return "ok"


def _run(fb: Feedback, call_with_backoff: Callable[..., Any], script: _Script,
         **kwargs: Any) -> tuple[Any, BaseException | None, list[float]]:
    slept: list[float] = []
    try:
        result = call_with_backoff(script, sleep=slept.append, **kwargs)
    except openai.APIError as error:
        return None, error, slept
    except NotImplementedError:
        raise
    except Exception as error:
        fb.fail(f"call_with_backoff raised {type(error).__name__}: {describe(error)}")
        raise StopCheck from None
    return result, None, slept


@exercise(
    "04.3",
    names=["call_with_backoff"],
    hint="loop over attempts; on an error, re-raise unless classify_error(e) == 'retry' and attempts remain; "
    "otherwise sleep(seconds_to_wait(e, default=delay)) and double delay",
)
def check_call_with_backoff(fb: Feedback, call_with_backoff: Callable[..., Any]) -> None:
    script = _Script(make_error("rate_limit_requests", headers={"retry-after": "2"}))
    result, error, slept = _run(fb, call_with_backoff, script)
    fb.expect(result == "ok" and slept == [2.0] and script.calls == 2,
              "429 rate_limit_exceeded with Retry-After: 2 → slept 2 s, then succeeded",
              f"429 with Retry-After: 2: result {describe(result)}, slept {slept}, calls {script.calls}; "
              "expected one sleep of 2 seconds, then 'ok'")

    script = _Script(make_error("server_error"), make_error("server_error"))
    result, error, slept = _run(fb, call_with_backoff, script)
    grows = len(slept) == 2 and 0 < slept[0] < slept[1]
    fb.expect(result == "ok" and grows,
              "two 500s → waited twice, longer the second time, then succeeded",
              f"two 500s: result {describe(result)}, slept {slept}; expected two waits, the second longer")

    script = _Script(make_error("insufficient_quota"))
    result, error, slept = _run(fb, call_with_backoff, script)
    fb.expect(isinstance(error, openai.RateLimitError) and script.calls == 1 and not slept,
              "insufficient_quota → gave up at once, error raised, no waiting",
              f"insufficient_quota: calls {script.calls}, slept {slept}, raised {describe(error)}; "
              "expected 1 call, no sleep, and the RateLimitError raised again")

    script = _Script(make_error("invalid_api_key"))
    result, error, slept = _run(fb, call_with_backoff, script)
    fb.expect(isinstance(error, openai.AuthenticationError) and script.calls == 1,
              "401 invalid_api_key → not retried, error raised",
              f"401: calls {script.calls}, raised {describe(error)}; a wrong key never gets better: raise it")

    script = _Script(*[make_error("overloaded")] * 5)
    result, error, slept = _run(fb, call_with_backoff, script, max_attempts=3)
    fb.expect(isinstance(error, openai.InternalServerError) and script.calls == 3,
              "always 503 with max_attempts=3 → 3 calls, then the error is raised",
              f"always 503, max_attempts=3: calls {script.calls}, raised {describe(error)}; "
              "expected exactly 3 calls and the last error raised")

"""Lesson 04's helpers: name any API error, say what to do next, and print the table learners keep.

Everything here is read from the sandbox's error catalogue (`keylab.sandbox.errors.CATALOGUE`),
which holds each case exactly as the real API sends it. This module adds only what the catalogue
cannot know: for each case, which of four things to do and the next step in plain words (`ADVICE`).

    try:
        client.chat.completions.create(...)
    except openai.APIStatusError as e:
        show(e)            # AuthenticationError 401 invalid_api_key + message + what to do
        explain(e)         # one line: diagnosis and next step
    print(failure_table()) # status → exception → code → what to do, for every catalogued case
"""

from __future__ import annotations

import re
import string
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import openai

from keylab.labs.feedback import redact
from keylab.platform_facts import API_KEYS_URL, BILLING_URL, LIMITS_URL
from keylab.pricing import COURSE_MODEL
from keylab.sandbox.errors import CATALOGUE, ErrorSpec

# What a learner does about an error. The lab's `classify_error` returns one of these.
RETRY = "retry"
FIX_KEY = "fix the key"
FIX_BILLING = "fix billing"
FIX_REQUEST = "fix the request"
CATEGORIES = (RETRY, FIX_KEY, FIX_BILLING, FIX_REQUEST)


@dataclass(frozen=True)
class Advice:
    """What to do about one catalogued error: a category, a diagnosis, a short and a full next step."""

    category: str
    diagnosis: str
    todo: str  # a few words, for the table
    next_step: str  # one sentence, for explain()


_KEY_AGAIN = (
    f"copy the key again from {API_KEYS_URL} (or create a new one) into .env, with no spaces or curly "
    "quotes around it, then run `python3 course.py doctor`"
)
_READ_PARAM = "read the message and e.param: they name the parameter to fix; retrying the same request fails again"

ADVICE: dict[str, Advice] = {
    # --- 401: the key
    "missing_api_key": Advice(
        FIX_KEY, "no API key reached the server", "send a key: load .env first",
        "call load_env() before OpenAI(), and check that OPENAI_API_KEY is set (keylab.status())"),
    "invalid_api_key": Advice(
        FIX_KEY, "the API does not know this key (mistyped, cut off, quoted, revoked or from elsewhere)",
        "copy the key again, exactly", _KEY_AGAIN),
    "real_key_in_sandbox": Advice(
        FIX_KEY, "a real OpenAI key was sent to the sandbox (it was not used)",
        "use the sandbox key here",
        "put the sandbox key in OPENAI_API_KEY to practise, or remove OPENAI_BASE_URL to call the real API"),
    "missing_scopes": Advice(
        FIX_KEY, "this restricted key lacks a permission the call needs", "give the key that permission",
        "edit the key's permissions on the API keys page (the message names the missing scope), "
        "or use a key with All permissions"),
    "missing_admin_scopes": Advice(
        FIX_KEY, "this endpoint needs an admin key, not a project key", "use an admin key",
        "call /organization endpoints with an admin key (OpenAI(admin_api_key=...), or OPENAI_ADMIN_KEY)"),
    "mismatched_organization": Advice(
        FIX_KEY, "the OpenAI-Organization header names another organization than the key's",
        "fix or remove OPENAI_ORG_ID", "remove OPENAI_ORG_ID (or organization=...) or set it to the key's organization"),
    "mismatched_project": Advice(
        FIX_KEY, "the OpenAI-Project header names another project than the key's",
        "fix or remove OPENAI_PROJECT_ID", "remove OPENAI_PROJECT_ID (or project=...) or set it to the key's project"),
    # --- 4xx: the request
    "model_not_found": Advice(
        FIX_REQUEST, "that model name is misspelt, shut down, or not enabled for this project",
        "fix the model name", "check the spelling against client.models.list(); a shut-down model needs its "
        "replacement (see the deprecations page)"),
    "invalid_json": Advice(FIX_REQUEST, "the body is not valid JSON", "send valid JSON",
                           "send the body with json=... (httpx) or use the SDK, which does it for you"),
    "missing_model": Advice(FIX_REQUEST, "the request names no model", "add model=...",
                            "pass model=COURSE_MODEL (or another model from client.models.list())"),
    "missing_required_parameter": Advice(FIX_REQUEST, "a required parameter is missing", "add the parameter",
                                         _READ_PARAM),
    "unknown_parameter": Advice(FIX_REQUEST, "a parameter this endpoint does not know was sent",
                                "remove or rename it", _READ_PARAM + " (old code written for another SDK "
                                "version or endpoint is the usual cause)"),
    "invalid_type": Advice(FIX_REQUEST, "a parameter has the wrong type", "fix the parameter's type", _READ_PARAM),
    "invalid_value": Advice(FIX_REQUEST, "a parameter has a value the API does not accept",
                            "use a supported value", _READ_PARAM),
    "empty_array": Advice(FIX_REQUEST, "a list that needs items is empty", "send at least one item", _READ_PARAM),
    "integer_below_minimum": Advice(FIX_REQUEST, "a number is below its minimum", "raise the number",
                                    _READ_PARAM),
    "number_out_of_range": Advice(FIX_REQUEST, "a number is above its maximum", "lower the number", _READ_PARAM),
    "number_below_minimum": Advice(FIX_REQUEST, "a number is below its minimum", "raise the number", _READ_PARAM),
    "integer_above_maximum": Advice(FIX_REQUEST, "a number is above its maximum", "lower the number", _READ_PARAM),
    "admin_invalid_request": Advice(FIX_REQUEST, "the platform refused this admin request",
                                    "read the message", "the message says what to change"),
    "admin_object_not_found": Advice(FIX_REQUEST, "no object with that id exists in this organization",
                                     "check the id", "list the objects first and use an id from the list"),
    "project_not_found": Advice(FIX_REQUEST, "no project with that id exists in this organization",
                                "check the project id", "use an id from client.admin.organization.projects.list()"),
    "context_length_exceeded": Advice(
        FIX_REQUEST, "the prompt is longer than the model's context window", "send fewer tokens",
        "shorten the messages (or summarise older ones); count them first with keylab.count_messages"),
    "input_context_length_exceeded": Advice(
        FIX_REQUEST, "the input is longer than the model's context window", "send fewer tokens",
        "shorten the input (or drop older turns); count it first with keylab.count_text"),
    "unknown_url": Advice(
        FIX_REQUEST, "no endpoint lives at that URL (or not for that HTTP method)", "fix the URL",
        "check that OPENAI_BASE_URL ends in /v1 and that the path has no typo"),
    "response_not_found": Advice(FIX_REQUEST, "no stored response has that id", "check the response id",
                                 "use an id your own account created, with store=True (the default)"),
    "previous_response_not_found": Advice(
        FIX_REQUEST, "previous_response_id names a response that does not exist (or was not stored)",
        "check previous_response_id", "pass the id of a stored response from the same project"),
    # --- 429 that waiting does not fix
    "insufficient_quota": Advice(
        FIX_BILLING, "the key's organization has no credit left (or never had any)",
        "add credit; don't retry",
        f"add credit on the Billing page ({BILLING_URL}) of the organization this key belongs to; "
        "retrying will not help"),
    "credit_balance_exhausted": Advice(
        FIX_BILLING, "the organization's prepaid credit is used up", "add credit; don't retry",
        f"add credit on the Billing page ({BILLING_URL}); retrying will not help"),
    "organization_spend_limit_exceeded": Advice(
        FIX_BILLING, "the organization reached the monthly spend limit you set", "raise the limit or wait",
        f"raise the limit on {LIMITS_URL} or wait for next month; retrying will not help"),
    "project_spend_limit_exceeded": Advice(
        FIX_BILLING, "the project reached the monthly spend limit you set", "raise the limit or wait",
        f"raise the project's limit on {LIMITS_URL} or wait for next month; retrying will not help"),
    "request_too_large": Advice(
        FIX_REQUEST, "this one request is bigger than your tokens-per-minute limit", "send fewer tokens",
        "shorten the prompt or lower max_tokens; waiting will not help"),
    "request_body_too_large": Advice(
        FIX_REQUEST, "the request body is bigger than the server accepts", "send less",
        "split the text over several requests; retrying the same body will not help"),
    # --- 429 and 5xx that waiting does fix
    "rate_limit_requests": Advice(
        RETRY, "too many requests per minute for this model", "wait Retry-After, then retry",
        "wait the seconds in the Retry-After header and try again, backing off; slow down if it keeps happening"),
    "rate_limit_tokens": Advice(
        RETRY, "too many tokens per minute for this model", "wait Retry-After, then retry",
        "wait the seconds in the Retry-After header and try again; send fewer tokens per minute"),
    "server_error": Advice(
        RETRY, "the server failed; not your fault", "retry after a pause",
        "retry after a short pause (the SDK already retried twice); quote e.request_id if it keeps failing"),
    "overloaded": Advice(
        RETRY, "the server is busy; not your fault", "retry after a pause",
        "retry after a pause that grows each time (the SDK already retried twice)"),
}

# Errors that reach no catalogue entry: by status, then what to do.
_FALLBACK: dict[int, Advice] = {
    401: Advice(FIX_KEY, "the key was refused", "check the key", _KEY_AGAIN),
    403: Advice(FIX_KEY, "this key may not do that (region, organization policy or role)", "check access",
                "read the message; check the key's project, role and permissions"),
    429: Advice(RETRY, "too many requests", "wait, then retry", "wait the Retry-After seconds and retry"),
    500: Advice(RETRY, "the server failed; not your fault", "retry after a pause",
                "retry after a short pause; quote e.request_id if it keeps failing"),
}
_BAD_REQUEST = Advice(FIX_REQUEST, "the API refused the request itself", "fix the request", _READ_PARAM)


# ---------------------------------------------------------------- matching an error to the catalogue


def _template_regex(template: str) -> re.Pattern[str]:
    """`"Incorrect API key provided: {masked}. …"` → a regex where each field matches anything."""
    parts = []
    for literal, field_name, _, _ in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if field_name is not None:
            parts.append(".*?")
    return re.compile("".join(parts), re.DOTALL)


_PATTERNS = {name: _template_regex(spec.message) for name, spec in CATALOGUE.items()}
_LITERALS = {name: "".join(part[0] for part in string.Formatter().parse(spec.message))
             for name, spec in CATALOGUE.items()}


def server_message(e: openai.APIError) -> str:
    """The API's own message, without the SDK's "Error code: 401 - " prefix."""
    body = e.body
    if isinstance(body, Mapping) and isinstance(body.get("message"), str):
        return body["message"]
    return re.sub(r"^Error code: \d+ - ", "", e.message)


def find_spec(e: openai.APIStatusError) -> ErrorSpec | None:
    """The catalogue entry this error is an instance of, or None for an error the course does not know."""
    message = server_message(e)
    candidates = [
        spec for spec in CATALOGUE.values()
        if spec.status == e.status_code and spec.code == e.code and (e.type is None or spec.type == e.type)
    ]
    # The most specific wording first: a template like "{message}" matches anything.
    candidates.sort(key=lambda spec: -len(_LITERALS[spec.name]))
    for spec in candidates:
        if _PATTERNS[spec.name].fullmatch(message):
            return spec
    return candidates[0] if len(candidates) == 1 else None


def advice_for(e: BaseException) -> Advice:
    """What to do about any error the SDK raises."""
    if isinstance(e, openai.APIStatusError):
        spec = find_spec(e)
        if spec is not None and spec.name in ADVICE:
            return ADVICE[spec.name]
        if e.status_code == 429 and (e.type == "insufficient_quota" or e.code == "insufficient_quota"):
            return ADVICE["insufficient_quota"]
        if e.status_code >= 500:
            return _FALLBACK[500]
        return _FALLBACK.get(e.status_code, _BAD_REQUEST)
    if isinstance(e, openai.APITimeoutError):
        return Advice(RETRY, "the API did not answer in time", "retry after a pause",
                      "retry (the SDK already did); raise timeout=... for long answers")
    if isinstance(e, openai.APIConnectionError):
        return Advice(FIX_KEY, "no HTTP answer came back: the network, OPENAI_BASE_URL, or a key with a space "
                      "or newline in it (it cannot go into a header)", "check the URL and the key",
                      "run `python3 course.py doctor`: it checks the base URL and whitespace in the key")
    if isinstance(e, openai.OpenAIError) and "Missing credentials" in str(e):
        return Advice(FIX_KEY, "the SDK found no key, so it sent nothing", "load .env before OpenAI()",
                      "call load_env() before OpenAI(), and check that .env sets OPENAI_API_KEY")
    return Advice(FIX_REQUEST, f"{type(e).__name__} is not an API error", "read the traceback",
                  "this came from your code, not from the API: read the traceback")


def category(e: BaseException) -> str:
    """One of CATEGORIES: retry, fix the key, fix billing, fix the request."""
    return advice_for(e).category


def explain(e: BaseException) -> str:
    """One line: which error this is, what it means, and the next step."""
    advice = advice_for(e)
    if isinstance(e, openai.APIStatusError):
        head = f"{type(e).__name__} {e.status_code} {e.code or '(no code)'}"
    else:
        head = type(e).__name__
    return f"{head}: {advice.diagnosis}. Next step ({advice.category}): {advice.next_step}."


def show(e: BaseException) -> None:
    """Print what a learner needs from an API error: class, status, code, the API's message, what to do."""
    if isinstance(e, openai.APIStatusError):
        print(type(e).__name__, e.status_code, e.code)
        print("  message:", redact(server_message(e)))
    else:
        print(type(e).__name__, "(no HTTP status)")
        print("  message:", redact(str(e)))
    advice = advice_for(e)
    print(f"  what to do ({advice.category}): {advice.next_step}")


# ---------------------------------------------------------------- building errors and the table


_DEFAULT_FIELDS: dict[str, Any] = {
    "masked": "sk-proj-" + "*" * 20 + "abcd", "model": COURSE_MODEL, "org": "org-EXAMPLE", "limit": 3,
    "used": 3, "requested": 1, "wait": "20s", "scopes": "model.request", "param": "temperature",
    "expected": "a number", "got": "a string", "value": "robot", "supported": "'user', 'assistant'",
    "minimum": 1, "maximum": 2, "tokens": 2_000_000, "method": "POST", "path": "/v1/chat/completion",
    "id": "resp_EXAMPLE",
}
_EXAMPLE_REQUEST_ID = "req_" + "0" * 32


def sdk_http() -> Any:
    """The HTTP library the installed SDK builds its responses with (httpx2 in openai 3.x)."""
    try:
        import httpx2

        return httpx2
    except ImportError:  # pragma: no cover - older SDKs use httpx
        import httpx

        return httpx


def make_error(name: str, *, headers: Mapping[str, str] | None = None, **fields: Any) -> openai.APIStatusError:
    """The exception the SDK raises when the API answers with catalogue case `name`.

    Built by the SDK itself from the exact body and status the sandbox (and the real API) send, so
    class, `status_code`, `code`, `type`, `message` and `response.headers` are the real ones.
    Rate-limit cases carry a `retry-after` header unless `headers` says otherwise.
    """
    spec = CATALOGUE[name]
    wanted = {f for _, f, _, _ in string.Formatter().parse(spec.message) if f}
    values = {**{f: f"<{f}>" for f in wanted}, **_DEFAULT_FIELDS, **fields}
    sent = {"x-request-id": _EXAMPLE_REQUEST_ID}
    if spec.retry_after:
        sent.update({"retry-after": "20", "x-ratelimit-limit-requests": "3",
                     "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "20s"})
    sent.update(headers or {})
    http = sdk_http()
    request = http.Request("POST", "https://api.openai.com/v1/chat/completions")
    response = http.Response(spec.status, json=spec.body(**values), headers=sent, request=request)
    return _StatusErrors()._make_status_error_from_response(response)


class _StatusErrors:
    """The SDK's own status → exception mapping, borrowed without creating a client: a client kept
    alive here would show up in load_env()'s and the doctor's (KD003) checks for stale clients."""

    _make_status_error_from_response = openai.OpenAI._make_status_error_from_response
    _make_status_error = openai.OpenAI._make_status_error


@dataclass(frozen=True)
class Row:
    """One line of the table: a catalogued case and what to do about it."""

    status: int
    exception: str
    code: str | None
    case: str
    category: str
    todo: str


def table_rows() -> list[Row]:
    """One row per catalogued error case, by status; the exception class is the one the SDK raises."""
    rows = []
    for name, spec in CATALOGUE.items():
        error = make_error(name)
        advice = ADVICE.get(name) or advice_for(error)
        rows.append(Row(spec.status, type(error).__name__, spec.code, name, advice.category, advice.todo))
    order = {c: i for i, c in enumerate(CATEGORIES)}
    return sorted(rows, key=lambda r: (r.status, order.get(r.category, 9), r.code or "", r.case))


class FailureTable(list):  # list of Row
    """The table learners keep; prints as plain text that fits a notebook's width (WIDTH characters):
    one heading per status and exception class, then each error code with what to do."""

    WIDTH = 80
    NO_CODE = "(no code)"

    def __str__(self) -> str:
        code_width = max((len(r.code or self.NO_CODE) for r in self), default=0)
        indent = 2
        room = max(20, self.WIDTH - indent - code_width - 2)
        lines = [f"{'status and exception, then each e.code':<{indent + code_width}}  what to do",
                 "-" * min(self.WIDTH, indent + code_width + 2 + room)]
        group: tuple[int, str] | None = None
        seen: set[tuple[str, str]] = set()
        for r in self:
            if (r.status, r.exception) != group:
                group, seen = (r.status, r.exception), set()
                lines.append(f"{r.status} {r.exception}")
            code, what = r.code or self.NO_CODE, f"{r.category}: {r.todo}"
            if (code, what) in seen:  # two cases that read the same to a learner (e.g. RPM and TPM limits)
                continue
            seen.add((code, what))
            wrapped = textwrap.wrap(what, room) or [""]
            lines.append(f"{' ' * indent}{code:<{code_width}}  {wrapped[0]}")
            lines += [" " * (indent + code_width + 2) + more for more in wrapped[1:]]
        return "\n".join(lines)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


def failure_table() -> FailureTable:
    """status → exception → code → what to do, generated from the catalogue and `ADVICE`."""
    return FailureTable(table_rows())


__all__ = [
    "ADVICE",
    "CATEGORIES",
    "FIX_BILLING",
    "FIX_KEY",
    "FIX_REQUEST",
    "RETRY",
    "Advice",
    "FailureTable",
    "Row",
    "advice_for",
    "category",
    "explain",
    "failure_table",
    "find_spec",
    "make_error",
    "sdk_http",
    "server_message",
    "show",
    "table_rows",
]

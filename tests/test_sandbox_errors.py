"""Every error the sandbox can send on /v1, seen through the official SDK as a learner sees it.

Each case triggers one entry of the error catalogue (`keylab.sandbox.errors.CATALOGUE`) against a
real sandbox and checks what the SDK raises: the exception class for the status, and the exact
`status_code`, `code`, `type`, `param` and message the real API would send (facts.md B1-B5).
`test_every_catalogue_entry_is_triggered` keeps this file and the catalogue in step: a new entry
without a test fails the suite.
"""

from __future__ import annotations

import logging
import re
import secrets
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI

from keylab.keys import REAL_MARKER, generate_sandbox_key
from keylab.sandbox import SandboxServer
from keylab.sandbox.accounts import create_key
from keylab.sandbox.client import ControlClient
from keylab.sandbox.clock import Clock
from keylab.sandbox.errors import CATALOGUE
from keylab.sandbox.store import Store

MODEL = "gpt-6-luna"
HELLO = [{"role": "user", "content": "hello"}]
CHAT = "/v1/chat/completions"

STATUS_CLASS: dict[int, type[openai.APIStatusError]] = {
    400: openai.BadRequestError,
    401: openai.AuthenticationError,
    403: openai.PermissionDeniedError,
    404: openai.NotFoundError,
    413: openai.APIStatusError,  # no class of its own in the SDK
    429: openai.RateLimitError,
    500: openai.InternalServerError,
    503: openai.InternalServerError,
}
REQUEST_ID = re.compile(r"req_[0-9a-f]{32}")


def sdk(sandbox: SandboxServer, api_key: str, **kwargs: Any) -> OpenAI:
    """The official SDK as a learner builds it: no retries, strict response parsing."""
    return OpenAI(api_key=api_key, base_url=sandbox.base_url, max_retries=0,
                  _strict_response_validation=True, **kwargs)


def expect(exc: openai.APIStatusError, entry: str, **fields: Any) -> None:
    """`exc` is exactly what the real API's `entry` error looks like through the SDK."""
    spec = CATALOGUE[entry]
    body = spec.body(**fields)["error"]
    assert type(exc) is STATUS_CLASS[spec.status], f"{entry}: got {type(exc).__name__}"
    assert exc.status_code == spec.status
    assert exc.code == spec.code
    assert exc.type == spec.type
    assert exc.param == body["param"]
    assert exc.body == body, "the error body differs from the catalogue's message"
    assert exc.message == f"Error code: {spec.status} - {body['message']}"
    assert REQUEST_ID.fullmatch(exc.request_id or ""), exc.request_id
    assert list(exc.body) == ["message", "type", "param", "code"], "key order as the real API sends it"


def raises(call: Callable[[], Any]) -> openai.APIStatusError:
    with pytest.raises(openai.APIStatusError) as info:
        call()
    return info.value


def masked(key: str) -> str:
    """The real API's masking, written out independently of keylab.keys: 8, stars, 4."""
    return key[:8] + "*" * (len(key) - 12) + key[-4:]


# ---------------------------------------------------------------------------------------------
# Request-shape errors: one table, each row a catalogue entry and the SDK call that triggers it.


@dataclass(frozen=True)
class Case:
    entry: str
    call: Callable[[OpenAI], Any]
    fields: dict[str, Any]


def _post(body: Any = None, content: bytes | None = None) -> Callable[[OpenAI], Any]:
    """A raw POST through the SDK's own client (for bodies its typed methods will not build)."""
    def call(client: OpenAI) -> Any:
        if content is not None:
            return client.post("/chat/completions", content=content, cast_to=object,
                               options={"headers": {"Content-Type": "application/json"}})
        return client.post("/chat/completions", body=body, cast_to=object)
    return call


def _chat(**kwargs: Any) -> Callable[[OpenAI], Any]:
    params = {"model": MODEL, "messages": HELLO, **kwargs}
    return lambda client: client.chat.completions.create(**params)


CASES = {
    "unknown-model": Case("model_not_found", _chat(model="gpt-nope"), {"model": "gpt-nope"}),
    "shut-down-model": Case("model_not_found", _chat(model="o1"), {"model": "o1"}),
    "shut-down-model-retrieve": Case("model_not_found", lambda c: c.models.retrieve("o1"), {"model": "o1"}),
    "malformed-json": Case("invalid_json", _post(content=b'{"model": "gpt-6-luna", "messages": ['), {}),
    "json-not-an-object": Case("invalid_json", _post(content=b"[1, 2]"), {}),
    "nan-is-not-json": Case("invalid_json", _post(content=b'{"model": "gpt-6-luna", "temperature": NaN}'), {}),
    "lone-surrogate": Case("invalid_json", _post(content=b'{"model": "gpt-6-luna", "user": "\\ud800"}'), {}),
    "missing-model": Case("missing_model", _post({"messages": HELLO}), {}),
    "missing-messages": Case("missing_required_parameter", _post({"model": MODEL}), {"param": "messages"}),
    "missing-role": Case("missing_required_parameter", _chat(messages=[{"content": "hi"}]),
                         {"param": "messages[0].role"}),
    "unknown-parameter": Case("unknown_parameter", _chat(extra_body={"temprature": 1}), {"param": "temprature"}),
    "invalid-type": Case("invalid_type", _chat(n="2"),
                         {"param": "n", "expected": "an integer", "got": "a string"}),
    "invalid-type-bool-as-number": Case("invalid_type", _chat(temperature=True),
                                        {"param": "temperature", "expected": "a number", "got": "a boolean"}),
    "invalid-type-model": Case("invalid_type", _post({"model": 4, "messages": HELLO}),
                               {"param": "model", "expected": "a string", "got": "an integer"}),
    "invalid-role": Case("invalid_value", _chat(messages=[{"role": "robot", "content": "hi"}]),
                         {"param": "messages[0].role", "value": "robot",
                          "supported": "'system', 'assistant', 'user', 'function', 'tool', 'developer'"}),
    "empty-messages": Case("empty_array", _chat(messages=[]), {"param": "messages"}),
    "max-tokens-zero": Case("integer_below_minimum", _chat(max_tokens=0),
                            {"param": "max_tokens", "minimum": 1, "got": 0}),
    "n-too-large": Case("integer_above_maximum", _chat(n=129), {"param": "n", "maximum": 128, "got": 129}),
    "temperature-negative": Case("number_below_minimum", _chat(temperature=-0.5),
                                 {"param": "temperature", "minimum": 0, "got": -0.5}),
    "temperature-too-high": Case("number_out_of_range", _chat(temperature=2.5),
                                 {"param": "temperature", "maximum": 2, "got": 2.5}),
    "unknown-url": Case("unknown_url", lambda c: c.post("/nope", body={}, cast_to=object),
                        {"method": "POST", "path": "/v1/nope"}),
    "wrong-method": Case("unknown_url", lambda c: c.put("/chat/completions", body={}, cast_to=object),
                         {"method": "PUT", "path": CHAT}),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_request_errors(client: OpenAI, case: Case) -> None:
    """Bad requests get the real API's 4xx, so the SDK raises the class and fields a learner reads."""
    expect(raises(lambda: case.call(client)), case.entry, **case.fields)


def test_context_length_exceeded(client: OpenAI) -> None:
    """A prompt longer than the model's window is refused before anything is billed."""
    words = 900_000  # > the 400,000-token window of gpt-5.4-mini, counted exactly (1/word) or roughly (4 chars)
    exc = raises(lambda: client.chat.completions.create(
        model="gpt-5.4-mini", messages=[{"role": "user", "content": "a " * words}]))
    assert exc.status_code == 400 and exc.code == "context_length_exceeded" and exc.param == "messages"
    tokens = int(re.search(r"resulted in (\d+) tokens", exc.message).group(1))  # type: ignore[union-attr]
    expect(exc, "context_length_exceeded", limit=400_000, tokens=tokens)


# ---------------------------------------------------------------------------------------------
# Authentication


def test_missing_key(sandbox: SandboxServer) -> None:
    """No Authorization header: 401 with code null. Sent with raw httpx (the SDK refuses to send
    without a key), and, as on the real API, an unauthenticated 401 names no organization and
    carries no rate-limit headers."""
    response = httpx.post(sandbox.base_url + "/chat/completions", json={"model": MODEL, "messages": HELLO})
    assert response.status_code == 401
    assert response.json() == CATALOGUE["missing_api_key"].body()
    assert REQUEST_ID.fullmatch(response.headers["x-request-id"])
    assert "openai-organization" not in response.headers
    assert not [name for name in response.headers if name.startswith("x-ratelimit-")]


def test_wrong_key_is_masked_like_openai(sandbox: SandboxServer) -> None:
    """An unknown key gets 'Incorrect API key provided: sk-proj-****…abcd' (first 8, stars, last 4)."""
    key = generate_sandbox_key()
    exc = raises(lambda: sdk(sandbox, key).models.list())
    expect(exc, "invalid_api_key", masked=masked(key))
    assert key not in exc.message and masked(key) in exc.message


def test_revoked_key(sandbox: SandboxServer, account: dict[str, Any]) -> None:
    """A key revoked in the database stops working at the next request (no key caching)."""
    client = sdk(sandbox, account["api_key"])
    client.models.list()
    with Store(sandbox.data_dir) as store, store.transaction() as db:
        db.execute("UPDATE api_keys SET revoked_at = 1 WHERE id = ?", (account["api_key_id"],))
    expect(raises(client.models.list), "invalid_api_key", masked=masked(account["api_key"]))


def test_real_key_is_refused_and_never_kept(sandbox: SandboxServer, caplog: pytest.LogCaptureFixture,
                                            capfd: pytest.CaptureFixture[str]) -> None:
    """A real-format key gets a 401 saying it looks real; it reaches neither the database nor the logs.

    The key is assembled at run time so no key-shaped string with the real marker is in the repo.
    """
    alphabet = string.ascii_letters + string.digits
    body = "".join(secrets.choice(alphabet) for _ in range(148))
    key = "sk-proj-" + body[:74] + REAL_MARKER + body[74:]
    with caplog.at_level(logging.DEBUG):
        exc = raises(lambda: sdk(sandbox, key).chat.completions.create(model=MODEL, messages=HELLO))
    expect(exc, "real_key_in_sandbox", masked=masked(key))
    assert "looks like a real OpenAI API key" in exc.message
    stored = b"".join(path.read_bytes() for path in sandbox.data_dir.iterdir() if path.is_file())
    for secret in (key, body[:74], body[74:]):
        assert secret.encode() not in stored, "part of the real key reached the data dir"
    out, err = capfd.readouterr()
    for text in (caplog.text, out, err):
        assert body[:74] not in text and body[74:] not in text, "part of the real key reached the logs"


def test_read_only_key_lacks_model_request_scope(sandbox: SandboxServer, account: dict[str, Any]) -> None:
    """A Read Only key may list models but not call one: 401 'Missing scopes: model.request'."""
    with Store(sandbox.data_dir) as store:
        _, key = create_key(store, Clock(store), org_id=account["organization_id"],
                            project_id=account["project_id"], name="read only", permission="read_only")
    client = sdk(sandbox, key)
    assert client.models.list().data
    exc = raises(lambda: client.chat.completions.create(model=MODEL, messages=HELLO))
    expect(exc, "missing_scopes", scopes="model.request")


def test_admin_key_cannot_call_models(sandbox: SandboxServer, account: dict[str, Any]) -> None:
    """An admin key manages the organization; a model call with it is refused for a missing scope."""
    exc = raises(lambda: sdk(sandbox, account["admin_key"]).chat.completions.create(model=MODEL, messages=HELLO))
    expect(exc, "missing_scopes", scopes="model.request")


@pytest.mark.parametrize(("option", "entry"), [("organization", "mismatched_organization"),
                                               ("project", "mismatched_project")])
def test_mismatched_headers(sandbox: SandboxServer, account: dict[str, Any], option: str, entry: str) -> None:
    """OPENAI_ORG_ID / OPENAI_PROJECT_ID that do not match the key: 401 (a classic stale-env trap)."""
    client = sdk(sandbox, account["api_key"], **{option: "org-wrong" if option == "organization" else "proj_wrong"})
    expect(raises(client.models.list), entry)


def test_project_key_on_admin_endpoint(sandbox: SandboxServer, account: dict[str, Any]) -> None:
    """A project key on an organization endpoint: 401 'Missing scopes: api.usage.read'."""
    response = httpx.get(sandbox.base_url + "/organization/costs", params={"start_time": 0},
                         headers={"Authorization": f"Bearer {account['api_key']}"})
    if response.json()["error"]["code"] == "unknown_url":
        pytest.skip("the admin routes (keylab.sandbox.admin) are not installed in this tree")
    assert response.status_code == 401
    assert response.json() == CATALOGUE["missing_admin_scopes"].body(scopes="api.usage.read")


def _skip_unless_routed(exc: openai.APIStatusError, owner: str) -> None:
    """Entries raised by modules other engineers own are tested once their routes are mounted."""
    if exc.code == "unknown_url":
        pytest.skip(f"the routes of {owner} are not mounted in this tree")


def test_unknown_response_id(client: OpenAI) -> None:
    """GET /v1/responses/{id} for an id that was never created: 404 naming response_id."""
    exc = raises(lambda: client.responses.retrieve("resp_doesnotexist"))
    _skip_unless_routed(exc, "keylab.sandbox.api.responses")
    expect(exc, "response_not_found", id="resp_doesnotexist")


def test_unknown_previous_response(client: OpenAI) -> None:
    """Chaining onto a response id that does not exist: 400 previous_response_not_found."""
    exc = raises(lambda: client.responses.create(model=MODEL, input="hi", previous_response_id="resp_nope"))
    _skip_unless_routed(exc, "keylab.sandbox.api.responses")
    expect(exc, "previous_response_not_found", id="resp_nope")


def test_responses_input_too_long(client: OpenAI) -> None:
    """The Responses API words an over-long input differently from Chat Completions."""
    exc = raises(lambda: client.responses.create(model="gpt-5.4-mini", input="a " * 900_000))
    _skip_unless_routed(exc, "keylab.sandbox.api.responses")
    expect(exc, "input_context_length_exceeded")


@pytest.fixture
def admin_sdk(sandbox: SandboxServer, account: dict[str, Any]) -> OpenAI:
    return OpenAI(admin_api_key=account["admin_key"], base_url=sandbox.base_url, max_retries=0,
                  _strict_response_validation=True)


def test_admin_unknown_project(admin_sdk: OpenAI) -> None:
    """An admin call naming a project the organization does not have: 404."""
    exc = raises(lambda: admin_sdk.admin.organization.projects.retrieve("proj_nope"))
    _skip_unless_routed(exc, "keylab.sandbox.admin")
    expect(exc, "project_not_found", project_id="proj_nope")


def test_admin_unknown_object(admin_sdk: OpenAI) -> None:
    """An admin call naming an admin key that does not exist: 404 '… with id … not found.'."""
    exc = raises(lambda: admin_sdk.admin.organization.admin_api_keys.retrieve("key_nope"))
    _skip_unless_routed(exc, "keylab.sandbox.admin")
    expect(exc, "admin_object_not_found", kind="Admin API key", id="key_nope")


def test_admin_refused_request(admin_sdk: OpenAI, account: dict[str, Any]) -> None:
    """An admin request the platform refuses (archiving the default project): 400."""
    exc = raises(lambda: admin_sdk.admin.organization.projects.archive(account["project_id"]))
    _skip_unless_routed(exc, "keylab.sandbox.admin")
    expect(exc, "admin_invalid_request", message="The default project cannot be archived.")


# ---------------------------------------------------------------------------------------------
# Credit and spend


def test_no_credit_is_insufficient_quota(sandbox: SandboxServer, control: ControlClient) -> None:
    """A new account without credit: 429 insufficient_quota, which the SDK raises as RateLimitError
    (learners mistake it for a rate limit; facts.md pain point 1). No Retry-After: waiting won't help."""
    account = control.create_account(credits_usd=0)
    exc = raises(lambda: sdk(sandbox, account["api_key"]).chat.completions.create(model=MODEL, messages=HELLO))
    expect(exc, "insufficient_quota")
    assert "retry-after" not in exc.response.headers


@pytest.fixture
def quota_variant(control: ControlClient) -> Iterator[Callable[[str], None]]:
    yield lambda variant: control.set_quota_error(variant) and None
    control.set_quota_error("insufficient_quota")


def test_credit_balance_exhausted_variant(sandbox: SandboxServer, control: ControlClient,
                                          quota_variant: Callable[[str], None]) -> None:
    """The 2026 variant of the same 429 (code credit_balance_exhausted), switched on by the operator."""
    quota_variant("credit_balance_exhausted")
    account = control.create_account(credits_usd=0)
    exc = raises(lambda: sdk(sandbox, account["api_key"]).chat.completions.create(model=MODEL, messages=HELLO))
    expect(exc, "credit_balance_exhausted")


@pytest.mark.parametrize("scope", ["organization", "project"])
def test_spend_limit_reached(sandbox: SandboxServer, account: dict[str, Any], scope: str) -> None:
    """A monthly hard limit already reached: 429 {scope}_spend_limit_exceeded (type insufficient_quota)."""
    scope_id = account["organization_id"] if scope == "organization" else account["project_id"]
    with Store(sandbox.data_dir) as store, store.transaction() as db:
        db.execute("INSERT INTO spend_limits (scope, scope_id, threshold_cents, created_at) VALUES (?, ?, 0, 0)",
                   (scope, scope_id))
    exc = raises(lambda: sdk(sandbox, account["api_key"]).chat.completions.create(model=MODEL, messages=HELLO))
    expect(exc, f"{scope}_spend_limit_exceeded", limit="$0.000000")


# ---------------------------------------------------------------------------------------------
# Rate limits


@pytest.fixture
def frozen_clock(control: ControlClient) -> Iterator[None]:
    """Stop the sandbox clock so the buckets do not drain between requests: exact numbers."""
    control.freeze_clock(True)
    yield
    control.freeze_clock(False)


def _spend_requests(client: OpenAI, count: int, **kwargs: Any) -> None:
    for _ in range(count):
        client.chat.completions.create(model=MODEL, messages=HELLO, **kwargs)


def test_key_requests_per_minute(sandbox: SandboxServer, control: ControlClient, account: dict[str, Any],
                                 frozen_clock: None) -> None:
    """RPM 3 on a key: the 4th request in the minute gets the real API's 429, 'try again in 20s'."""
    control.set_key_limits(account["api_key_id"], rpm=3)
    client = sdk(sandbox, account["api_key"])
    _spend_requests(client, 3)
    exc = raises(lambda: client.chat.completions.create(model=MODEL, messages=HELLO))
    expect(exc, "rate_limit_requests", model=MODEL, org=account["organization_id"], limit=3, used=3, wait="20s")
    assert "Please try again in 20s." in exc.message
    headers = exc.response.headers
    assert headers["retry-after"] == "20"
    assert headers["x-ratelimit-limit-requests"] == "3"
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert headers["x-ratelimit-reset-requests"] == "1m0s"


def test_project_requests_per_minute(sandbox: SandboxServer, account: dict[str, Any], frozen_clock: None) -> None:
    """A project's per-model RPM (set as the admin API would, in project_rate_limits) applies to every key."""
    with Store(sandbox.data_dir) as store, store.transaction() as db:
        db.execute("INSERT INTO project_rate_limits (project_id, model, max_requests_per_1_minute,"
                   " max_tokens_per_1_minute) VALUES (?, ?, 2, 100000)", (account["project_id"], MODEL))
    client = sdk(sandbox, account["api_key"])
    _spend_requests(client, 2)
    exc = raises(lambda: client.chat.completions.create(model=MODEL, messages=HELLO))
    expect(exc, "rate_limit_requests", model=MODEL, org=account["organization_id"], limit=2, used=2, wait="30s")
    assert exc.response.headers["retry-after"] == "30"


def test_tokens_per_minute(sandbox: SandboxServer, control: ControlClient, account: dict[str, Any],
                           frozen_clock: None) -> None:
    """TPM counts prompt plus the most the answer may use; a request that no longer fits gets type tokens."""
    client = sdk(sandbox, account["api_key"])
    first = client.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=5)
    assert first.usage is not None
    requested = first.usage.prompt_tokens + 5
    used = first.usage.total_tokens
    control.set_key_limits(account["api_key_id"], tpm=used + requested - 1)
    exc = raises(lambda: client.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=5))
    limit = used + requested - 1
    wait = (used + requested - limit) * 60 / limit
    from keylab.sandbox.ratelimit import go_duration

    expect(exc, "rate_limit_tokens", model=MODEL, org=account["organization_id"], limit=limit, used=used,
           requested=requested, wait=go_duration(wait))
    assert exc.type == "tokens" and int(exc.response.headers["retry-after"]) >= 1


def test_request_too_large(sandbox: SandboxServer, control: ControlClient, account: dict[str, Any]) -> None:
    """One request larger than the whole TPM limit can never fit: 'Request too large', no Retry-After."""
    control.set_key_limits(account["api_key_id"], tpm=10)
    client = sdk(sandbox, account["api_key"])
    exc = raises(lambda: client.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=20))
    requested = int(re.search(r"Requested (\d+)", exc.message).group(1))  # type: ignore[union-attr]
    assert requested > 10
    expect(exc, "request_too_large", model=MODEL, org=account["organization_id"], limit=10, requested=requested)
    assert "retry-after" not in exc.response.headers


def test_request_body_too_large(sandbox: SandboxServer, account: dict[str, Any]) -> None:
    """A body over the cap is refused with 413 before it is read (the SDK raises APIStatusError)."""
    from keylab.sandbox.api.common import MAX_BODY_BYTES

    client = sdk(sandbox, account["api_key"])
    huge = "word " * (MAX_BODY_BYTES // 5 + 1)
    exc = raises(lambda: client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": huge}]))
    expect(exc, "request_body_too_large", limit=MAX_BODY_BYTES)


# ---------------------------------------------------------------------------------------------
# Faults staged through the control plane


@pytest.mark.parametrize(("kind", "status"), [("server_error", 500), ("overloaded", 503)])
def test_injected_fault(client: OpenAI, control: ControlClient, kind: str, status: int) -> None:
    """A staged 5xx reaches the SDK as InternalServerError; the next request succeeds again."""
    control.inject_fault(kind, path=CHAT)
    exc = raises(lambda: client.chat.completions.create(model=MODEL, messages=HELLO))
    expect(exc, kind)
    assert exc.status_code == status
    assert client.chat.completions.create(model=MODEL, messages=HELLO).choices


def test_error_in_the_middle_of_a_stream(client: OpenAI, control: ControlClient) -> None:
    """A stream that breaks off sends an error event; the SDK raises openai.APIError while iterating,
    after some content has already arrived (facts.md B8)."""
    control.inject_fault("stream_error", path=CHAT)
    received: list[str] = []
    with pytest.raises(openai.APIError) as info:  # noqa: PT012 - the error comes while iterating
        for chunk in client.chat.completions.create(model=MODEL, messages=HELLO, stream=True):
            if chunk.choices and chunk.choices[0].delta.content:
                received.append(chunk.choices[0].delta.content)
    assert not isinstance(info.value, openai.APIStatusError)
    assert received, "the error should come after the first tokens"
    assert info.value.body == CATALOGUE["server_error"].body()["error"]
    assert info.value.type == "server_error"


# ---------------------------------------------------------------------------------------------

# Entries triggered by a dedicated test above (the table CASES adds its own).
DEDICATED = {
    "context_length_exceeded": test_context_length_exceeded,
    "missing_api_key": test_missing_key,
    "invalid_api_key": test_wrong_key_is_masked_like_openai,
    "real_key_in_sandbox": test_real_key_is_refused_and_never_kept,
    "missing_scopes": test_read_only_key_lacks_model_request_scope,
    "mismatched_organization": test_mismatched_headers,
    "mismatched_project": test_mismatched_headers,
    "missing_admin_scopes": test_project_key_on_admin_endpoint,
    "response_not_found": test_unknown_response_id,
    "previous_response_not_found": test_unknown_previous_response,
    "input_context_length_exceeded": test_responses_input_too_long,
    "project_not_found": test_admin_unknown_project,
    "admin_object_not_found": test_admin_unknown_object,
    "admin_invalid_request": test_admin_refused_request,
    "insufficient_quota": test_no_credit_is_insufficient_quota,
    "credit_balance_exhausted": test_credit_balance_exhausted_variant,
    "organization_spend_limit_exceeded": test_spend_limit_reached,
    "project_spend_limit_exceeded": test_spend_limit_reached,
    "rate_limit_requests": test_key_requests_per_minute,
    "rate_limit_tokens": test_tokens_per_minute,
    "request_too_large": test_request_too_large,
    "request_body_too_large": test_request_body_too_large,
    "server_error": test_injected_fault,
    "overloaded": test_injected_fault,
}
# Entries no /v1 request can trigger, with the reason. Keep this empty unless a reason is real.
EXCLUDED: dict[str, str] = {}


def test_every_catalogue_entry_is_triggered() -> None:
    """Each catalogue entry is exercised by a test here or excluded with a reason, and nothing else."""
    covered = {case.entry for case in CASES.values()} | set(DEDICATED)
    assert not covered & set(EXCLUDED), "an entry is both tested and excluded"
    missing = set(CATALOGUE) - covered - set(EXCLUDED)
    assert not missing, f"catalogue entries no test triggers: {sorted(missing)}"
    assert not (covered | set(EXCLUDED)) - set(CATALOGUE), "tests name entries the catalogue lacks"


def test_lazily_loaded_pages_route_like_the_others(sandbox: SandboxServer) -> None:
    """The dashboard's routes are imported on first use (`app._LazyRoutes`) yet match as if listed in
    place: a known page with a method it does not take is a 405, an unknown page a 404, and a /v1
    path no route takes still gets the API's JSON 404."""
    assert httpx.delete(sandbox.url + "/api-keys").status_code == 405
    assert httpx.get(sandbox.url + "/no-such-page").status_code == 404
    missing = httpx.get(sandbox.base_url + "/no-such-endpoint")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "unknown_url"

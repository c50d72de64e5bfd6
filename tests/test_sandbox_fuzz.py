"""Fuzzing /v1/chat/completions: no body, value or header may produce a 5xx or kill the server.

A dedicated sandbox (its own data dir, limits raised so the fuzzer is never rate limited) takes
random JSON for each known parameter, random junk bodies and random headers over raw httpx.
Every answer must be a 2xx or a 4xx in the real API's error envelope. Bounded to stay fast:
150 examples per property, no deadline (a slow CI box is not a bug), no example database.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keylab.sandbox import SandboxServer, serve_in_background
from keylab.sandbox.api.chat import PARAMS
from keylab.sandbox.client import ControlClient
from keylab.sandbox.store import Store

MODEL = "gpt-6-luna"
BASE = {"model": MODEL, "messages": [{"role": "user", "content": "hello"}]}
FUZZ = settings(max_examples=150, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
# printable ASCII, no surrounding blanks (an HTTP client refuses to send those at all)
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60).map(str.strip)


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SandboxServer, str, httpx.Client]]:
    data_dir: Path = tmp_path_factory.mktemp("fuzz-sandbox")
    with serve_in_background(data_dir) as server:
        account = ControlClient(server.url, server.operator_token).create_account(credits_usd="1000")
        store = Store(data_dir)
        with store.transaction() as db:
            for model in ("gpt-6-luna", "gpt-5.4-mini"):
                db.execute("INSERT INTO project_rate_limits (project_id, model, max_requests_per_1_minute,"
                           " max_tokens_per_1_minute) VALUES (?, ?, 1000000, 1000000000)",
                           (account["project_id"], model))
        store.close()
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            yield server, account["api_key"], http


def _check(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text[:500]
    if response.status_code >= 400:
        error = response.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}
        assert isinstance(error["message"], str) and error["message"]


@FUZZ
@given(name=st.sampled_from(sorted(PARAMS)), value=json_values)
def test_random_value_for_each_parameter(fuzz_target: tuple[SandboxServer, str, httpx.Client], name: str,
                                         value: Any) -> None:
    _, key, http = fuzz_target
    body = {**BASE, name: value}
    response = http.post("/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})
    _check(response)


@FUZZ
@given(body=st.one_of(st.binary(max_size=300), json_values.map(lambda v: json.dumps(v).encode()),
                      st.dictionaries(st.sampled_from(sorted(PARAMS)), json_values, max_size=6)
                      .map(lambda d: json.dumps({**BASE, **d}).encode())))
def test_junk_bodies(fuzz_target: tuple[SandboxServer, str, httpx.Client], body: bytes) -> None:
    _, key, http = fuzz_target
    response = http.post("/chat/completions", content=body,
                         headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    _check(response)


@FUZZ
@given(headers=st.dictionaries(st.sampled_from(["authorization", "openai-organization", "openai-project",
                                                "content-type", "x-custom", "accept", "user-agent"]),
                               header_text, max_size=4),
       keep_key=st.booleans())
def test_random_headers(fuzz_target: tuple[SandboxServer, str, httpx.Client], headers: dict[str, str],
                        keep_key: bool) -> None:
    _, key, http = fuzz_target
    if keep_key:
        headers = {**headers, "authorization": f"Bearer {key}"}
    _check(http.post("/chat/completions", json=BASE, headers=headers))
    _check(http.get("/models", headers=headers))


def test_server_survives(fuzz_target: tuple[SandboxServer, str, httpx.Client]) -> None:
    """After the fuzzing, a plain request still works (no poisoned state, no dead thread)."""
    _, key, http = fuzz_target
    response = http.post("/chat/completions", json=BASE, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200

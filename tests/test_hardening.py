"""A sandbox served to a room: one learner must not read, lock or crash what is another's (issue 12).

Each test attacks as a classmate would: another user's mail, concurrent log-ins, odd input that
once gave a 500, a forged Host header, oversized or half-sent requests, and the files on disk.
"""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_dashboard import PASSWORD, Visitor

from keylab.sandbox import SandboxServer, serve_in_background
from keylab.sandbox import server as sandbox_server
from keylab.sandbox.auth import flow
from keylab.sandbox.client import ControlClient
from keylab.sandbox.clock import Clock
from keylab.sandbox.store import Store

MODEL = "gpt-6-luna"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    with serve_in_background(tmp_path_factory.mktemp("hardening-data")) as server:
        yield server


@pytest.fixture(scope="module")
def ops(site: SandboxServer) -> ControlClient:
    return ControlClient(site.url, site.operator_token)


@pytest.fixture(scope="module")
def account(ops: ControlClient) -> dict[str, Any]:
    return ops.create_account(credits_usd="5")


def _api(site: SandboxServer, method: str, path: str, key: str, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}", **kwargs.pop("headers", {})}
    return httpx.request(method, site.base_url + path, headers=headers, timeout=30, **kwargs)


def _is_envelope(answer: httpx.Response, status: int) -> dict[str, Any]:
    assert answer.status_code == status, (answer.status_code, answer.text[:300])
    error = answer.json()["error"]
    assert list(error) == ["message", "type", "param", "code"]
    return error


# -- the Outbox: each user reads only their own mail -------------------------------------------------


def test_an_alert_cannot_be_pointed_at_a_strangers_address(site: SandboxServer) -> None:
    victim = Visitor(site)
    victim.sign_up()  # their confirmation link is in the outbox
    attacker = Visitor(site)
    attacker.finish()
    attacker.get("/limits")
    refused = attacker.post("/limits/alerts", {"scope": "organization", "alert_amount": "0.00",
                                               "recipients": victim.email})
    assert refused.status_code == 400 and "not a verified member" in refused.text
    mailbox = attacker.outbox()
    assert len(set(re.findall(r"verify-email\?token=([\w-]+)", mailbox))) == 1  # only their own link
    assert victim.email not in mailbox
    assert victim.verify_email().status_code == 200  # the victim's own link still works


def test_a_phone_claimed_by_another_shows_only_your_own_code(site: SandboxServer) -> None:
    victim, attacker = Visitor(site), Visitor(site)
    for visitor in (victim, attacker):
        visitor.sign_up()
        visitor.verify_email()
    attacker.phone = victim.phone
    victim_code = victim.send_code()
    attacker_codes = re.findall(r"verification code is (\d{6})", attacker.outbox())
    assert attacker_codes == []  # before sending: nothing, though the number has mail
    attacker_code = attacker.send_code()
    attacker_codes = re.findall(r"verification code is (\d{6})", attacker.outbox())
    assert attacker_codes == [attacker_code]
    assert re.findall(r"verification code is (\d{6})", victim.outbox()) == [victim_code]


# -- log-in: counted atomically, per account and address ----------------------------------------------


@pytest.fixture
def accounts_store(tmp_path: Path) -> Iterator[tuple[Store, Clock]]:
    with Store(tmp_path / "data") as store:
        yield store, Clock(store)


def _try(store: Store, clock: Clock, email: str, password: str, client: str) -> int:
    try:
        flow.log_in(store, clock, email=email, password=password, client=client)
    except flow.FlowError as error:
        return error.status
    return 200


def test_concurrent_wrong_passwords_are_counted_before_checking(accounts_store: tuple[Store, Clock]) -> None:
    store, clock = accounts_store
    flow.sign_up(store, clock, email="ada@example.com", password=PASSWORD)
    passwords = ["wrong password!"] * 30
    passwords[20] = PASSWORD  # a right guess late in the burst must not get in
    with ThreadPoolExecutor(max_workers=30) as pool:
        results = list(pool.map(lambda p: _try(store, clock, "ada@example.com", p, "10.0.0.66"), passwords))
    assert results.count(401) + results.count(200) == flow.LOGIN_MAX_FAILURES_PER_EMAIL
    assert results.count(429) == 30 - flow.LOGIN_MAX_FAILURES_PER_EMAIL
    assert results[20] != 200


def test_failures_from_one_address_do_not_lock_the_owner_out(accounts_store: tuple[Store, Clock]) -> None:
    store, clock = accounts_store
    flow.sign_up(store, clock, email="ada@example.com", password=PASSWORD)
    attacker = [_try(store, clock, "ada@example.com", "wrong password!", "10.0.0.66") for _ in range(20)]
    assert attacker.count(401) == flow.LOGIN_MAX_FAILURES_PER_EMAIL and attacker[-1] == 429
    assert _try(store, clock, "ada@example.com", PASSWORD, "10.0.0.7") == 200  # the owner, at their desk
    spread = [_try(store, clock, f"user{i}@example.com", "wrong password!", "10.0.0.99") for i in range(20)]
    assert spread.count(401) == flow.LOGIN_MAX_FAILURES_PER_CLIENT
    assert _try(store, clock, "ada@example.com", PASSWORD, "10.0.0.99") == 429  # that address is blocked


# -- sessions: no row for a visitor who only looks ---------------------------------------------------


def test_cookieless_requests_write_no_session_rows(site: SandboxServer) -> None:
    store = site.app.state.sandbox.store
    before = store.query_one("SELECT COUNT(*) FROM sessions")[0]
    for path in ("/", "/login", "/signup", "/dashboard", "/outbox") * 10:
        assert httpx.get(site.url + path, timeout=10).status_code in (200, 303)
    assert store.query_one("SELECT COUNT(*) FROM sessions")[0] == before
    indexes = {row["name"]: row for row in store.query("PRAGMA index_list(sessions)")}
    covered = {store.query(f"PRAGMA index_info({name})")[0]["name"] for name in indexes}
    assert "expires_at" in covered


def test_anonymous_session_still_guards_forms(site: SandboxServer) -> None:
    visitor = Visitor(site)
    visitor.get("/login")
    forged = visitor.post("/login", {"email": "x@example.com", "password": "x"}, csrf="a.99999999999.forged")
    assert forged.status_code == 403
    other = Visitor(site)
    other.get("/login")
    assert visitor.post("/login", {"email": "x@example.com", "password": "x"}, csrf=other.csrf).status_code == 403


# -- files on disk --------------------------------------------------------------------------------


def test_data_dir_and_database_files_are_private(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        data = tmp_path / "data"
        with serve_in_background(data) as server:
            ControlClient(server.url, server.operator_token).create_account(credits_usd="1")
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in data.iterdir()}
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
        for name in ("sandbox.db", "key_salt", "operator_token"):
            assert modes[name] == 0o600, (name, oct(modes[name]))
        for name in ("sandbox.db-wal", "sandbox.db-shm"):
            if name in modes:
                assert modes[name] == 0o600, (name, oct(modes[name]))
        (data / "sandbox.db").chmod(0o644)
        data.chmod(0o755)
        Store(data).close()  # an older data dir is made private when opened
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
        assert stat.S_IMODE((data / "sandbox.db").stat().st_mode) == 0o600
    finally:
        os.umask(old)


def test_two_servers_refuse_one_data_dir(tmp_path: Path) -> None:
    with serve_in_background(tmp_path / "data"):
        with pytest.raises(OSError, match="already running on the data dir"):
            serve_in_background(tmp_path / "data")
    serve_in_background(tmp_path / "data").stop()  # free again once the first stopped


# -- Host header and links ------------------------------------------------------------------------


def test_unknown_host_names_are_refused(site: SandboxServer, account: dict[str, Any]) -> None:
    key = account["api_key"]
    error = _is_envelope(_api(site, "GET", "/models", key, headers={"Host": "evil.example"}), 400)
    assert "--allowed-host" in error["message"]
    assert httpx.get(site.url + "/signup", headers={"Host": "evil.example"}).status_code == 400
    for host in (f"127.0.0.1:{site.port}", f"localhost:{site.port}", "localhost"):
        assert _api(site, "GET", "/models", key, headers={"Host": host}).status_code == 200


def test_verification_links_come_from_configuration(tmp_path: Path) -> None:
    public = "http://class.example:8000"
    with serve_in_background(tmp_path / "data", allowed_hosts=("class.example",), public=public) as server:
        visitor = Visitor(server)
        visitor.http.headers["Host"] = f"localhost:{server.port}"
        visitor.sign_up()
        links = set(re.findall(r'(http[^\s"<>]+/verify-email)\?token=', visitor.outbox()))
        assert links == {f"{public}/verify-email"}
        answer = httpx.get(server.url + "/v1/models", headers={"Host": "class.example:8000"})
        assert answer.status_code == 401  # an allowed name: the API answers (here: no key)


def test_n_is_capped_and_a_stream_of_the_most_choices_is_bounded(site: SandboxServer,
                                                                  account: dict[str, Any]) -> None:
    """`n` above the API's 128 is refused; `n=128` streamed ends, with every choice within the answer
    cap (simulate.MAX_ANSWER_TOKENS tokens), so its chunks are bounded, and is billed for them."""
    from keylab.sandbox import simulate

    ask = {"model": MODEL, "messages": [{"role": "user", "content": "Tell me a long story"}]}
    error = _is_envelope(_api(site, "POST", "/chat/completions", account["api_key"], json={**ask, "n": 129}), 400)
    assert error["param"] == "n"
    body = {**ask, "n": 128, "stream": True, "stream_options": {"include_usage": True}}
    headers = {"Authorization": f"Bearer {account['api_key']}"}
    chunks = 0
    usage = last = None
    with httpx.stream("POST", site.base_url + "/chat/completions", json=body, headers=headers, timeout=60) as answer:
        assert answer.status_code == 200
        for line in answer.iter_lines():
            if line:
                last = line
            if line.startswith("data: {"):
                chunks += 1
                usage = json.loads(line[len("data: "):]).get("usage") or usage
    assert last == "data: [DONE]"
    assert chunks <= 128 * (simulate.MAX_ANSWER_TOKENS + 2) + 1
    completion_tokens = usage["completion_tokens"]
    assert 128 <= completion_tokens <= 128 * simulate.MAX_ANSWER_TOKENS


def test_names_from_the_environment_and_any_host_behind_a_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    """JupyterHub: the browser's Host is the hub's name; the user's sandbox (on the hub machine's
    loopback, behind the hub's login) is started with KEYLAB_SANDBOX_ALLOWED_HOSTS=*."""
    from keylab.hub.proxy import setup_keylab
    from keylab.sandbox.hosts import ALLOWED_HOSTS_VAR, HostCheck, default_names

    monkeypatch.setenv(ALLOWED_HOSTS_VAR, "Class.Example, other.example")
    names = default_names("127.0.0.1")
    assert {"class.example", "other.example"} <= names
    assert HostCheck(names).allowed(b"class.example:8765") and not HostCheck(names).allowed(b"evil.example")
    monkeypatch.setenv(ALLOWED_HOSTS_VAR, "*")
    assert HostCheck(default_names("127.0.0.1")).allowed(b"hub.university.example")
    assert setup_keylab()["environment"] == {ALLOWED_HOSTS_VAR: "*"}


# -- resource limits ----------------------------------------------------------------------------------


def test_big_bodies_are_refused_before_they_are_read(site: SandboxServer, account: dict[str, Any]) -> None:
    from keylab.sandbox.api.common import MAX_BODY_BYTES

    big = b"x" * (MAX_BODY_BYTES + 1)
    answer = _api(site, "POST", "/organization/projects", account["admin_key"], content=big,
                  headers={"Content-Type": "application/json"})
    assert _is_envelope(answer, 413)["message"].startswith("Request body too large")
    assert httpx.post(site.url + "/projects", content=big, timeout=30).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: the cap holds while reading
        for _ in range(MAX_BODY_BYTES // 65536 + 2):
            yield b" " * 65536

    chunked = _api(site, "POST", "/chat/completions", account["api_key"], content=chunks(),
                   headers={"Content-Type": "application/json"})
    assert chunked.status_code == 413


def test_admin_strings_and_lists_are_bounded(site: SandboxServer, account: dict[str, Any]) -> None:
    long_name = _api(site, "POST", "/organization/projects", account["admin_key"], json={"name": "p" * 300})
    assert "string too long" in _is_envelope(long_name, 400)["message"]


def test_half_sent_headers_are_cut_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox_server, "HEADER_TIMEOUT_S", 0.5)
    with serve_in_background(tmp_path / "data") as server:
        silent = socket.create_connection(("127.0.0.1", server.port))
        partial = socket.create_connection(("127.0.0.1", server.port))
        partial.sendall(b"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        started = time.monotonic()
        for sock in (silent, partial):
            sock.settimeout(5)
            assert sock.recv(100) == b""  # closed by the server
            sock.close()
        assert time.monotonic() - started < 4
        with httpx.Client(base_url=server.url) as client:  # a keep-alive client is not cut off while it works
            for _ in range(3):
                assert client.get("/v1/models").status_code == 401
                time.sleep(0.3)


@pytest.mark.parametrize(("soft", "cap"), [(1024, 1024 - sandbox_server.FD_RESERVE), (50, sandbox_server.MIN_CONNECTIONS),
                                           (1_000_000, sandbox_server.MAX_CONNECTIONS)])
def test_the_connection_cap_follows_the_open_files_limit(soft: int, cap: int, monkeypatch: pytest.MonkeyPatch) -> None:
    resource = pytest.importorskip("resource")
    monkeypatch.setattr(resource, "getrlimit", lambda which: (soft, resource.RLIM_INFINITY))
    assert sandbox_server.connection_cap() == cap


def test_past_the_connection_cap_a_quiet_stranger_goes_not_a_working_client(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A room holds 2–3 connections per student; past the cap the sandbox closes a connection that
    never carried a request and has been quiet longest, never one a client has just used."""
    monkeypatch.setattr(sandbox_server, "connection_cap", lambda: 12)
    monkeypatch.setattr(sandbox_server, "EVICT_AFTER_S", 0.3)
    request = b"GET /sandbox/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with serve_in_background(tmp_path / "data") as server:
        worker = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        def asked(sock: socket.socket) -> bytes:
            sock.sendall(request)
            answer = b""
            while b'"status":"ok"' not in answer:
                chunk = sock.recv(4096)
                if not chunk:
                    return answer
                answer += chunk
            return answer

        assert b"200 OK" in asked(worker)
        strangers = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(8)]
        time.sleep(0.4)  # all of them quiet now; the worker answered first
        assert b"200 OK" in asked(worker)  # just used: not a candidate
        newcomers = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(6)]
        time.sleep(0.2)
        for stranger in strangers[:3]:  # 1 worker + 8 + 6 = 15 over a cap of 12: the 3 oldest strangers go
            assert stranger.recv(100) == b""
        assert b"200 OK" in asked(worker)
        for sock in (worker, *strangers, *newcomers):
            sock.close()


def test_only_admin_keys_have_the_specs_one_year_expiry_cap(site: SandboxServer, account: dict[str, Any]) -> None:
    """The spec caps expires_in_seconds at 31,536,000 for admin keys alone; a project key's update
    takes any storable expiry."""
    longer = {"expires_in_seconds": 31_536_001}
    answer = _api(site, "POST", f"/organization/projects/{account['project_id']}/api_keys/{account['api_key_id']}",
                  account["admin_key"], json=longer)
    assert answer.status_code == 200, answer.text
    refused = _api(site, "POST", "/organization/admin_api_keys", account["admin_key"], json={"name": "k", **longer})
    assert _is_envelope(refused, 400)["param"] == "expires_in_seconds"


# -- odd input that once gave a 500 -----------------------------------------------------------------


def test_lone_surrogates_are_invalid_json(site: SandboxServer, account: dict[str, Any]) -> None:
    for path, body in (("/chat/completions", b'{"model": "gpt-6-luna", "messages": [{"role": "user", '
                                             b'"content": "\\udfff"}]}'),
                       ("/responses", b'{"model": "gpt-6-luna", "input": "a\\udc00"}')):
        answer = _api(site, "POST", path, account["api_key"], content=body,
                      headers={"Content-Type": "application/json"})
        assert _is_envelope(answer, 400)["message"].startswith("We could not parse the JSON body")


@pytest.mark.parametrize(("method", "path", "body", "param"), [
    ("POST", "/organization/spend_alerts", {"threshold_amount": 5, "currency": "USD", "interval": "month",
                                            "notification_channel": {"type": "email", "recipients": [""]}},
     "notification_channel.recipients"),
    ("POST", "/organization/spend_alerts", {"threshold_amount": 2**63, "currency": "USD", "interval": "month",
                                            "notification_channel": {"type": "email",
                                                                     "recipients": ["a@example.com"]}},
     "threshold_amount"),
    ("POST", "/organization/spend_limit", {"threshold_amount": 2**64, "currency": "USD", "interval": "month"},
     "threshold_amount"),
    ("POST", "/organization/admin_api_keys", {"name": "k", "expires_in_seconds": 2**63}, "expires_in_seconds"),
    ("POST", "/organization/admin_api_keys", {"name": "k", "expires_in_seconds": 31_536_001},
     "expires_in_seconds"),
    ("POST", "/organization/projects/{project}/rate_limits/rl-gpt-6-luna", {"max_requests_per_1_minute": 2**63},
     "max_requests_per_1_minute"),
])
def test_out_of_range_admin_values_are_400(site: SandboxServer, account: dict[str, Any], method: str, path: str,
                                           body: dict[str, Any], param: str) -> None:
    answer = _api(site, method, path.format(project=account["project_id"]), account["admin_key"], json=body)
    assert _is_envelope(answer, 400)["param"] == param


@pytest.mark.parametrize("path", ["/organization/usage/completions", "/organization/costs"])
@pytest.mark.parametrize("query", ["start_time=99999999999999999999", "start_time=0&end_time=9223372036854775807",
                                   "start_time=10000000000000"])
def test_huge_times_are_400(site: SandboxServer, account: dict[str, Any], path: str, query: str) -> None:
    answer = _api(site, "GET", f"{path}?{query}", account["admin_key"])
    assert answer.status_code == 400, answer.text


def test_non_ascii_operator_token_is_401(site: SandboxServer) -> None:
    answer = httpx.get(site.url + "/sandbox/clock", headers={"Authorization": "Bearer tök".encode()})
    assert answer.status_code == 401


def test_huge_dashboard_amounts_are_form_errors(site: SandboxServer) -> None:
    member = Visitor(site)
    member.finish()
    for amount in ("1e30", "99999999999999999999", "1e-30"):
        member.get("/limits")
        answer = member.post("/limits/budget", {"scope": "organization", "budget_amount": amount})
        assert answer.status_code == 400 and "Monthly budget" in answer.text, amount
        member.get("/billing")
        answer = member.post("/billing/credit", {"amount": amount, "card_number": "4242 4242 4242 4242",
                                                 "expiry": "12/39", "cvc": "123"})
        assert answer.status_code in (400, 402) and "Traceback" not in answer.text, amount


# -- fidelity -----------------------------------------------------------------------------------------


def test_scope_names_follow_the_endpoint(site: SandboxServer, account: dict[str, Any]) -> None:
    models = _is_envelope(_api(site, "GET", "/models", account["admin_key"]), 401)
    assert "Missing scopes: model.read." in models["message"]
    chat = _is_envelope(_api(site, "POST", "/chat/completions", account["admin_key"],
                             json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}), 401)
    assert "Missing scopes: model.request." in chat["message"]
    write = _is_envelope(_api(site, "POST", "/organization/projects", account["api_key"], json={"name": "x"}), 401)
    assert "Missing scopes: api.management.write." in write["message"]
    read = _is_envelope(_api(site, "GET", "/organization/projects", account["api_key"]), 401)
    assert "Missing scopes: api.management.read." in read["message"]


@pytest.mark.parametrize(("messages", "code", "param"), [
    ([{"role": "user", "content": [{"type": "text", "text": 42}]}], "invalid_type", "messages[0].content[0].text"),
    ([{"role": "user"}], "missing_required_parameter", "messages[0].content"),
    ([{"role": "user", "content": [{"type": "text"}]}], "missing_required_parameter", "messages[0].content[0].text"),
])
def test_malformed_messages_are_400(site: SandboxServer, account: dict[str, Any], messages: list[Any], code: str,
                                    param: str) -> None:
    answer = _api(site, "POST", "/chat/completions", account["api_key"], json={"model": MODEL, "messages": messages})
    error = _is_envelope(answer, 400)
    assert (error["code"], error["param"]) == (code, param)


@pytest.mark.parametrize(("part", "code"), [({"type": "input_text", "text": 5}, "invalid_type"),
                                            ({"type": "input_text"}, "missing_required_parameter")])
def test_responses_text_parts_need_text(site: SandboxServer, account: dict[str, Any], part: dict[str, Any],
                                        code: str) -> None:
    answer = _api(site, "POST", "/responses", account["api_key"],
                  json={"model": MODEL, "input": [{"role": "user", "content": [part]}]})
    error = _is_envelope(answer, 400)
    assert (error["code"], error["param"]) == (code, "input[0].content[0].text")


def test_assistant_message_may_omit_content(site: SandboxServer, account: dict[str, Any]) -> None:
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "tool_calls": []},
                {"role": "user", "content": "again"}]
    assert _api(site, "POST", "/chat/completions", account["api_key"],
                json={"model": MODEL, "messages": messages}).status_code == 200


def test_threads_share_one_server(site: SandboxServer) -> None:
    """Sanity for the fixtures above: the module's server is still up after the attacks."""
    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(httpx.get(site.url + "/login").status_code))
               for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [200] * 5


# -- budgets under a burst ------------------------------------------------------------------------


def _burst_target(server: SandboxServer, stream: bool) -> tuple[dict[str, Any], dict[str, str], int]:
    """A funded account, a call's body and headers, and what that call costs (after one call)."""
    account = ControlClient(server.url, server.operator_token).create_account(credits_usd="5")
    billing = server.app.state.sandbox.billing
    body = {"model": MODEL, "messages": [{"role": "user", "content": "Tell me about budgets"}], "stream": stream}
    headers = {"Authorization": f"Bearer {account['api_key']}"}
    before = billing.balance_pico(account["organization_id"])
    assert httpx.post(server.base_url + "/chat/completions", json=body, headers=headers).status_code == 200
    cost = before - billing.balance_pico(account["organization_id"])
    with server.app.state.sandbox.store.transaction() as db:  # credit for 20.5 such calls
        db.execute("UPDATE organizations SET balance_pico = ? WHERE id = ?", (cost * 41 // 2, account["organization_id"]))
    return {"account": account, "body": body}, headers, cost


def test_a_burst_spends_the_credit_to_within_one_call(tmp_path: Path) -> None:
    """40 parallel calls on credit for 20.5: 21 answered, and the balance ends less than one call below zero."""
    with serve_in_background(tmp_path / "data") as server:
        target, headers, cost = _burst_target(server, stream=False)

        def one(_: int) -> int:
            with httpx.Client(timeout=30) as client:
                return client.post(server.base_url + "/chat/completions", json=target["body"],
                                   headers=headers).status_code

        with ThreadPoolExecutor(max_workers=20) as pool:
            statuses = list(pool.map(one, range(40)))
        assert statuses.count(200) == 21 and statuses.count(429) == 19, statuses
        balance = server.app.state.sandbox.billing.balance_pico(target["account"]["organization_id"])
        assert -cost < balance < 0


@pytest.mark.parametrize("stream", [False, True])
def test_calls_arriving_together_hold_only_what_they_will_cost(tmp_path: Path, stream: bool) -> None:
    """Ten calls written at once on ten connections (admitted in one event-loop turn, before any
    settles), on credit for 4.5 calls: 5 are answered, as a reservation is the answer's cost rather
    than the longest answer possible; the balance ends less than one call below zero."""
    import json

    with serve_in_background(tmp_path / "data") as server:
        target, headers, cost = _burst_target(server, stream=stream)
        org = target["account"]["organization_id"]
        with server.app.state.sandbox.store.transaction() as db:
            db.execute("UPDATE organizations SET balance_pico = ? WHERE id = ?", (cost * 9 // 2, org))
        payload = json.dumps(target["body"]).encode()
        request = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
                   f"Authorization: {headers['Authorization']}\r\nContent-Type: application/json\r\n"
                   f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n").encode() + payload
        sockets = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(10)]
        for sock in sockets:
            sock.sendall(request)
        statuses = []
        for sock in sockets:
            sock.settimeout(10)
            statuses.append(int(sock.recv(64).split(b" ", 2)[1]))
            while sock.recv(65536):
                pass
            sock.close()
        assert statuses.count(200) == 5 and statuses.count(429) == 5, statuses
        assert -cost < server.app.state.sandbox.billing.balance_pico(org) < 0


def test_the_server_keeps_an_idle_connection_longer_than_the_sdk_does() -> None:
    """The client must be the one to drop an idle keep-alive connection: a server that closes it at
    the moment the client reuses it resets a request (bench/README.md, "Classroom benchmark")."""
    client_expiry = httpx.Limits().keepalive_expiry  # httpx's default, which the openai SDK keeps: 5 s
    assert client_expiry is not None
    assert sandbox_server._config(object(), "127.0.0.1", 0, "warning").timeout_keep_alive >= client_expiry + 5

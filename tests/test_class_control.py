"""Lessons 04–07 on one class sandbox: each student stages their own situations with their own key.

A student's key reaches the control plane for their *tenant* only (keylab.sandbox.clock): the
practice accounts they create, their clock, their faults, the mail about their organizations. One
student's "next month" or staged 500 never reaches another student, and what changes the whole
sandbox stays the instructor's (the operator token).
"""

from __future__ import annotations

import asyncio
import contextvars
import datetime as dt
import json
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from openai import OpenAI

from keylab import COURSE_MODEL, sandbox_probe
from keylab.cli import main
from keylab.keys import real_shaped_key
from keylab.pricing import cost_of
from keylab.sandbox import SandboxServer, serve_in_background
from keylab.sandbox import control as control_plane
from keylab.sandbox.accounts import KeyRecord
from keylab.sandbox.billing import Billing, Reservation
from keylab.sandbox.client import ControlClient, ControlError
from keylab.sandbox.clock import Clock, enter_tenant
from keylab.sandbox.store import TOKEN_FILE, Store

DAY = 86_400
HELLO = [{"role": "user", "content": "Say hello."}]


@pytest.fixture(scope="module")
def room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    with serve_in_background(tmp_path_factory.mktemp("class-control")) as server:
        # The sandbox's own clock stands still (a test may run across midnight UTC); each student's
        # clock is the sandbox's plus their own offset.
        ControlClient(server.url, server.operator_token).freeze_clock()
        yield server


def _class(room: SandboxServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], *names: str
           ) -> list[dict[str, str]]:
    roster = tmp_path / "roster.csv"
    roster.write_text("name,email\n" + "".join(f"{n},{n.lower()}@class.example\n" for n in names))
    capsys.readouterr()
    assert main(["classroom", "create", "--data", str(room.data_dir), "--roster", str(roster),
                 "--budget-usd", "3", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def students(room: SandboxServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> list[dict[str, str]]:
    """Two new students (`classroom create --json`), in a class of their own for each test."""
    suffix = "".join(c for c in tmp_path.name if c.isalnum())[-8:]
    return _class(room, tmp_path, capsys, f"Ada{suffix}", f"Alan{suffix}")


@pytest.fixture
def pair(room: SandboxServer, students: list[dict[str, str]]) -> tuple[ControlClient, ControlClient]:
    """The two students' control clients: their own keys, as a class notebook holds them."""
    return ControlClient(room.url, students[0]["api_key"]), ControlClient(room.url, students[1]["api_key"])


def _operator(room: SandboxServer) -> ControlClient:
    return ControlClient(room.url, room.operator_token)


def _client(room: SandboxServer, key: str) -> OpenAI:
    return OpenAI(api_key=key, base_url=room.base_url, max_retries=0)


def test_a_students_clock_moves_for_them_alone(room: SandboxServer, pair: tuple[ControlClient, ControlClient]) -> None:
    ada, alan = pair
    sandbox_today = _operator(room).today()
    moved = ada.advance_clock(40 * DAY)
    assert dt.date.fromisoformat(moved["today"]) == sandbox_today + dt.timedelta(days=40)
    assert alan.today() == sandbox_today and _operator(room).today() == sandbox_today

    practice = ada.create_account(credits_usd=1)  # it joins Ada's tenant, and her time
    answer = _client(room, practice["api_key"]).chat.completions.create(model=COURSE_MODEL, messages=HELLO)
    other = _client(room, alan.token).chat.completions.create(model=COURSE_MODEL, messages=HELLO)
    assert answer.created - other.created >= 40 * DAY - 60
    # Her class account stays on the sandbox's month: its budget and the instructor's report are real-time.
    own = _client(room, ada.token).chat.completions.create(model=COURSE_MODEL, messages=HELLO)
    assert abs(own.created - other.created) < 60

    assert ada.reset_clock()["today"] == str(sandbox_today)


def test_a_practice_key_waits_out_its_rate_limit_on_its_students_clock(
        room: SandboxServer, pair: tuple[ControlClient, ControlClient]) -> None:
    ada, alan = pair
    busy = ada.create_account(credits_usd=1)
    ada.set_key_limits(busy["api_key_id"], rpm=1)
    limited = _client(room, busy["api_key"])
    limited.chat.completions.create(model=COURSE_MODEL, messages=HELLO)
    with pytest.raises(openai.RateLimitError) as refused:
        limited.chat.completions.create(model=COURSE_MODEL, messages=HELLO)
    wait = int(refused.value.response.headers["retry-after"])
    alan.advance_clock(wait)  # someone else's clock: Ada's key still waits
    with pytest.raises(openai.RateLimitError):
        limited.chat.completions.create(model=COURSE_MODEL, messages=HELLO)
    ada.advance_clock(wait)
    limited.chat.completions.create(model=COURSE_MODEL, messages=HELLO)


def test_faults_a_student_stages_hit_only_their_requests(
        room: SandboxServer, pair: tuple[ControlClient, ControlClient]) -> None:
    ada, alan = pair
    practice = ada.create_account(credits_usd=1)
    staged = ada.inject_fault("server_error", count=1, path="/v1/chat/completions")
    assert staged == {"faults": [{"kind": "server_error", "remaining": 1, "path": "/v1/chat/completions",
                                  "latency_ms": 0}]}
    _client(room, alan.token).chat.completions.create(model=COURSE_MODEL, messages=HELLO)  # not Alan's
    with pytest.raises(openai.InternalServerError):
        _client(room, practice["api_key"]).chat.completions.create(model=COURSE_MODEL, messages=HELLO)
    _client(room, practice["api_key"]).chat.completions.create(model=COURSE_MODEL, messages=HELLO)  # used up

    ada.inject_fault("stream_error", count=2, path="/v1/chat/completions")
    stream = _client(room, alan.token).chat.completions.create(model=COURSE_MODEL, messages=HELLO, stream=True)
    assert "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)  # Alan's is whole
    with pytest.raises(openai.APIError):  # Ada's breaks halfway, with an error event
        for _ in _client(room, practice["api_key"]).chat.completions.create(
                model=COURSE_MODEL, messages=HELLO, stream=True):
            pass
    assert ada.clear_faults() == {"faults": []}
    assert not room.app.state.sandbox.faults


def test_the_operators_faults_still_hit_everyone(room: SandboxServer, pair: tuple[ControlClient, ControlClient]) -> None:
    ada, alan = pair
    _operator(room).inject_fault("overloaded", count=2, path="/v1/chat/completions")
    for student in (ada, alan):
        with pytest.raises(openai.InternalServerError) as failed:
            _client(room, student.token).chat.completions.create(model=COURSE_MODEL, messages=HELLO)
        assert failed.value.status_code == 503
    ada.clear_faults()  # a student clears only their own
    _operator(room).clear_faults()


def test_a_student_reads_only_the_mail_about_their_own_accounts(
        room: SandboxServer, pair: tuple[ControlClient, ControlClient]) -> None:
    address = "you-" + pair[0].token[-6:] + "@example.com"
    for student in pair:
        practice = student.create_account(credits_usd=1)
        admin = OpenAI(admin_api_key=practice["admin_key"], base_url=room.base_url, max_retries=0)
        admin.admin.organization.projects.spend_alerts.create(
            practice["project_id"], currency="USD", interval="month", threshold_amount=1,
            notification_channel={"type": "email", "recipients": [address]})
        _client(room, practice["api_key"]).chat.completions.create(  # about 2 cents
            model="gpt-6-astra", messages=[{"role": "user", "content": "budget " * 2000}], max_completion_tokens=20)
        mail = student.outbox(address)
        assert len(mail) == 1 and practice["project_id"] in mail[0]["body"]
    assert len(_operator(room).outbox(address)) == 2


def test_what_a_student_may_not_touch(room: SandboxServer, students: list[dict[str, str]],
                                      pair: tuple[ControlClient, ControlClient], monkeypatch: pytest.MonkeyPatch) -> None:
    ada, alan = pair
    with Store(room.data_dir) as store:
        ada_row = store.query_one("SELECT org_id, key_id FROM classroom_students WHERE email = ?",
                                  (students[0]["email"],))
    practice = ada.create_account(credits_usd=1)
    assert ada.add_credit(practice["organization_id"], 2)["balance_usd"] == "3"
    refusals = [
        (lambda: ada.add_credit(ada_row["org_id"], 50), "your own budget is your instructor's"),  # her budget
        (lambda: alan.add_credit(practice["organization_id"], 1), "among your practice accounts"),
        (lambda: ada.add_credit(practice["organization_id"], 98), "at most 100"),  # 3 + 98 > 100
        (lambda: ada.create_account(credits_usd=500), "at most 100"),
        (lambda: ada.create_account(email=students[1]["email"]), "leave out 'email'"),  # a classmate's address
        (lambda: ada.advance_clock(1e300), "within 100 years"),
        (lambda: ada.set_key_limits(ada_row["key_id"], rpm=None), "among your practice accounts"),
        (lambda: alan.set_key_limits(practice["api_key_id"], rpm=1), "among your practice accounts"),
        (lambda: ada.reset(), "only the instructor"),
        (lambda: ada.set_quota_error("credit_balance_exhausted"), "only the instructor"),
    ]
    for attempt, message in refusals:
        with pytest.raises(ControlError, match=message):
            attempt()

    ada.add_credit(practice["organization_id"], 97)  # up to 100 is fine
    practice_admin = ControlClient(room.url, practice["admin_key"])  # a practice key (say, a leaked one)
    for attempt in (practice_admin.clock, lambda: ControlClient(room.url, practice["api_key"]).inject_fault("server_error")):
        with pytest.raises(ControlError, match="Only the key your class gave you"):
            attempt()

    monkeypatch.setattr(control_plane, "STUDENT_FAULTS", 2)
    ada.inject_fault("latency", path="/v1/embeddings")
    ada.inject_fault("latency", path="/v1/embeddings")
    with pytest.raises(ControlError, match="You have 2 faults staged"):
        ada.inject_fault("latency", path="/v1/embeddings")
    ada.clear_faults()

    monkeypatch.setattr(control_plane, "STUDENT_PRACTICE_ACCOUNTS", 1)  # the server runs in this process
    alan.create_account()
    with pytest.raises(ControlError, match=r"You have made 1 practice account\(s\), the most a class sandbox allows"):
        alan.create_account()


def test_keys_that_are_not_a_students(room: SandboxServer) -> None:
    outsider = _operator(room).create_account(credits_usd=1)  # an ordinary account, in no class
    with pytest.raises(ControlError, match="Only class students' keys"):
        ControlClient(room.url, outsider["api_key"]).clock()
    with pytest.raises(ControlError, match="needs the operator token"):
        ControlClient(room.url, "sk-proj-" + "x" * 40).clock()
    real = real_shaped_key()
    with pytest.raises(ControlError, match="is a real OpenAI key") as refused:
        ControlClient(room.url, real).clock()
    assert real not in str(refused.value)


def test_a_students_frozen_clock_stands_still_for_them_alone(
        room: SandboxServer, pair: tuple[ControlClient, ControlClient]) -> None:
    ada, alan = pair
    _operator(room).freeze_clock(False)
    try:
        frozen = ada.freeze_clock()
        assert frozen["frozen"] and not alan.clock()["frozen"]
        time.sleep(1.1)
        assert ada.clock()["now"] == frozen["now"] and alan.clock()["now"] > frozen["now"]
        assert ada.advance_clock(30)["now"] == frozen["now"] + 30  # advance still moves a frozen clock
        assert not ada.freeze_clock(False)["frozen"]
        assert ada.reset_clock()["offset_seconds"] == 0
    finally:
        _operator(room).freeze_clock()


def test_a_pipelined_request_starts_on_the_sandboxs_time(
        room: SandboxServer, pair: tuple[ControlClient, ControlClient]) -> None:
    """uvicorn may start a request in the context of the one before it on the same connection; a
    practice key's clock must not carry over to the next request (here a classmate's)."""
    ada, alan = pair
    practice = ada.create_account(credits_usd=1)
    ada.advance_clock(40 * DAY)

    def chat(key: str, padding: int) -> bytes:
        body = json.dumps({"model": COURSE_MODEL, "messages": HELLO, "metadata": {"pad": "x" * 500},
                           "user": "p" * padding}).encode()
        host = room.url.split("//")[1]
        return (f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body

    host, port = room.url.split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(chat(practice["api_key"], 200_000) + chat(alan.token, 0))  # a large body, then pipelined
        received = b""
        while received.count(b'"created":') < 2:
            chunk = connection.recv(65536)
            assert chunk, received[-500:]
            received += chunk
    created = [int(value) for value in re.findall(rb'"created":(\d+)', received)]
    assert created[0] - created[1] >= 40 * DAY - 60  # Ada's practice call on her clock, Alan's on the sandbox's
    assert abs(created[1] - _operator(room).clock()["now"]) < 60
    ada.reset_clock()


def test_from_env_sends_the_operator_token_only_to_its_own_sandbox(
        room: SandboxServer, pair: tuple[ControlClient, ControlClient], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", room.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", pair[0].token)
    assert ControlClient.from_env(room.data_dir).token == room.operator_token  # the learner's own sandbox
    assert ControlClient.from_env(tmp_path / "none").token == pair[0].token  # no sandbox of its own
    other = tmp_path / "other"
    other.mkdir()
    (other / TOKEN_FILE).write_text("ab" * 24)  # this computer's own sandbox, not the class's
    assert ControlClient.from_env(other).token == pair[0].token
    monkeypatch.setattr(sandbox_probe, "instance_of", lambda url, timeout: None)  # the sandbox does not answer
    assert ControlClient.from_env(room.data_dir).token == pair[0].token  # the token is not sent on a guess
    monkeypatch.undo()
    monkeypatch.setenv("OPENAI_BASE_URL", room.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", real_shaped_key())
    with pytest.raises(ControlError, match="real OpenAI key, which is never sent"):
        ControlClient.from_env(other)
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(ControlError, match="is not the one of the sandbox at.*OPENAI_API_KEY is not set"):
        ControlClient.from_env(other)
    monkeypatch.setenv("OPENAI_BASE_URL", "https://api.openai.com/v1")
    with pytest.raises(ControlError, match="the real API: the control plane exists only in the sandbox"):
        ControlClient.from_env(room.data_dir)


def test_an_instructors_reset_puts_a_students_clock_back(
        room: SandboxServer, students: list[dict[str, str]], pair: tuple[ControlClient, ControlClient],
        capsys: pytest.CaptureFixture[str]) -> None:
    ada, alan = pair
    sandbox_today = _operator(room).today()
    ada.advance_clock(40 * DAY)
    alan.advance_clock(40 * DAY)
    # The CLI writes the database beside the running server, as another process would.
    assert main(["classroom", "reset", "--data", str(room.data_dir), "--email", students[0]["email"]]) == 0
    capsys.readouterr()
    assert ada.today() == sandbox_today
    assert alan.today() == sandbox_today + dt.timedelta(days=40)
    alan.reset_clock()


def test_a_reset_closes_the_students_practice_accounts(
        room: SandboxServer, students: list[dict[str, str]], pair: tuple[ControlClient, ControlClient],
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    ada, _ = pair
    practice = ada.create_account(credits_usd=1)
    monkeypatch.setattr(control_plane, "STUDENT_PRACTICE_ACCOUNTS", 1)
    with pytest.raises(ControlError, match="the most a class sandbox allows"):
        ada.create_account()
    assert main(["classroom", "reset", "--data", str(room.data_dir), "--email", students[0]["email"]]) == 0
    capsys.readouterr()
    with pytest.raises(openai.AuthenticationError):  # its keys are revoked: a fresh start
        _client(room, practice["api_key"]).models.list()
    ada.create_account()  # and it no longer counts


def test_the_operators_reset_puts_every_student_back(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with serve_in_background(tmp_path / "data") as server:
        ada, alan = _class(server, tmp_path, capsys, "Ada", "Alan")
        for student in (ada, alan):
            client = ControlClient(server.url, student["api_key"])
            client.advance_clock(40 * DAY)
            client.inject_fault("server_error")
        ControlClient(server.url, server.operator_token).reset()
        assert not server.app.state.sandbox.faults
        with Store(server.data_dir) as store:
            assert store.query_one("SELECT count(*) FROM tenant_clocks")[0] == 0


def test_listeners_of_a_batch_read_each_calls_own_clock(tmp_path: Path) -> None:
    """Calls settled in one event-loop turn share a transaction; each one's listeners (spend alerts,
    budget e-mails) still run on the clock of that call's student."""
    store = Store(tmp_path)
    clock = Clock(store)
    clock.advance(40 * DAY, "org-ada")
    billing = Billing(store, clock)
    seen: dict[str, dt.date] = {}
    billing.listeners.append(lambda settled: seen.setdefault(settled.org_id, clock.today()))
    cost = cost_of(COURSE_MODEL, 10, 10)

    def key(org: str, tenant: str | None) -> KeyRecord:
        return KeyRecord(f"key-{org}", "project", org, f"proj-{org}", "k", "sk-...", "all", (), None, None, tenant)

    async def settle(org: str, tenant: str | None) -> None:
        if tenant:
            enter_tenant(tenant)
        await billing.settle_async(Reservation(1, org, f"proj-{org}", 0), key=key(org, tenant),
                                   request_id=f"req-{org}", endpoint="/v1/chat/completions", cost=cost)

    async def both() -> None:
        await asyncio.gather(*(asyncio.create_task(settle(org, tenant), context=contextvars.Context())
                               for org, tenant in (("org-ada-practice", "org-ada"), ("org-x", None))))

    try:
        with store.transaction() as db:
            for org in ("org-ada-practice", "org-x"):
                db.execute("INSERT INTO organizations (id, name, created_at) VALUES (?, 'o', 0)", (org,))
        asyncio.run(both())
    finally:
        store.close()
    real_today = dt.datetime.now(dt.timezone.utc).date()
    assert seen["org-ada-practice"] - real_today == dt.timedelta(days=40)
    assert seen["org-x"] == real_today


def test_the_instructors_page_reset_also_clears_what_the_student_staged(
        room: SandboxServer, students: list[dict[str, str]], pair: tuple[ControlClient, ControlClient]) -> None:
    ada, alan = pair
    sandbox_today = _operator(room).today()
    for student in pair:
        student.advance_clock(40 * DAY)
        student.inject_fault("server_error", count=5)
    with httpx.Client(base_url=room.url, follow_redirects=True) as browser:
        page = browser.post("/classroom", data={"operator_token": room.operator_token})
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)[1]
        assert "Student reset" in browser.post("/classroom", data={"email": students[0]["email"], "csrf": csrf}).text
    assert ada.today() == sandbox_today
    _client(room, ada.token).models.list()  # her staged 500s are gone
    assert alan.today() == sandbox_today + dt.timedelta(days=40)  # Alan's are his
    with pytest.raises(openai.InternalServerError):
        _client(room, alan.token).models.list()
    alan.clear_faults()
    alan.reset_clock()


def test_the_500s_a_student_stages_are_not_counted_as_their_errors(
        room: SandboxServer, students: list[dict[str, str]], pair: tuple[ControlClient, ControlClient],
        capsys: pytest.CaptureFixture[str]) -> None:
    """Lesson 04 stages two 500s on the class key: the instructor's error column shows the errors a
    student's code met, not the ones they made on purpose."""
    ada, _ = pair
    ada.inject_fault("server_error")
    with pytest.raises(openai.InternalServerError):
        _client(room, ada.token).models.list()
    with pytest.raises(openai.NotFoundError):  # a real mistake: counted
        _client(room, ada.token).chat.completions.create(model="gpt-nope", messages=HELLO)
    capsys.readouterr()
    assert main(["classroom", "report", "--data", str(room.data_dir), "--json"]) == 0
    report = {row["email"]: row for row in json.loads(capsys.readouterr().out)}
    assert (report[students[0]["email"]]["errors"], report[students[0]["email"]]["top_error"]) == (1, "model_not_found")


def test_a_restart_lets_a_students_frozen_clock_run_again(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """As the sandbox's own clock does: a frozen clock is a lesson's moment, not the sandbox's state."""
    with serve_in_background(tmp_path / "data") as server:
        [ada] = _class(server, tmp_path, capsys, "Ada")
        ControlClient(server.url, ada["api_key"]).advance_clock(DAY)
        assert ControlClient(server.url, ada["api_key"]).freeze_clock()["frozen"]
    with serve_in_background(tmp_path / "data") as server:
        again = ControlClient(server.url, ada["api_key"]).clock()
        assert not again["frozen"] and again["offset_seconds"] == DAY  # the offset stays, the freeze goes

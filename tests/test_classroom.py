"""A class on one sandbox: roster parsing, one isolated account per student, the instructor's report
and page, reset, and check cells reporting progress with the student's own key."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI

from keylab import environment
from keylab.cli import main
from keylab.keys import real_shaped_key
from keylab.labs.classroom import report_check
from keylab.sandbox import SandboxServer, serve_in_background
from keylab.sandbox.auth.flow import FlowError, sign_up
from keylab.sandbox.classroom.roster import RosterError, parse_roster, read_roster
from keylab.sandbox.clock import Clock
from keylab.sandbox.store import Store
from tests.conftest import other_server

ROSTER = "\ufeffName , EMAIL,group\nAda Lovelace,ada@example.com,A\n\n  \nAlan Turing, Alan@Example.COM ,B\n"


# ---------------------------------------------------------------- roster


def test_roster_accepts_what_spreadsheets_write() -> None:
    entries = parse_roster(ROSTER)
    assert [(e.name, e.email, e.line) for e in entries] == [
        ("Ada Lovelace", "ada@example.com", 2), ("Alan Turing", "alan@example.com", 5)]
    semicolons = parse_roster("email;name\ngrace@example.org;Grace Hopper\n")
    assert [(e.name, e.email) for e in semicolons] == [("Grace Hopper", "grace@example.org")]
    assert parse_roster("name,email\n,nameless@example.org\n")[0].name == "nameless"


@pytest.mark.parametrize(("text", "message"), [
    ("", "is empty"),
    ("name,mail\nAda,ada@example.com\n", "missing: email"),
    ("name,email\n", "no students"),
    ("name,email\nA,a@example.com\nB,A@EXAMPLE.com\n", "line 3: a@example.com is already on line 2"),
    ("name,email\nA,not-an-email\nB,\n", "2 problem(s): line 2: 'not-an-email' is not an email address; line 3: no email"),
])
def test_roster_problems_are_named_with_their_line(text: str, message: str) -> None:
    with pytest.raises(RosterError, match=re.escape(message)):
        parse_roster(text)


def test_roster_file_that_is_not_utf8_or_missing(tmp_path: Path) -> None:
    latin = tmp_path / "latin.csv"
    latin.write_bytes("name,email\nJosé,jose@example.com\n".encode("latin-1"))
    with pytest.raises(RosterError, match="not UTF-8"):
        read_roster(latin)
    with pytest.raises(RosterError, match="No roster file"):
        read_roster(tmp_path / "nope.csv")


# ---------------------------------------------------------------- a class on a running sandbox


@pytest.fixture(scope="module")
def room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    with serve_in_background(tmp_path_factory.mktemp("class-sandbox")) as server:
        yield server


def _cli_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    capsys.readouterr()
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def _create(room: SandboxServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], roster: str,
            *extra: str) -> list[dict[str, str]]:
    path = tmp_path / "roster.csv"
    path.write_text(roster, encoding="utf-8")
    return _cli_json(capsys, "classroom", "create", "--data", str(room.data_dir), "--roster", str(path),
                     "--budget-usd", "2", "--json", *extra)


def _client(room: SandboxServer, key: str) -> OpenAI:
    return OpenAI(api_key=key, base_url=room.base_url, max_retries=0)


def _report(room: SandboxServer, capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, Any]]:
    return {row["email"]: row for row in _cli_json(capsys, "classroom", "report", "--data", str(room.data_dir),
                                                      "--json")}


def _chat(client: OpenAI) -> None:
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}], max_tokens=5)


def test_one_students_spending_and_limits_never_touch_anothers(
        room: SandboxServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    students = _create(room, tmp_path, capsys, "name,email\nIso A,iso-a@example.com\nIso B,iso-b@example.com\n",
                       "--rpm", "2")
    assert [(s["name"], s["email"]) for s in students] == [("Iso A", "iso-a@example.com"), ("Iso B", "iso-b@example.com")]
    a, b = (_client(room, s["api_key"]) for s in students)
    _chat(a)
    _chat(a)
    with pytest.raises(openai.RateLimitError):  # A's third call in a minute: A's own limit
        _chat(a)
    _chat(b)  # B is not limited by A
    report = _report(room, capsys)
    ra, rb = report["iso-a@example.com"], report["iso-b@example.com"]
    assert (ra["requests"], rb["requests"]) == (2, 1)
    assert (ra["errors"], ra["top_error"], rb["errors"]) == (1, "rate_limit_exceeded", 0)
    assert ra["spend_usd"] != "0" and rb["spend_usd"] != "0"
    assert float(rb["balance_usd"]) == pytest.approx(2 - float(rb["spend_usd"]))


def test_one_students_budget_stops_only_their_calls(
        room: SandboxServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    students = _create(room, tmp_path, capsys, "name,email\nBud A,bud-a@example.com\nBud B,bud-b@example.com\n")
    # A has spent the whole monthly budget (a usage row as billing writes it): A's calls stop, B's go on.
    with Store(room.data_dir) as store:
        with store.transaction() as db:
            db.execute(
                "INSERT INTO usage (request_id, org_id, project_id, key_id, endpoint, model, input_tokens,"
                " cached_tokens, output_tokens, input_pico, cached_pico, output_pico, cost_pico, created_at)"
                " VALUES ('req_x', ?, ?, 'key_x', '/v1/chat/completions', 'gpt-4o-mini', 0, 0, 0, 0, 0, 0, ?,"
                " CAST(strftime('%s', 'now') AS INTEGER))",
                (students[0]["organization_id"], students[0]["project_id"], 2 * 10**12),
            )
    with pytest.raises(openai.RateLimitError) as refused:
        _chat(_client(room, students[0]["api_key"]))
    assert refused.value.code == "organization_spend_limit_exceeded"
    _chat(_client(room, students[1]["api_key"]))


def test_report_and_page_never_show_a_full_key(
        room: SandboxServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    students = _create(room, tmp_path, capsys, "name,email\nKey Check,keys@example.com\n")
    key = students[0]["api_key"]
    capsys.readouterr()
    for form in ([], ["--json"], ["--csv"]):
        assert main(["classroom", "report", "--data", str(room.data_dir), *form]) == 0
        out = capsys.readouterr().out
        assert "keys@example.com" in out and key not in out and key[-4:] in out
    with httpx.Client(base_url=room.url, follow_redirects=True) as browser:
        assert "Operator token" in browser.get("/classroom").text
        assert browser.post("/classroom", data={"operator_token": "kl-op-wrong"}).status_code == 403
        signed_in = browser.post("/classroom", data={"operator_token": room.operator_token})
        assert signed_in.status_code == 200 and "keys@example.com" in signed_in.text
        assert key not in signed_in.text and room.operator_token not in signed_in.text
        assert browser.cookies["keylab_instructor"] != room.operator_token
        # every link and form is relative, so the page works under a path prefix (JupyterHub)
        assert not re.search(r'(href|action|src)="/', signed_in.text)
        csv_text = browser.get("/classroom.csv").text
        assert csv_text.startswith("name,email,") and "keys@example.com" in csv_text and key not in csv_text
        forged = browser.post("/classroom", data={"email": "keys@example.com", "csrf": "nope"})
        assert forged.status_code == 403
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', signed_in.text)[1]
        reset = browser.post("/classroom", data={"email": "keys@example.com", "csrf": csrf})
        assert reset.status_code == 200 and "Student reset" in reset.text
    with httpx.Client(base_url=room.url) as stranger:
        assert stranger.get("/classroom.csv", follow_redirects=False).status_code == 303


def test_progress_reaches_the_class_sandbox_with_the_students_key(
        room: SandboxServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    students = _create(room, tmp_path, capsys, "name,email\nPro Gress,progress@example.com\nOther,other@example.com\n")
    env = {"OPENAI_API_KEY": students[0]["api_key"], "OPENAI_BASE_URL": room.base_url}
    assert report_check("03.1", "failed", env)
    assert report_check("03.1", "passed", env)
    assert report_check("03.1", "failed", env)  # a later failure keeps the best result
    assert report_check("03.2", "not-attempted", env)
    report = _report(room, capsys)
    assert report["progress@example.com"]["exercises_passed"] == 1
    assert report["progress@example.com"]["exercises_tried"] == 1
    assert report["progress@example.com"]["last_check"] == "03.2 not-attempted"
    assert report["other@example.com"]["exercises_passed"] == 0
    assert not report_check("03.1", "passed", {**env, "OPENAI_API_KEY": "sk-proj-unknown"})
    assert not report_check("03.1", "bogus", env)


def test_progress_is_never_sent_to_the_real_api(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("report_check must not send anything here")

    monkeypatch.setattr(httpx, "post", no_network)
    monkeypatch.setattr(httpx, "get", no_network)
    sandbox_key = "sk-proj-" + "a" * 40
    assert not report_check("03.1", "passed", {"OPENAI_API_KEY": sandbox_key})
    assert not report_check("03.1", "passed", {"OPENAI_API_KEY": sandbox_key,
                                                "OPENAI_BASE_URL": "https://api.openai.com/v1"})
    assert not report_check("03.1", "passed", {"OPENAI_API_KEY": real_shaped_key(),
                                                "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"})


def test_reset_gives_a_fresh_start_and_optionally_a_new_key(
        room: SandboxServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    students = _create(room, tmp_path, capsys, "name,email\nRe Set,reset@example.com\n")
    old_key = students[0]["api_key"]
    _chat(_client(room, old_key))
    report_check("04.1", "passed", {"OPENAI_API_KEY": old_key, "OPENAI_BASE_URL": room.base_url})
    capsys.readouterr()
    assert main(["classroom", "reset", "--data", str(room.data_dir), "--email", "RESET@example.com", "--new-key"]) == 0
    new_key = re.search(r"OPENAI_API_KEY=(\S+)", capsys.readouterr().out)[1]
    row = _report(room, capsys)["reset@example.com"]
    assert (row["requests"], row["spend_usd"], row["balance_usd"], row["exercises_passed"]) == (0, "0", "2", 0)
    with pytest.raises(openai.AuthenticationError):
        _chat(_client(room, old_key))
    _chat(_client(room, new_key))
    assert main(["classroom", "reset", "--data", str(room.data_dir), "--email", "nobody@example.com"]) == 1
    assert "No student with the email nobody@example.com" in capsys.readouterr().err


def test_create_refuses_known_emails_and_bad_rosters_creating_nothing(
        room: SandboxServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _create(room, tmp_path, capsys, "name,email\nFirst,dup@example.com\n")
    path = tmp_path / "again.csv"
    path.write_text("name,email\nNew One,new-one@example.com\nFirst,DUP@example.com\n")
    assert main(["classroom", "create", "--data", str(room.data_dir), "--roster", str(path), "--budget-usd", "2"]) == 1
    assert "already have an account" in capsys.readouterr().err
    assert "new-one@example.com" not in _report(room, capsys)
    assert main(["classroom", "create", "--data", str(room.data_dir), "--roster", str(path),
                 "--budget-usd", "two"]) == 2
    assert "--budget-usd must be an amount" in capsys.readouterr().err


def test_create_prints_env_lines_and_writes_env_files(
        room: SandboxServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "r.csv"
    path.write_text("name,email\nEnv Files,env-files@example.com\n")
    capsys.readouterr()
    assert main(["classroom", "create", "--data", str(room.data_dir), "--roster", str(path), "--budget-usd", "1.5",
                 "--base-url", "http://192.0.2.10:8765/v1", "--env-dir", str(tmp_path / "env")]) == 0
    out = capsys.readouterr().out
    key = re.search(r"OPENAI_API_KEY=(sk-proj-\S+)", out)[1]
    assert "OPENAI_BASE_URL=http://192.0.2.10:8765/v1" in out
    env_file = tmp_path / "env" / "env-files@example.com.env"
    assert key in env_file.read_text() and env_file.stat().st_mode & 0o077 == 0


def test_env_files_written_again_are_readable_only_by_you(
        room: SandboxServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An EMAIL.env already there (say 0o644, from an earlier copy) is not left readable by others."""
    env_dir = tmp_path / "env"
    env_dir.mkdir()
    env_file = env_dir / "rewritten@example.com.env"
    env_file.write_text("# an old file\n")
    env_file.chmod(0o644)
    path = tmp_path / "r.csv"
    path.write_text("name,email\nRe Written,rewritten@example.com\n")
    assert main(["classroom", "create", "--data", str(room.data_dir), "--roster", str(path), "--budget-usd", "1",
                 "--env-dir", str(env_dir)]) == 0
    key = re.search(r"OPENAI_API_KEY=(sk-proj-\S+)", capsys.readouterr().out)[1]
    assert key in env_file.read_text() and "an old file" not in env_file.read_text()
    assert env_file.stat().st_mode & 0o777 == 0o600


# ---------------------------------------------------------------- a sandbox elsewhere on the network


def test_a_sandbox_at_a_non_loopback_address_counts_as_a_sandbox(
        room: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Detected by asking the server (its health answer's header), not from the address."""
    monkeypatch.setattr(environment, "is_loopback_url", lambda url: False)  # as if it were 192.168.x.y
    key = {"OPENAI_API_KEY": "sk-proj-" + "a" * 40}
    assert environment.mode({**key, "OPENAI_BASE_URL": room.base_url}) == "sandbox"
    with other_server(200, "application/json", b'{"status": "ok"}') as (plain_http, _):  # 200 to everything
        assert environment.mode({**key, "OPENAI_BASE_URL": plain_http}) == "not configured"


def test_binding_beyond_loopback_needs_allow_remote(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sandbox", "--host", "0.0.0.0", "--port", "0"]) == 2
    assert "--allow-remote" in capsys.readouterr().err


def test_error_answers_of_one_event_loop_turn_are_counted_in_one_write(tmp_path: Path) -> None:
    """A storm of errors costs one transaction per loop turn, and every error is counted."""
    import asyncio

    from keylab.sandbox.classroom.activity import ErrorTally
    from keylab.sandbox.clock import Clock
    from keylab.sandbox.store import Store

    with Store(tmp_path / "data") as store:
        tally = ErrorTally(store, Clock(store))
        writes = []
        original = store.transaction

        def counting(*args: Any, **kwargs: Any) -> Any:
            writes.append(1)
            return original(*args, **kwargs)

        store.transaction = counting  # type: ignore[method-assign]

        async def storm() -> None:
            for _ in range(50):
                tally.add("org_a", "rate_limit_exceeded", 429)
            tally.add("org_b", "invalid_api_key", 401)
            await asyncio.sleep(0)  # the turn ends: one write
            tally.add("org_a", "rate_limit_exceeded", 429)
            await asyncio.sleep(0)

        asyncio.run(storm())
        tally.add("org_b", "invalid_api_key", 401)  # no loop: written at once
        rows = {(r["org_id"], r["code"]): (r["count"], r["status"])
                for r in store.query("SELECT * FROM api_error_counts")}
    assert rows == {("org_a", "rate_limit_exceeded"): (51, 429), ("org_b", "invalid_api_key"): (2, 401)}
    assert len(writes) == 3


def test_a_malformed_progress_report_gets_the_apis_400(
        room: SandboxServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    student = _create(room, tmp_path, capsys, "name,email\nBad Report,bad-report@example.com\n")[0]
    headers = {"Authorization": f"Bearer {student['api_key']}"}
    url = room.url + "/sandbox/progress"
    for body in ({"exercise_id": "03.1", "status": "done"}, {"exercise_id": "../x", "status": "passed"}):
        answer = httpx.post(url, json=body, headers=headers)
        assert answer.status_code == 400
        assert answer.json()["error"]["type"] == "invalid_request_error"
        assert '"exercise_id": "03.1"' in answer.json()["error"]["message"]
        assert answer.headers["x-request-id"]
    assert httpx.post(url, content=b"[1]", headers=headers).status_code == 400  # JSON, but not an object


def test_signing_up_with_a_class_address_says_what_to_do(
        room: SandboxServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Lesson 01 has learners sign up in the dashboard; a class student's own address is taken by
    their class account, which has no password: the form says so, and what to use instead."""
    _create(room, tmp_path, capsys, "name,email\nSign Up,signup@example.com\n")
    with Store(room.data_dir) as store:
        with pytest.raises(FlowError, match=r"your class account .* signup\+practice@example\.com"):
            sign_up(store, Clock(store), email="Signup@Example.COM", password="a-long-pass-phrase-1")
        assert sign_up(store, Clock(store), email="signup+practice@example.com", password="a-long-pass-phrase-1")

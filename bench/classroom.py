"""Classroom benchmark: one class sandbox under N simulated students (default 200).

    .venv/bin/python bench/classroom.py [--students 200] [--timeout 300]

The sandbox runs in its own process (`keylab sandbox --port 0`), as it would for a class. The
instructor's set-up is `keylab.sandbox.classroom.students.create_class` (one organization, key,
budget and rate limit per student). Then every student starts at once (a room pressing "Run All"),
each on a thread of their own, and runs the code cells of lessons 03 to 06 as the notebooks write
them: the official SDK (`openai.OpenAI`, a new client where the notebook makes one, the SDK's
default retries where the notebook keeps them), and for what a lesson stages (practice accounts,
credit, a key's rate limit, the student's clock, faults, the Outbox) `ControlClient(url, key)` with
the student's own key, which is what `ControlClient.from_env()` gives a class student. The operator
token is never used for a student. bench/README.md lists the calls.

Prints, asserts nothing: wall time, requests per second, p50/p95/p99 latency of the SDK calls and
of the control-plane requests, whether every successful billed call left exactly one usage row in
its organization (the student's own and each of their practice accounts: "no usage row lost"),
the errors the lessons expect, anything else as unexpected, whether one student's clock or staged
faults reached another ("leaks": every practice account's answer `created` must be on its
student's own clock and the class account's on the sandbox's, the clock reads each student's own offset, a 5xx comes only while a student has one staged, the Outbox
shows only mail about the student's own projects), and the sandbox's memory and CPU.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import openai
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import Response
from sandbox import _cpu_seconds  # bench/sandbox.py: the server's CPU time, from /proc

from keylab.guard import BudgetExceeded, BudgetGuard, sandbox_clock
from keylab.keys import generate_sandbox_key
from keylab.lessons.costs import TICKETS
from keylab.pricing import COURSE_MODEL, cost_of
from keylab.sandbox.classroom.roster import RosterEntry
from keylab.sandbox.classroom.students import create_class
from keylab.sandbox.client import ControlClient
from keylab.sandbox.clock import Clock
from keylab.sandbox.server import connection_cap
from keylab.sandbox.store import Store
from keylab.spend import fetch_spend

# The notebooks' own literals.
HELLO = [{"role": "user", "content": "Say hello in one short sentence."}]
HELLO_06 = [{"role": "user", "content": "Say hello."}]
HAIKU = [{"role": "user", "content": "Write a haiku about API keys."}]
QUESTIONS = ("What is a token?", "Why does output cost more than input?", "What is prompt caching?")
LONG = "Explain, step by step, why a monthly budget protects a shared API account. " * 250
EXPENSIVE_MODEL = "gpt-6-astra"
BATCH_MODEL = "gpt-6-sol"
ALERT_TO = "you@example.com"  # every student's lesson 06 sends its alert here: the Outbox must tell them apart


class Mismatch(Exception):
    """A lesson step did not do what the notebook shows (counted as unexpected)."""


@dataclass
class Tally:
    """One student's outcomes."""

    billed: Counter[str] = field(default_factory=Counter)  # organization id -> successful billed calls
    expected: Counter[str] = field(default_factory=Counter)  # "401 invalid_api_key", "429 insufficient_quota", …
    unexpected: Counter[str] = field(default_factory=Counter)
    leaks: Counter[str] = field(default_factory=Counter)  # another student's clock or fault seen, or mail
    guard_refused: int = 0  # calls a BudgetGuard refused before sending: no request, no latency
    not_sent: int = 0  # calls the SDK refused on this computer (no key, a key with a newline)
    statuses: Counter[int] = field(default_factory=Counter)  # every /v1 response, by HTTP status
    requests: int = 0  # HTTP requests to /v1, retries included
    control: Counter[str] = field(default_factory=Counter)  # requests to the control plane, by "METHOD /path"
    finished: bool = False
    stamped: int = 0  # answers whose `created` was checked against this student's clock
    notes: Counter[str] = field(default_factory=Counter)  # where the lessons' loops stopped


def _label(error: BaseException) -> str:
    status = getattr(error, "status_code", None)
    code = getattr(error, "code", None)
    name = str(status) if status else type(error).__name__
    if isinstance(error, openai.APIConnectionError) and error.__cause__ is not None:  # what httpx saw
        name += f" ({type(error.__cause__).__name__}: {error.__cause__})"
    return f"{name} {code}" if code else name


class TimedControl(ControlClient):
    """The student's `ControlClient` (their own key), with its requests timed and counted."""

    def __init__(self, url: str, key: str, student: Student) -> None:
        super().__init__(url, key)
        self.student = student

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            return super()._request(method, path, body)
        finally:
            self.student.control_latencies.append(time.perf_counter() - started)
            where = "/sandbox/keys/{id}/limits" if path.startswith("/sandbox/keys/") else path.split("?")[0]
            self.student.tally.control[f"{method} {where}"] += 1


class Student:
    """One learner running lessons 03–06 with the key the class gave them, and nothing else."""

    def __init__(self, base_url: str, key: str, org_id: str, state_dir: Path,
                 latencies: list[float], control_latencies: list[float]) -> None:
        self.base_url, self.key, self.org_id, self.state_dir = base_url, key, org_id, state_dir
        self.latencies, self.control_latencies = latencies, control_latencies
        self.tally = Tally()
        self.offset = 0.0  # how far this student moved their clock: every practice account's answer shows it
        self.staged = False  # a 5xx is expected only while this student has a fault staged
        self.step = "start"  # the notebook cell being run, for the report of what went wrong where
        self.done = False  # run() returned, whether or not every lesson went through
        self.control = TimedControl(base_url.removesuffix("/v1"), key, self)

    # --- clients, as the notebooks make them, with a hook that sees every response ---

    def _on_response(self, response: httpx.Response) -> None:
        self.tally.requests += 1
        self.tally.statuses[response.status_code] += 1
        if response.status_code >= 500 and not self.staged:
            self.tally.leaks[f"{response.status_code} not staged by this student"] += 1

    def http_client(self, *request_hooks: Callable[[httpx.Request], Any]) -> httpx.Client:
        return openai.DefaultHttpxClient(event_hooks={"request": list(request_hooks), "response": [self._on_response]})

    def openai(self, *, request_hooks: tuple[Callable[[httpx.Request], Any], ...] = (), **kwargs: Any) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.base_url, http_client=self.http_client(*request_hooks), **kwargs)

    # --- one call: timed, its outcome counted, its answer's time checked against this student's clock ---

    def call(self, send: Callable[[], Any], *, org: str | None = None,
             expect: type[BaseException] | None = None, code: str | None = None, or_success: bool = False) -> Any:
        """Send one call. org: the organization it bills when it succeeds. expect: the error the
        lesson shows (its `code` too, when given), unless or_success; anything else is unexpected."""
        wall, started = time.time(), time.perf_counter()
        try:
            answer = send()
        except BudgetExceeded:
            raise
        except (openai.APIError, httpx.HTTPError) as error:
            self.latencies.append(time.perf_counter() - started)
            if expect is not None and isinstance(error, expect) and (code is None or getattr(error, "code", None) == code):
                self.tally.expected[_label(error)] += 1
                return error
            self.tally.unexpected[f"{self.step}: {_label(error)}"] += 1
            return error
        self.latencies.append(time.perf_counter() - started)
        if expect is not None and not or_success:
            self.tally.unexpected[f"{self.step}: succeeded, expected {expect.__name__} {code or ''}".strip()] += 1
        if org is not None:
            self.tally.billed[org] += 1
        self.check_time(answer, wall, time.time(), org)
        return answer

    def check_time(self, answer: Any, sent: float, received: float, org: str | None) -> None:
        """An answer is stamped on its student's clock (clock.py): for a practice account, real time
        plus this student's own offset, never another student's; for the account the class gave
        them (`org` None or theirs), the sandbox's time, whatever they moved."""
        if hasattr(answer, "parse") and hasattr(answer, "http_request"):  # `with_raw_response`
            answer = answer.parse()
        if isinstance(answer, (ChatCompletion, ChatCompletionChunk)):
            created: Any = answer.created
        elif isinstance(answer, Response):
            created = answer.created_at
        elif isinstance(answer, httpx.Response) and answer.status_code == 200:
            created = answer.json().get("created")
        else:
            return  # not an answer to a prompt (a model's `created` is its release, a key's its making)
        if not isinstance(created, (int, float)):
            return
        self.tally.stamped += 1
        offset = 0.0 if org in (None, self.org_id) else self.offset
        if not sent + offset - 1 <= created <= received + offset + 1:
            self.tally.leaks[f"answer stamped {created - sent - offset:+.0f} s off this student's clock"] += 1

    def not_sent(self, send: Callable[[], Any], expect: type[BaseException]) -> None:
        """A call the SDK refuses on this computer: nothing reaches the sandbox."""
        before = self.tally.requests
        try:
            send()
            self.tally.unexpected[f"{self.step}: succeeded, expected {expect.__name__}"] += 1
        except expect:
            self.tally.not_sent += 1
        if self.tally.requests != before:
            self.tally.unexpected["a call the SDK should refuse reached the sandbox"] += 1

    def stream(self, send: Callable[[], Any], org: str) -> None:
        wall, started = time.time(), time.perf_counter()
        try:
            first = None
            for event in send():
                first = first or getattr(event, "response", None) or event
            self.tally.billed[org] += 1
            self.check_time(first, wall, time.time(), org)
        except openai.APIError as error:
            self.tally.unexpected[f"{self.step}: {_label(error)}"] += 1
        self.latencies.append(time.perf_counter() - started)

    def check_clock(self, reading: dict[str, Any], where: str) -> None:
        """The control plane's clock for this student: their own offset, nobody else's."""
        if abs(reading["offset_seconds"] - self.offset) > 0.001:
            self.tally.leaks[f"clock {where}: offset {reading['offset_seconds']:.0f} s, moved {self.offset:.0f} s"] += 1

    def mismatch(self, what: str) -> None:
        self.tally.unexpected[what] += 1

    # --- the lessons ---

    def run(self) -> Tally:
        try:
            self.check_clock(self.control.clock(), "at the start")
            with self.openai(api_key=self.key) as client:  # `client = OpenAI()`: the SDK's default retries
                self.lesson_03(client)
                self.lesson_04(client)
            self.lesson_05()
            self.lesson_06()
            self.check_clock(self.control.clock(), "at the end")
            self.tally.finished = True
        except Exception as error:  # one student's failure is a finding, not the end of the bench
            self.tally.unexpected[f"{self.step}: stopped the lessons: {type(error).__name__}: {str(error)[:160]}"] += 1
        self.done = True
        return self.tally

    def lesson_03(self, client: openai.OpenAI) -> None:
        own = self.org_id
        self.step = "03"
        self.call(lambda: client.chat.completions.create(model=COURSE_MODEL, messages=HELLO), org=own)
        self.call(lambda: client.responses.create(model=COURSE_MODEL, input=HELLO[0]["content"]), org=own)
        headers = {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}
        body = {"model": COURSE_MODEL, "messages": HELLO}
        for _ in ("httpx cell", "curl cell (the same request)"):
            reply = self.call(lambda: self.raw_post(body, headers), org=own)
            if isinstance(reply, httpx.Response) and reply.status_code != 200:
                self.tally.billed[own] -= 1
                self.mismatch(f"lesson 03 httpx: HTTP {reply.status_code}")
        self.stream(lambda: client.chat.completions.create(model=COURSE_MODEL, messages=HAIKU, stream=True,
                                                           stream_options={"include_usage": True}), own)
        self.stream(lambda: client.responses.create(model=COURSE_MODEL, input=HAIKU[0]["content"], stream=True), own)
        raw = self.call(lambda: client.chat.completions.with_raw_response.create(model=COURSE_MODEL, messages=HELLO),
                        org=own)
        if not isinstance(raw, Exception):
            raw.parse()

    def raw_post(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
        """Lesson 03's and 04's `httpx.post` (and the curl cell's request): not through the SDK."""
        reply = httpx.post(self.base_url + "/chat/completions", headers=headers, json=body, timeout=30)
        self._on_response(reply)
        return reply

    def try_key(self, api_key: str, *, works: bool, code: str | None = "invalid_api_key") -> None:
        """Lesson 04's `try_key`: list models (free) with a new client for this key."""
        with self.openai(api_key=api_key, max_retries=0) as probe:
            self.call(lambda: probe.models.list(), expect=None if works else openai.AuthenticationError, code=code)

    def lesson_04(self, client: openai.OpenAI) -> None:
        control, own = self.control, self.org_id
        self.step = "04 keys"
        self.not_sent(lambda: openai.OpenAI(api_key="", base_url=self.base_url), openai.OpenAIError)
        reply = self.call(lambda: self.raw_post({"model": COURSE_MODEL, "messages": HELLO}))  # no key at all
        if not isinstance(reply, httpx.Response) or reply.status_code != 401:
            self.mismatch("lesson 04 no key: not a 401")
        else:
            self.tally.expected["401 (no key)"] += 1
        made_up = generate_sandbox_key()
        self.try_key(made_up, works=False)
        self.try_key(self.key[:-6], works=False)
        self.try_key(f'"{self.key}"', works=False)
        with self.openai(api_key=self.key + "\n", max_retries=0) as probe:
            self.not_sent(lambda: probe.models.list(), openai.APIConnectionError)

        self.step = "04 throwaway"
        throwaway = control.create_account(credits_usd=1)
        self.try_key(throwaway["api_key"], works=True)
        with self.openai(admin_api_key=throwaway["admin_key"]) as admin:
            self.call(lambda: admin.admin.organization.projects.api_keys.delete(
                throwaway["api_key_id"], project_id=throwaway["project_id"]))
        self.try_key(throwaway["api_key"], works=False)

        self.step = "04 unfunded"
        unfunded = control.create_account(credits_usd=0)
        with self.openai(api_key=unfunded["api_key"], max_retries=0) as new_client:
            self.call(lambda: new_client.models.list())
            self.call(lambda: new_client.chat.completions.create(model=COURSE_MODEL, messages=HELLO),
                      expect=openai.RateLimitError, code="insufficient_quota")
            if control.add_credit(unfunded["organization_id"], 5)["balance_usd"] != "5":
                self.mismatch("lesson 04 add_credit: balance is not $5")
            self.call(lambda: new_client.chat.completions.create(model=COURSE_MODEL, messages=HELLO),
                      org=unfunded["organization_id"])

        self.step = "04 rpm=3"
        busy = control.create_account(credits_usd=1)
        control.set_key_limits(busy["api_key_id"], rpm=3)
        with self.openai(api_key=busy["api_key"], max_retries=0) as limited:
            outcomes = [self.call(lambda: limited.chat.completions.create(model=COURSE_MODEL, messages=HELLO),
                                  org=busy["organization_id"], expect=openai.RateLimitError if n == 4 else None,
                                  code="rate_limit_exceeded") for n in range(1, 5)]
            rate_error = outcomes[-1]
            if not isinstance(rate_error, openai.RateLimitError):
                raise Mismatch("lesson 04: the 4th call under rpm=3 was not refused")
            wait = int(rate_error.response.headers["retry-after"])
            moved = control.advance_clock(wait)  # in real code: time.sleep(wait)
            self.offset += wait
            self.check_clock(moved, "after moving it by retry-after")
            self.call(lambda: limited.chat.completions.create(model=COURSE_MODEL, messages=HELLO),
                      org=busy["organization_id"])

        self.step = "04 models"
        for model in ("gpt-6-lunar", "o1"):
            self.call(lambda model=model: client.chat.completions.create(model=model, messages=HELLO),
                      expect=openai.NotFoundError, code="model_not_found")
        self.call(lambda: client.models.retrieve(COURSE_MODEL))

        self.step = "04 faults"
        sent: list[httpx.Request] = []
        http_client = self.http_client(sent.append)
        counted = openai.OpenAI(api_key=self.key, base_url=self.base_url, http_client=http_client)  # 2 retries
        self.staged = True
        control.inject_fault("server_error", count=1, path="/v1/chat/completions")
        sent.clear()
        self.call(lambda: counted.chat.completions.create(model=COURSE_MODEL, messages=HELLO), org=own)
        if len(sent) != 2:
            self.tally.leaks[f"staged 500 then the default retries: {len(sent)} requests sent, not 2"] += 1
        control.inject_fault("server_error", count=1, path="/v1/chat/completions")
        sent.clear()
        self.call(lambda: counted.with_options(max_retries=0).chat.completions.create(
            model=COURSE_MODEL, messages=HELLO), expect=openai.InternalServerError)
        if len(sent) != 1:
            self.tally.leaks[f"staged 500, max_retries=0: {len(sent)} requests sent, not 1"] += 1
        self.staged = False

        self.step = "04 no credit"
        empty = control.create_account(credits_usd=0)
        sent.clear()
        no_credit = openai.OpenAI(api_key=empty["api_key"], base_url=self.base_url, http_client=http_client)
        self.call(lambda: no_credit.chat.completions.create(model=COURSE_MODEL, messages=HELLO),
                  expect=openai.RateLimitError, code="insufficient_quota")
        if len(sent) != 3:
            self.mismatch(f"lesson 04 no credit, default retries: {len(sent)} requests sent, not 3")
        http_client.close()

        self.try_key(made_up, works=False)

    def practice_account(self) -> tuple[dict[str, Any], openai.OpenAI, openai.OpenAI]:
        """`keylab.lessons.costs.practice_account()` on a class sandbox: a new $5 account made
        with the student's key (it joins their tenant), its client and its admin client."""
        account = self.control.create_account(credits_usd="5")
        return (account, self.openai(api_key=account["api_key"], max_retries=0),
                self.openai(admin_api_key=account["admin_key"], max_retries=0))

    def lesson_05(self) -> None:
        self.step = "05"
        account, client, admin = self.practice_account()
        org = account["organization_id"]
        with client, admin:
            answers = [self.call(lambda q=q: client.chat.completions.create(
                model=COURSE_MODEL, messages=[{"role": "user", "content": q}], max_completion_tokens=100), org=org)
                for q in QUESTIONS]
            if any(isinstance(a, Exception) for a in answers):
                raise Mismatch("lesson 05: a question failed")
            predicted = sum(cost_of(a.model, a.usage.prompt_tokens, a.usage.completion_tokens).total_usd
                            for a in answers)
            today = self.control.today()  # keylab.lessons.costs.today(): the student's clock
            # UsageReport(account.admin, days=1, today=today()) reads these APIs (without drawing them)
            bill = self.call(lambda: fetch_spend(admin, today, today + dt.timedelta(days=1)))
            if isinstance(bill, Exception) or bill.requests != 3 or bill.total != predicted:
                self.mismatch("lesson 05: the usage and costs APIs do not match the three calls")

    def lesson_06(self) -> None:
        self.step = "06 budget"
        account, client, admin = self.practice_account()
        org_id, project = account["organization_id"], account["project_id"]
        with client, admin:
            org = admin.admin.organization
            self.call(lambda: org.projects.spend_alerts.create(
                project, currency="USD", interval="month", threshold_amount=3,
                notification_channel={"type": "email", "recipients": [ALERT_TO]}))
            self.call(lambda: org.projects.spend_limit.update(project, currency="USD", interval="month",
                                                              threshold_amount=5))
            budget = self.call(lambda: org.projects.spend_limit.retrieve(project))
            if getattr(getattr(budget, "enforcement", None), "status", None) != "enforcing":
                self.mismatch("lesson 06: the 5-cent budget is not enforcing")

            def expensive_call() -> Any:
                return client.chat.completions.create(model=EXPENSIVE_MODEL, messages=[{"role": "user", "content": LONG}],
                                                      max_completion_tokens=50)

            for n in range(1, 20):
                if isinstance(self.call(expensive_call, org=org_id, expect=openai.RateLimitError,
                                        code="project_spend_limit_exceeded", or_success=True), openai.APIError):
                    self.tally.notes[f"06 expensive loop: 429 at call {n}"] += 1
                    break
            else:
                self.mismatch("lesson 06: 19 expensive calls and no budget 429")
            self.call(expensive_call, expect=openai.RateLimitError, code="project_spend_limit_exceeded")  # "again"

            self.step = "06 outbox"
            mail = self.control.outbox(ALERT_TO)
            if not mail:
                self.mismatch("lesson 06: no alert e-mail in the Outbox")
            elif any(project not in message["body"] for message in mail):
                self.tally.leaks["the Outbox showed mail about another student's project"] += 1

            self.step = "06 raised"
            self.call(lambda: org.projects.spend_limit.update(project, currency="USD", interval="month",
                                                              threshold_amount=500))
            self.call(expensive_call, org=org_id)

            self.step = "06 rate limits"
            listed = self.call(lambda: org.projects.rate_limits.list_rate_limits(project))
            mine = {r.model: r for r in listed}.get(COURSE_MODEL)
            if mine is None:
                raise Mismatch(f"lesson 06: no rate limit listed for {COURSE_MODEL}")
            self.call(lambda: org.projects.rate_limits.update_rate_limit(mine.id, project_id=project,
                                                                         max_requests_per_1_minute=2))
            for n in range(1, 4):
                self.call(lambda: client.chat.completions.create(model=COURSE_MODEL, messages=HELLO_06),
                          org=org_id, expect=openai.RateLimitError if n == 3 else None, code="rate_limit_exceeded")
            self.call(lambda: org.projects.rate_limits.update_rate_limit(
                mine.id, project_id=project, max_requests_per_1_minute=mine.max_requests_per_1_minute))

            self.guarded_lessons(client, org_id)

    def guarded_lessons(self, client: openai.OpenAI, org_id: str) -> None:
        """Lesson 06's guards on the student's own clock (`sandbox_clock(control)`): a guarded call,
        one refused before sending, the batch, next month on their clock, the resumed batch."""
        self.step = "06 guard"
        clock = sandbox_clock(self.control)
        guard = BudgetGuard(client, budget_usd="0.01", clock=clock)
        self.call(lambda: guard.chat.completions.create(model=COURSE_MODEL, messages=HELLO_06,
                                                        max_completion_tokens=50), org=org_id)
        try:
            guard.chat.completions.create(model=EXPENSIVE_MODEL, messages=[{"role": "user", "content": LONG}],
                                          max_completion_tokens=50)
            self.mismatch("lesson 06: the guard sent the expensive call")
        except BudgetExceeded:
            self.tally.guard_refused += 1

        self.step = "06 batch"
        state_file = self.state_dir / "batch-spend.json"
        summaries: dict[int, str] = {}
        if self.run_batch(BudgetGuard(client, budget_usd="0.006", state_file=state_file, clock=clock),
                          summaries, org_id):
            self.mismatch("lesson 06: the batch finished within $0.006")
        self.step = "06 next month"
        restarted = BudgetGuard(client, budget_usd="0.006", state_file=state_file, clock=clock)
        reading = self.control.clock()
        now = dt.datetime.fromtimestamp(reading["now"], dt.timezone.utc)
        first_of_next = (now.replace(day=1) + dt.timedelta(days=32)).replace(day=1, hour=0, minute=0, second=1)
        moved = self.control.advance_clock((first_of_next - now).total_seconds())
        self.offset += (first_of_next - now).total_seconds()
        self.check_clock(moved, "after moving it to next month")
        if restarted.spent_usd != 0:
            self.tally.leaks["the guard's month did not follow this student's clock"] += 1
        if not self.run_batch(restarted, summaries, org_id):
            self.mismatch("lesson 06: the resumed batch did not finish next month")
        self.offset = 0.0
        self.check_clock(self.control.reset_clock(), "after resetting it")

    def run_batch(self, guard: BudgetGuard, results: dict[int, str], org_id: str) -> bool:
        """Lesson 06's `run_batch`: every ticket not done yet, until the guard refuses one."""
        for number, ticket in enumerate(TICKETS):
            if number in results:
                continue
            try:
                reply = self.call(lambda ticket=ticket: guard.chat.completions.create(
                    model=BATCH_MODEL, max_completion_tokens=60,
                    messages=[{"role": "user", "content": f"Summarise this support ticket in one line: {ticket}"}]),
                    org=org_id)
            except BudgetExceeded:
                self.tally.guard_refused += 1
                self.tally.notes[f"06 batch: stopped after {len(results)} tickets"] += 1
                return False
            if isinstance(reply, Exception):
                raise Mismatch("lesson 06: a batch call failed")
            results[number] = reply.choices[0].message.content
        return True


def _start_sandbox(data_dir: Path, log: Path) -> tuple[subprocess.Popen[str], str]:
    """The class sandbox in its own process; what it logs (an exception it caught) goes to `log`."""
    with log.open("w") as errors:
        process = subprocess.Popen([sys.executable, "-m", "keylab", "sandbox", "--port", "0", "--data",
                                    str(data_dir)], stdout=subprocess.PIPE, stderr=errors, text=True)
    assert process.stdout is not None
    first = process.stdout.readline().strip()
    if "listening on" not in first:
        process.kill()
        raise SystemExit(f"the sandbox did not start: {first}")
    return process, first.rsplit(" ", 1)[-1]


def _peak_rss_mb(pid: int) -> float | None:
    """The sandbox process's peak resident memory (Linux), for sizing a class's machine."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


class FdSampler(threading.Thread):
    """The sandbox's open file descriptors (its connections, mostly), sampled every 0.2 s."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0, threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.2):
            try:
                self.peak = max(self.peak, len(os.listdir(f"/proc/{self.pid}/fd")))
            except OSError:
                return


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def _ms(values: list[float]) -> str:
    if not values:
        return "none"
    return (f"p50 {statistics.median(values) * 1000:.0f} ms, p95 {_percentile(values, 0.95) * 1000:.0f} ms, "
            f"p99 {_percentile(values, 0.99) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms")


def _quiet_tls() -> None:
    """Every httpx client the lessons' code makes (a new `OpenAI()` per `try_key`, one per control-plane
    request) loads the CA bundle: 20 ms of CPU each, about 15 s for a class, which on 200 laptops is
    each laptop's own but here would be taken from the two cores the sandbox runs on. Every
    connection of this bench is plain HTTP on loopback, so an empty trust store changes nothing sent."""
    empty = Path(tempfile.mkdtemp(prefix="keylab-bench-certs-"))
    os.environ.pop("SSL_CERT_FILE", None)
    os.environ["SSL_CERT_DIR"] = str(empty)


def run(base_url: str, students: list[Any], state_dir: Path, timeout: float
        ) -> tuple[list[Student], list[float], list[float], float]:
    latencies: list[float] = []
    control_latencies: list[float] = []
    learners = []
    for number, student in enumerate(students):
        (state_dir / str(number)).mkdir(parents=True)
        learners.append(Student(base_url, student.api_key, student.organization_id, state_dir / str(number),
                                latencies, control_latencies))
    start = threading.Barrier(len(learners) + 1)  # everyone presses "Run All" at once

    def lessons(learner: Student) -> Tally:
        start.wait()
        return learner.run()

    pool = ThreadPoolExecutor(max_workers=len(learners))
    futures = [pool.submit(lessons, learner) for learner in learners]
    start.wait()
    started = time.perf_counter()
    done, _ = wait(futures, timeout=timeout)
    wall = time.perf_counter() - started
    pool.shutdown(wait=False, cancel_futures=True)
    for future in done:
        future.result()
    return learners, latencies, control_latencies, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--timeout", type=float, default=300.0, help="give up after this many seconds")
    args = parser.parse_args()
    _quiet_tls()
    with tempfile.TemporaryDirectory(prefix="keylab-class-bench-") as tmp:
        data_dir = Path(tmp) / "sandbox"
        with Store(data_dir) as store:
            roster = [RosterEntry(f"Student {i}", f"student{i:03d}@example.com", i + 2) for i in range(args.students)]
            made = time.perf_counter()
            students = create_class(store, Clock(store), roster, budget_usd=Decimal(5))
            made = time.perf_counter() - made
        log = Path(tmp) / "sandbox.log"
        process, base_url = _start_sandbox(data_dir, log)
        fds = FdSampler(process.pid)
        fds.start()
        try:
            learners, latencies, control_latencies, wall = run(base_url, students, Path(tmp) / "students",
                                                               args.timeout)
        finally:
            peak_mb, server_cpu = _peak_rss_mb(process.pid), _cpu_seconds(process.pid)
            fds.stop.set()
            process.terminate()
            process.wait(timeout=10)
        with sqlite3.connect(data_dir / "sandbox.db") as db:
            rows = dict(db.execute("SELECT org_id, COUNT(*) FROM usage GROUP BY org_id").fetchall())
        logged = log.read_text(errors="replace")
    tallies = [learner.tally for learner in learners]
    billed = sum((t.billed for t in tallies), Counter())
    lost = sum(max(0, count - rows.get(org, 0)) for org, count in billed.items())
    extra = sum(max(0, count - billed.get(org, 0)) for org, count in rows.items())
    expected = sum((t.expected for t in tallies), Counter())
    unexpected = sum((t.unexpected for t in tallies), Counter())
    leaks = sum((t.leaks for t in tallies), Counter())
    statuses = sum((t.statuses for t in tallies), Counter())
    requests = sum(t.requests for t in tallies)
    control_paths = sum((t.control for t in tallies), Counter())
    control = sum(control_paths.values())
    finished = sum(t.finished for t in tallies)
    print(f"class of {args.students}: accounts made in {made:.2f} s ({made / args.students * 1000:.1f} ms each); "
          f"{finished} of {args.students} students finished lessons 03-06 in {wall:.2f} s")
    print(f"requests: {requests} to /v1 (retries included) + {control} to the control plane = "
          f"{(requests + control) / wall:.0f} requests/s ({os.cpu_count()} CPUs, students and sandbox on the same "
          f"machine); {len(latencies)} SDK calls = {len(latencies) / wall:.0f} calls/s")
    print(f"latency per SDK call (retries and a guard's own work included): {_ms(latencies)}")
    print(f"latency per control-plane request: {_ms(control_latencies)}")
    print(f"control-plane requests: {dict(control_paths.most_common())}")
    print(f"/v1 responses by status: {dict(sorted(statuses.items()))}")
    print(f"billed calls: {sum(billed.values())} in {len(billed)} organizations; usage rows: {sum(rows.values())}; "
          f"lost: {lost}; extra: {extra}")
    print(f"errors the lessons expect: {dict(sorted(expected.items()))}; refused by a BudgetGuard before sending: "
          f"{sum(t.guard_refused for t in tallies)}; refused by the SDK before sending: "
          f"{sum(t.not_sent for t in tallies)}")
    print(f"unexpected: {sum(unexpected.values())}{f' {dict(unexpected)}' if unexpected else ''}")
    print(f"where the lessons' loops stopped: {dict(sorted(sum((t.notes for t in tallies), Counter()).items()))}")
    print(f"answers checked against their student's clock: {sum(t.stamped for t in tallies)}")
    print(f"leaks between students (clock, faults, Outbox): {sum(leaks.values())}{f' {dict(leaks)}' if leaks else ''}")
    tracebacks = logged.count("Traceback (most recent call last)")
    print(f"exceptions the sandbox logged: {tracebacks}" + (f"; the first:\n{logged[:2000]}" if tracebacks else ""))
    if peak_mb is not None and server_cpu is not None:
        print(f"sandbox: peak memory {peak_mb:.0f} MB; peak open file descriptors {fds.peak} (its cap on connections: "
              f"{connection_cap()} here, as the server's open-files limit allows); CPU {server_cpu:.1f} s of {wall:.1f} s wall "
              f"({server_cpu / (requests + control) * 1000:.2f} ms per request): the rest is the "
              f"{args.students} students' side")
    running = sum(not learner.tally.finished and not learner.done for learner in learners)
    if running:
        print(f"{running} students were still running at --timeout {args.timeout:.0f} s")
        os._exit(1)  # do not wait for their threads


if __name__ == "__main__":
    main()

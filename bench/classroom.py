"""Classroom benchmark: one class sandbox under N simulated students (default 200).

    .venv/bin/python bench/classroom.py [--students 200] [--timeout 180]

The sandbox runs in its own process (`keylab sandbox --port 0`), as it would for a class. The class
is made with `keylab.sandbox.classroom.students.create_class` (one organization, key, budget and rate
limit per student). Then every student starts at once (a room pressing "Run All") and runs, with the
official SDK (`openai.AsyncOpenAI`, one client and connection pool each, no retries) and only the key
the class gave them, the calls of lessons 03 to 06: lesson 03's six billed calls; lesson 04's
student-key calls (a wrong key: 401; two unknown models: 404; list and retrieve models; a chat);
lesson 05's three capped questions; lesson 06's expensive loop until a 429 and the call after it, then
`keylab.guard.BudgetGuard` (on `openai.OpenAI`, a thread per student): a guarded call, a call it
refuses before sending, and the budgeted batch of tickets. What needs an admin key (the usage and
costs APIs, spend limits and alerts, rate-limit updates) or the operator token (the Outbox, the
sandbox's clock) a class student does not have, so it is not sent (bench/README.md says which calls).
Prints, asserts nothing: wall time, calls per second, p50/p95/p99 latency per call, whether every
billed call left exactly one usage row in the student's own organization ("no usage row lost"), and
the errors the lessons expect apart from unexpected ones. Bounded by --timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import openai
from sandbox import _cpu_seconds  # bench/sandbox.py: the server's CPU time, from /proc

from keylab.guard import BudgetExceeded, BudgetGuard
from keylab.lessons.costs import TICKETS
from keylab.pricing import COURSE_MODEL
from keylab.sandbox.classroom.roster import RosterEntry
from keylab.sandbox.classroom.students import create_class
from keylab.sandbox.clock import Clock
from keylab.sandbox.store import Store

HELLO = [{"role": "user", "content": "Say hello in one short sentence."}]
HAIKU = [{"role": "user", "content": "Write a haiku about API keys."}]
# What lessons 05 and 06 send (the notebooks' own literals).
QUESTIONS = ("What is a token?", "Why does output cost more than input?", "What is prompt caching?")
LONG = "Explain, step by step, why a monthly budget protects a shared API account. " * 250
EXPENSIVE_MODEL = "gpt-6-astra"
BATCH_MODEL = "gpt-6-sol"


@dataclass
class Tally:
    """One student's outcomes: what was billed, what the lessons expect to fail, what should not."""

    billed: int = 0
    expected: Counter[str] = field(default_factory=Counter)  # "401", "404", "429 rate_limit_exceeded", …
    unexpected: Counter[str] = field(default_factory=Counter)
    guard_refused: int = 0  # calls the BudgetGuard refused before sending: no request, no latency

    def error(self, error: openai.APIError, *, expected: bool) -> None:
        status = getattr(error, "status_code", None) or type(error).__name__
        code = getattr(error, "code", None)
        (self.expected if expected else self.unexpected)[f"{status} {code}" if code else str(status)] += 1


class Student:
    """One learner's run of lessons 03–06 with the key the class gave them, and nothing else."""

    def __init__(self, base_url: str, key: str, latencies: list[float], state_dir: Path) -> None:
        self.base_url, self.key, self.latencies, self.state_dir = base_url, key, latencies, state_dir
        self.tally = Tally()

    async def _timed(self, call: Any) -> Any:
        started = time.perf_counter()
        try:
            return await call
        finally:
            self.latencies.append(time.perf_counter() - started)

    async def ok(self, call: Any) -> None:
        try:
            await self._timed(call)
            self.tally.billed += 1
        except openai.APIError as error:
            self.tally.error(error, expected=False)

    async def streamed(self, call: Any) -> None:
        started = time.perf_counter()
        try:
            async for _ in await call:
                pass
            self.tally.billed += 1
        except openai.APIError as error:
            self.tally.error(error, expected=False)
        self.latencies.append(time.perf_counter() - started)

    async def fails(self, call: Any, expected: type[openai.APIError]) -> None:
        try:
            await self._timed(call)
            self.tally.unexpected["succeeded but should have failed"] += 1
        except openai.APIError as error:
            self.tally.error(error, expected=isinstance(error, expected))

    async def run(self) -> Tally:
        async with openai.AsyncOpenAI(api_key=self.key, base_url=self.base_url, max_retries=0) as client:
            await self.lesson_03(client)
            await self.lesson_04(client)
            await self.lesson_05(client)
            await self.lesson_06(client)
        # BudgetGuard wraps the synchronous client, as in the lesson: run it on a thread of its own.
        await asyncio.get_running_loop().run_in_executor(None, self.lesson_06_guarded)
        return self.tally

    async def lesson_03(self, client: openai.AsyncOpenAI) -> None:
        await self.ok(client.chat.completions.create(model=COURSE_MODEL, messages=HELLO))
        await self.ok(client.responses.create(model=COURSE_MODEL, input="Say hello in one short sentence."))
        await self.ok(client.chat.completions.with_raw_response.create(model=COURSE_MODEL, messages=HELLO))
        await self.streamed(client.chat.completions.create(model=COURSE_MODEL, messages=HAIKU, stream=True,
                                                           stream_options={"include_usage": True}))
        await self.streamed(client.responses.create(model=COURSE_MODEL, input="Write a haiku about API keys.",
                                                    stream=True))
        await self.ok(client.chat.completions.create(model=COURSE_MODEL, messages=HELLO))

    async def lesson_04(self, client: openai.AsyncOpenAI) -> None:
        """The calls a student's own key makes (the staged failures need the operator token)."""
        wrong = client.with_options(api_key=self.key[:-4] + "xxxx")
        await self.fails(wrong.chat.completions.create(model=COURSE_MODEL, messages=HELLO), openai.AuthenticationError)
        for model in ("gpt-6-lunar", "o1"):
            await self.fails(client.chat.completions.create(model=model, messages=HELLO), openai.NotFoundError)
        for call in (client.models.list(), client.models.retrieve(COURSE_MODEL)):
            try:
                await self._timed(call)
            except openai.APIError as error:
                self.tally.error(error, expected=False)
        await self.ok(client.chat.completions.create(model=COURSE_MODEL, messages=HELLO))

    async def lesson_05(self, client: openai.AsyncOpenAI) -> None:
        """Three capped questions priced from their usage (the usage and costs APIs need an admin key)."""
        for question in QUESTIONS:
            await self.ok(client.chat.completions.create(
                model=COURSE_MODEL, messages=[{"role": "user", "content": question}], max_completion_tokens=100))

    async def lesson_06(self, client: openai.AsyncOpenAI) -> None:
        """The expensive loop until a 429, and the call after it (setting limits needs an admin key)."""
        def expensive() -> Any:
            return client.chat.completions.create(model=EXPENSIVE_MODEL, messages=[{"role": "user", "content": LONG}],
                                                  max_completion_tokens=50)

        for _ in range(1, 20):
            try:
                await self._timed(expensive())
                self.tally.billed += 1
            except openai.RateLimitError as error:
                self.tally.error(error, expected=True)
                break
            except openai.APIError as error:
                self.tally.error(error, expected=False)
        try:  # "again": the lesson shows that retrying changes nothing
            await self._timed(expensive())
            self.tally.billed += 1
        except openai.RateLimitError as error:
            self.tally.error(error, expected=True)
        except openai.APIError as error:
            self.tally.error(error, expected=False)

    def lesson_06_guarded(self) -> None:
        """BudgetGuard: one guarded call, one refused before it is sent, and the budgeted batch of tickets.

        The guard follows this computer's clock: `sandbox_clock()` asks the control plane, which needs
        the operator token a class student does not have (and so does moving the clock to next month).
        """
        with openai.OpenAI(api_key=self.key, base_url=self.base_url, max_retries=0) as client:
            self.guarded(BudgetGuard(client, budget_usd="0.01"), [
                dict(model=COURSE_MODEL, messages=HELLO, max_completion_tokens=50),
                dict(model=EXPENSIVE_MODEL, messages=[{"role": "user", "content": LONG}], max_completion_tokens=50),
            ], stop_when_refused=False)
            batch = BudgetGuard(client, budget_usd="0.006", state_file=self.state_dir / "batch-spend.json")
            self.guarded(batch, [
                dict(model=BATCH_MODEL, max_completion_tokens=60,
                     messages=[{"role": "user", "content": f"Summarise this support ticket in one line: {ticket}"}])
                for ticket in TICKETS
            ], stop_when_refused=True)

    def guarded(self, guard: BudgetGuard, calls: list[dict[str, Any]], *, stop_when_refused: bool) -> None:
        for kwargs in calls:
            started = time.perf_counter()
            try:
                guard.chat.completions.create(**kwargs)
                self.tally.billed += 1
            except BudgetExceeded:
                self.tally.guard_refused += 1
                if stop_when_refused:
                    return
                continue
            except openai.APIError as error:
                self.tally.error(error, expected=False)
            self.latencies.append(time.perf_counter() - started)


def _start_sandbox(data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen([sys.executable, "-m", "keylab", "sandbox", "--port", "0", "--data", str(data_dir)],
                               stdout=subprocess.PIPE, text=True)
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


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(base_url: str, keys: list[str], state_dir: Path, timeout: float) -> tuple[list[Tally], list[float], float]:
    latencies: list[float] = []
    # One thread per student for the guarded (synchronous) calls, so no student waits for a free thread.
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=len(keys)))
    students = []
    for number, key in enumerate(keys):
        (state_dir / str(number)).mkdir(parents=True)
        students.append(Student(base_url, key, latencies, state_dir / str(number)))
    started = time.perf_counter()
    tallies = await asyncio.wait_for(asyncio.gather(*(s.run() for s in students)), timeout)
    return tallies, latencies, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--timeout", type=float, default=180.0, help="give up after this many seconds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="keylab-class-bench-") as tmp:
        data_dir = Path(tmp) / "sandbox"
        with Store(data_dir) as store:
            roster = [RosterEntry(f"Student {i}", f"student{i:03d}@example.com", i + 2) for i in range(args.students)]
            made = time.perf_counter()
            students = create_class(store, Clock(store), roster, budget_usd=Decimal(5))
            made = time.perf_counter() - made
        process, base_url = _start_sandbox(data_dir)
        try:
            results, latencies, wall = asyncio.run(run(base_url, [s.api_key for s in students], Path(tmp) / "students",
                                                       args.timeout))
        finally:
            peak_mb, server_cpu = _peak_rss_mb(process.pid), _cpu_seconds(process.pid)
            process.terminate()
            process.wait(timeout=10)
        billed = {s.organization_id: results[i].billed for i, s in enumerate(students)}
        with sqlite3.connect(data_dir / "sandbox.db") as db:
            rows = dict(db.execute("SELECT org_id, COUNT(*) FROM usage GROUP BY org_id").fetchall())
    lost = sum(max(0, billed[org] - rows.get(org, 0)) for org in billed)
    extra = sum(max(0, rows.get(org, 0) - billed[org]) for org in billed)
    expected = sum((result.expected for result in results), Counter())
    unexpected = sum((result.unexpected for result in results), Counter())
    print(f"class of {args.students}: accounts made in {made:.2f} s ({made / args.students * 1000:.1f} ms each)")
    print(f"calls: {len(latencies)} in {wall:.2f} s = {len(latencies) / wall:.0f} calls/s "
          f"({os.cpu_count()} CPUs, load generator and sandbox on the same machine)")
    print(f"latency per call: p50 {statistics.median(latencies) * 1000:.0f} ms, "
          f"p95 {_percentile(latencies, 0.95) * 1000:.0f} ms, p99 {_percentile(latencies, 0.99) * 1000:.0f} ms, "
          f"max {max(latencies) * 1000:.0f} ms")
    print(f"billed calls: {sum(billed.values())}; usage rows: {sum(rows.values())}; lost: {lost}; extra: {extra}; "
          f"unexpected errors: {sum(unexpected.values())}{f' {dict(unexpected)}' if unexpected else ''}")
    print(f"errors the lessons expect: {dict(sorted(expected.items()))}; calls the BudgetGuard refused "
          f"before sending: {sum(result.guard_refused for result in results)}")
    if peak_mb is not None and server_cpu is not None:
        print(f"sandbox: peak memory {peak_mb:.0f} MB; CPU {server_cpu:.1f} s of {wall:.1f} s wall "
              f"({server_cpu / len(latencies) * 1000:.1f} ms per call): the rest is the {args.students} SDK clients' side")


if __name__ == "__main__":
    main()

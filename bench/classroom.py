"""Classroom benchmark: one class sandbox under N simulated students (default 200).

    .venv/bin/python bench/classroom.py [--students 200] [--timeout 180]

The sandbox runs in its own process (`keylab sandbox --port 0`), as it would for a class. The class
is made with `keylab.sandbox.classroom.students.create_class` (one organization, key, budget and rate
limit per student). Then every student starts at once (a room pressing "Run All") and runs, with the
official SDK (`openai.AsyncOpenAI`, one client and connection pool each, no retries), the calls of
lesson 03 (chat completion, Responses call, raw-response call, streamed chat with usage, streamed
Responses call, one more chat) and the student-key calls of lesson 04 (a wrong key: 401; two unknown
models: 404; list and retrieve models; a chat completion). Prints, asserts nothing: wall time,
calls per second, p50/p95/p99 latency per call, and whether every billed call left exactly one usage
row in the student's own organization ("no usage row lost"). Bounded by --timeout.
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
from decimal import Decimal
from pathlib import Path

import openai
from sandbox import _cpu_seconds  # bench/sandbox.py: the server's CPU time, from /proc

from keylab.pricing import COURSE_MODEL
from keylab.sandbox.classroom.roster import RosterEntry
from keylab.sandbox.classroom.students import create_class
from keylab.sandbox.clock import Clock
from keylab.sandbox.store import Store

HELLO = [{"role": "user", "content": "Say hello in one short sentence."}]
HAIKU = [{"role": "user", "content": "Write a haiku about API keys."}]


async def _timed(latencies: list[float], call: object) -> object:
    started = time.perf_counter()
    try:
        return await call  # type: ignore[misc]
    finally:
        latencies.append(time.perf_counter() - started)


async def student(base_url: str, key: str, latencies: list[float]) -> tuple[int, int]:
    """One learner's lessons 03 and 04; returns (billed calls that succeeded, unexpected errors)."""
    billed = unexpected = 0
    async with openai.AsyncOpenAI(api_key=key, base_url=base_url, max_retries=0) as client:
        async def ok(call: object) -> None:
            nonlocal billed, unexpected
            try:
                await _timed(latencies, call)
                billed += 1
            except openai.APIError:
                unexpected += 1

        async def streamed(call: object) -> None:
            nonlocal billed, unexpected
            started = time.perf_counter()
            try:
                async for _ in await call:  # type: ignore[misc]
                    pass
                billed += 1
            except openai.APIError:
                unexpected += 1
            latencies.append(time.perf_counter() - started)

        async def fails(call: object, error: type[Exception]) -> None:
            nonlocal unexpected
            try:
                await _timed(latencies, call)
                unexpected += 1
            except error:
                pass

        # lesson 03
        await ok(client.chat.completions.create(model=COURSE_MODEL, messages=HELLO))
        await ok(client.responses.create(model=COURSE_MODEL, input="Say hello in one short sentence."))
        await ok(client.chat.completions.with_raw_response.create(model=COURSE_MODEL, messages=HELLO))
        await streamed(client.chat.completions.create(model=COURSE_MODEL, messages=HAIKU, stream=True,
                                                      stream_options={"include_usage": True}))
        await streamed(client.responses.create(model=COURSE_MODEL, input="Write a haiku about API keys.", stream=True))
        await ok(client.chat.completions.create(model=COURSE_MODEL, messages=HELLO))
        # lesson 04, the calls a student's own key makes
        wrong = client.with_options(api_key=key[:-4] + "xxxx")
        await fails(wrong.chat.completions.create(model=COURSE_MODEL, messages=HELLO), openai.AuthenticationError)
        for model in ("gpt-6-lunar", "o1"):
            await fails(client.chat.completions.create(model=model, messages=HELLO), openai.NotFoundError)
        try:
            await _timed(latencies, client.models.list())
            await _timed(latencies, client.models.retrieve(COURSE_MODEL))
        except openai.APIError:
            unexpected += 1
        await ok(client.chat.completions.create(model=COURSE_MODEL, messages=HELLO))
    return billed, unexpected


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


async def run(base_url: str, keys: list[str], timeout: float) -> tuple[list[tuple[int, int]], list[float], float]:
    latencies: list[float] = []
    started = time.perf_counter()
    results = await asyncio.wait_for(asyncio.gather(*(student(base_url, key, latencies) for key in keys)), timeout)
    return results, latencies, time.perf_counter() - started


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
            results, latencies, wall = asyncio.run(run(base_url, [s.api_key for s in students], args.timeout))
        finally:
            peak_mb, server_cpu = _peak_rss_mb(process.pid), _cpu_seconds(process.pid)
            process.terminate()
            process.wait(timeout=10)
        billed = {s.organization_id: results[i][0] for i, s in enumerate(students)}
        with sqlite3.connect(data_dir / "sandbox.db") as db:
            rows = dict(db.execute("SELECT org_id, COUNT(*) FROM usage GROUP BY org_id").fetchall())
    lost = sum(max(0, billed[org] - rows.get(org, 0)) for org in billed)
    extra = sum(max(0, rows.get(org, 0) - billed[org]) for org in billed)
    unexpected = sum(result[1] for result in results)
    print(f"class of {args.students}: accounts made in {made:.2f} s ({made / args.students * 1000:.1f} ms each)")
    print(f"calls: {len(latencies)} in {wall:.2f} s = {len(latencies) / wall:.0f} calls/s "
          f"({os.cpu_count()} CPUs, load generator and sandbox on the same machine)")
    print(f"latency per call: p50 {statistics.median(latencies) * 1000:.0f} ms, "
          f"p95 {_percentile(latencies, 0.95) * 1000:.0f} ms, p99 {_percentile(latencies, 0.99) * 1000:.0f} ms, "
          f"max {max(latencies) * 1000:.0f} ms")
    print(f"billed calls: {sum(billed.values())}; usage rows: {sum(rows.values())}; lost: {lost}; extra: {extra}; "
          f"unexpected errors: {unexpected}")
    if peak_mb is not None and server_cpu is not None:
        print(f"sandbox: peak memory {peak_mb:.0f} MB; CPU {server_cpu:.1f} s of {wall:.1f} s wall "
              f"({server_cpu / len(latencies) * 1000:.1f} ms per call): the rest is the {args.students} SDK clients' side")


if __name__ == "__main__":
    main()

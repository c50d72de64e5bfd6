"""Figures for a sandbox served to a room (issue 12): what an unkind client can take from it.

    .venv/bin/python bench/hardening.py [--bodies 10] [--body-mb 20] [--half-open 1000] [--gets 2000]
    PYTHONPATH=/path/to/older/src .venv/bin/python bench/hardening.py   # the same figures for older code

The sandbox runs in its own process (`keylab sandbox --port 0`), on a fresh data dir, and this
script measures, printing results only (asserts nothing):

1. Memory under big bodies: the server's resident and peak memory before and after --bodies
   parallel POSTs of --body-mb MB each (chat completions with a valid key, and admin project names).
2. Half-open connections: --half-open connections that each send half a request header and stop;
   how many the server still holds after 5 and after 15 s, and the latency of a normal request
   made while they are open.
3. Session rows: rows in `sessions`, the database's size and the median latency over --gets
   cookieless GET /login requests.
4. A burst on a small credit: 200 chat completions at once (plain, then streamed) on credit for
   100; how many are answered and refused, and the share of the credit left unspent.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

BODY = {"model": "gpt-6-luna", "messages": [{"role": "user", "content": "Tell me about budgets"}]}


def _start(data_dir: Path) -> tuple[subprocess.Popen[str], str, str]:
    process = subprocess.Popen([sys.executable, "-m", "keylab", "sandbox", "--port", "0", "--data", str(data_dir)],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    base = process.stdout.readline().split()[-1]  # "keylab sandbox listening on http://…/v1"
    token = "kl-op-" + (data_dir / "operator_token").read_text().strip()
    return process, base.removesuffix("/v1"), token


def _memory_kib(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields


def _account(url: str, token: str, usd: str = "1000") -> dict[str, str]:
    answer = httpx.post(url + "/sandbox/accounts", json={"credits_usd": usd},
                        headers={"Authorization": "Bearer " + token}, timeout=30)
    return answer.json()


def big_bodies(url: str, pid: int, account: dict[str, str], count: int, megabytes: int) -> None:
    before = _memory_kib(pid)
    text = "word " * (megabytes * 1024 * 1024 // 5)
    chat = json.dumps({"model": "gpt-6-luna", "messages": [{"role": "user", "content": text}]}).encode()
    project = json.dumps({"name": text}).encode()

    async def one(path: str, key: str, body: bytes) -> int:
        async with httpx.AsyncClient(timeout=120) as client:
            answer = await client.post(url + path, content=body, headers={
                "Authorization": "Bearer " + key, "Content-Type": "application/json"})
            return answer.status_code

    async def run() -> list[int]:
        jobs = [one("/v1/chat/completions", account["api_key"], chat) for _ in range(count // 2)]
        jobs += [one("/v1/organization/projects", account["admin_key"], project) for _ in range(count - count // 2)]
        return await asyncio.gather(*jobs)

    started = time.perf_counter()
    statuses = asyncio.run(run())
    after = _memory_kib(pid)
    print(f"big bodies: {count} x {megabytes} MB in {time.perf_counter() - started:.1f} s; statuses "
          f"{sorted(set(statuses))}; RSS {before['VmRSS'] // 1024} -> {after['VmRSS'] // 1024} MiB, "
          f"peak {after['VmHWM'] // 1024} MiB")


def half_open(url: str, count: int) -> None:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    sockets = []
    for _ in range(count):
        sock = socket.create_connection((host, int(port)))
        sock.sendall(b"GET /v1/models HTTP/1.1\r\nHost: " + host.encode() + b"\r\nX-Slow: ")
        sock.setblocking(False)
        sockets.append(sock)
    started = time.perf_counter()
    try:
        status = str(httpx.get(url + "/login", timeout=60).status_code)
    except httpx.HTTPError as error:
        status = type(error).__name__
    latency = time.perf_counter() - started

    def still_open() -> int:
        open_count = 0
        for sock in sockets:
            try:
                open_count += sock.recv(1) != b""
            except BlockingIOError:
                open_count += 1
            except OSError:
                pass
        return open_count

    time.sleep(max(0.0, 5 - (time.perf_counter() - started)))
    at_5 = still_open()
    time.sleep(max(0.0, 15 - (time.perf_counter() - started)))
    at_15 = still_open()
    for sock in sockets:
        sock.close()
    print(f"half-open: {count} half-sent headers; a normal GET during them: {status} in "
          f"{latency * 1000:.0f} ms; still held by the server after 5 s: {at_5}, after 15 s: {at_15}")


def session_rows(url: str, data_dir: Path, count: int) -> None:
    db = data_dir / "sandbox.db"

    def rows() -> int:
        with sqlite3.connect(db) as conn:
            return conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0]

    def size() -> int:
        return sum(p.stat().st_size for p in data_dir.glob("sandbox.db*"))

    rows_before, size_before = rows(), size()
    latencies = []
    with httpx.Client(timeout=30) as client:
        for _ in range(count):
            started = time.perf_counter()
            client.get(url + "/login")
            client.cookies.clear()
            latencies.append(time.perf_counter() - started)
    half = count // 2
    print(f"sessions: {count} cookieless GET /login: +{rows() - rows_before} rows, "
          f"+{(size() - size_before) / 2**20:.1f} MiB; median latency first half "
          f"{statistics.median(latencies[:half]) * 1000:.1f} ms, second half "
          f"{statistics.median(latencies[half:]) * 1000:.1f} ms")


def burst(url: str, token: str, calls: int = 200, stream: bool = False) -> None:
    body = {**BODY, "stream": stream}
    account = _account(url, token, usd="5")
    headers = {"Authorization": "Bearer " + account["api_key"]}
    org = account["organization_id"]

    first = httpx.post(url + "/v1/chat/completions", json=BODY, headers=headers, timeout=30)
    assert first.status_code == 200, first.text
    cost_pico = _cost_pico(first.json())  # a streamed answer is the same answer: the same cost
    credit = cost_pico * calls // 2  # for half the calls
    _set_balance(org, credit)
    request = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: {url.removeprefix('http://')}\r\n"
               f"Authorization: Bearer {account['api_key']}\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(json.dumps(body))}\r\nConnection: close\r\n\r\n{json.dumps(body)}").encode()
    host, port = url.removeprefix("http://").rsplit(":", 1)

    async def one() -> int:
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(request)
        await writer.drain()
        status = int((await reader.readline()).split()[1])
        await reader.read()
        writer.close()
        return status

    async def run() -> list[int]:
        return await asyncio.gather(*(one() for _ in range(calls)))

    statuses = asyncio.run(run())
    answered = statuses.count(200)
    unspent = (credit - answered * cost_pico) / credit
    print(f"burst{' (streamed)' if stream else ''}: {calls} calls at once on credit for {calls // 2}: {answered} answered, "
          f"{statuses.count(429)} refused ({statuses.count(429) / calls:.0%}); credit unspent when refused: "
          f"{max(unspent, 0):.0%} (balance may end one call below zero: {min(unspent, 0):.1%})")


def _cost_pico(completion: dict) -> int:
    from keylab.pricing import cost_of

    usage = completion["usage"]
    return cost_of("gpt-6-luna", usage["prompt_tokens"], usage["completion_tokens"]).total_pico


def _set_balance(org: str, pico: int) -> None:
    data_dir = Path(os.environ["HARDENING_DATA"])
    with sqlite3.connect(data_dir / "sandbox.db") as conn:  # another process: the server's cache sees it
        conn.execute("UPDATE organizations SET balance_pico = ? WHERE id = ?", (pico, org))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bodies", type=int, default=10)
    parser.add_argument("--body-mb", type=int, default=20)
    parser.add_argument("--half-open", type=int, default=1000)
    parser.add_argument("--gets", type=int, default=2000)
    args = parser.parse_args()
    import keylab

    print(f"keylab from {Path(keylab.__file__).parent}")
    with tempfile.TemporaryDirectory(prefix="keylab-hardening-") as tmp:
        data_dir = Path(tmp) / "data"
        os.environ["HARDENING_DATA"] = str(data_dir)
        process, url, token = _start(data_dir)
        try:
            account = _account(url, token)
            session_rows(url, data_dir, args.gets)
            burst(url, token)
            burst(url, token, stream=True)
            half_open(url, args.half_open)
            big_bodies(url, process.pid, account, args.bodies, args.body_mb)
        finally:
            process.terminate()
            process.wait(10)


if __name__ == "__main__":
    main()

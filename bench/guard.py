"""Benchmark the budget guard: does it ever let spending cross the budget, and what does it cost?

    .venv/bin/python bench/guard.py [--threads 50] [--rounds 5] [--calls 4]

Each round starts a sandbox, funds an account and wraps an SDK client in a `BudgetGuard` whose
budget fits about `--threads` worst cases (so most threads hit it). `--threads` threads then call
until refused, `--calls` calls each, mixing plain and streamed Chat Completions and Responses calls,
some with a cap and some without (the guard applies its own). Prints, per round:

- the **overshoot**: what the sandbox debited above the budget (its own books, not the guard's);
  the target is 0;
- the guard's own overshoot figure (real costs above their reservations) and the difference
  between what the guard booked and what the sandbox debited (0 when every call is accounted for);
- how many calls ran and how many were refused;
- the guard's overhead per call: the median latency of a guarded call minus an unguarded one
  (sequential, same prompt), which is mostly the prompt count and the state-file write.

Prints results only; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
import warnings
from decimal import Decimal
from pathlib import Path

from openai import OpenAI

from keylab.guard import BudgetExceeded, BudgetGuard, OutputCapNotice
from keylab.pricing import COURSE_MODEL, cost_of, format_usd, from_pico
from keylab.sandbox import serve_in_background
from keylab.sandbox.client import ControlClient
from keylab.sandbox.store import Store

MESSAGES = [{"role": "user", "content": "Tell me about budgets in one sentence."}]
CREDIT_USD = 5


def debited_pico(data_dir: Path, org_id: str) -> int:
    store = Store(data_dir)
    try:
        row = store.query_one("SELECT balance_pico FROM organizations WHERE id = ?", (org_id,))
    finally:
        store.close()
    assert row is not None
    return CREDIT_USD * 10**12 - int(row[0])


def one_call(guard: BudgetGuard, index: int) -> None:
    kind = index % 4
    if kind == 0:
        guard.chat.completions.create(model=COURSE_MODEL, messages=MESSAGES, max_completion_tokens=60)
    elif kind == 1:
        for _ in guard.chat.completions.create(model=COURSE_MODEL, messages=MESSAGES, stream=True):
            pass  # no cap: the guard applies its own
    elif kind == 2:
        guard.responses.create(model=COURSE_MODEL, input="One sentence on budgets.", max_output_tokens=60)
    else:
        for _ in guard.responses.create(model=COURSE_MODEL, input="One sentence on budgets.", stream=True,
                                        max_output_tokens=100):
            pass


def round_(threads: int, calls: int, state_dir: Path) -> dict[str, object]:
    data_dir = Path(tempfile.mkdtemp(prefix="keylab-bench-guard-"))
    with serve_in_background(data_dir) as server:
        account = ControlClient(server.url, server.operator_token).create_account(credits_usd=str(CREDIT_USD))
        client = OpenAI(api_key=account["api_key"], base_url=server.base_url, max_retries=0)
        worst = cost_of(COURSE_MODEL, 20, 100).total_usd
        budget = (worst * threads).quantize(Decimal("0.000001"))
        guard = BudgetGuard(client, budget, state_file=state_dir / f"guard-{time.monotonic_ns()}.json",
                            default_max_output_tokens=100)
        refused = 0
        lock = threading.Lock()

        def work(number: int) -> None:
            nonlocal refused
            for call in range(calls):
                try:
                    one_call(guard, number + call)
                except BudgetExceeded:
                    with lock:
                        refused += 1
                    return

        workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        time.sleep(0.2)  # streams' bills are written just after their last event
        sandbox_spent = from_pico(debited_pico(data_dir, account["organization_id"]))
        client.close()
    return {
        "budget": budget, "sandbox_spent": sandbox_spent, "overshoot": max(Decimal(0), sandbox_spent - budget),
        "guard_overshoot": guard.overshoot_usd, "booked_minus_billed": guard.spent_usd - sandbox_spent,
        "calls": guard.calls, "refused": refused,
    }


def overhead(samples: int = 200) -> tuple[float, float]:
    """Median latency (ms) of an unguarded and a guarded call (with a state file)."""
    with serve_in_background() as server, tempfile.TemporaryDirectory() as tmp:
        account = ControlClient(server.url, server.operator_token).create_account(credits_usd=str(CREDIT_USD))
        client = OpenAI(api_key=account["api_key"], base_url=server.base_url, max_retries=0)
        guard = BudgetGuard(client, CREDIT_USD, state_file=Path(tmp) / "guard.json")
        plain, guarded = [], []
        for _ in range(samples):
            for target, times in ((client, plain), (guard, guarded)):
                start = time.perf_counter()
                target.chat.completions.create(model=COURSE_MODEL, messages=MESSAGES, max_completion_tokens=60)
                times.append((time.perf_counter() - start) * 1000)
        client.close()
    return statistics.median(plain), statistics.median(guarded)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=4)
    args = parser.parse_args()
    warnings.simplefilter("ignore", OutputCapNotice)
    worst_overshoot = Decimal(0)
    with tempfile.TemporaryDirectory() as tmp:
        for number in range(1, args.rounds + 1):
            result = round_(args.threads, args.calls, Path(tmp))
            worst_overshoot = max(worst_overshoot, result["overshoot"])  # type: ignore[type-var]
            print(f"round {number}: budget {format_usd(result['budget'])}, sandbox debited "  # type: ignore[arg-type]
                  f"{format_usd(result['sandbox_spent'])}, overshoot {result['overshoot']}, "  # type: ignore[arg-type]
                  f"guard overshoot {result['guard_overshoot']}, "
                  f"booked - billed {result['booked_minus_billed'].normalize()}, "  # type: ignore[attr-defined]
                  f"{result['calls']} calls, {result['refused']} refused", flush=True)
    print(f"largest overshoot over {args.rounds} rounds of {args.threads} threads: ${worst_overshoot}")
    plain, guarded = overhead()
    print(f"latency per chat completion, median: unguarded {plain:.2f} ms, guarded {guarded:.2f} ms "
          f"(overhead {guarded - plain:.2f} ms)")


if __name__ == "__main__":
    main()

"""Benchmark the cost calculator: how long one recompute takes for a 10,000-token prompt.

    .venv/bin/python bench/calculator.py [--tokens 10000] [--runs 60]

Each run gives a `CostCalculator` a new prompt of about --tokens tokens (varied English-like text,
different every run so no cache helps) and times the trait assignment until the widget has its
new `estimate` and has redrawn its token count and result table: everything a keystroke costs in
the kernel. Also times changing only the model (no new prompt text). Prints the median, 95th
percentile and maximum, with exact counts (tiktoken's offline cache, if found) and approximate
counts. Target: under 30 ms. Prints results only; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORDS = ("the budget model prompt token cost request answer limit month cache output input price daily "
         "learner widget sandbox notebook estimate project alert guard spend invoice tier flex batch "
         "reasoning context window, 2026 12.50 $ key: user assistant system (note) — résumé naïve").split()


def prompt_of(tokens: int, seed: int) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(int(tokens * 0.81)))


def measure(tokens: int, runs: int) -> dict[str, list[float]]:
    from keylab.widgets import CostCalculator

    calc = CostCalculator(prompt=prompt_of(tokens, -1), output_tokens=500, requests_per_day=1_000)
    prompts = [prompt_of(tokens, seed) for seed in range(runs)]
    times: dict[str, list[float]] = {"new prompt": [], "new model": []}
    counted = []
    for n, text in enumerate(prompts):
        start = time.perf_counter()
        calc.prompt = text
        times["new prompt"].append(time.perf_counter() - start)
        counted.append(calc.estimate.input_tokens)
        start = time.perf_counter()
        calc.model = "gpt-6-astra" if n % 2 else "gpt-6-luna"
        times["new model"].append(time.perf_counter() - start)
    print(f"  prompts of {min(counted):,}–{max(counted):,} tokens ({calc.estimate.token_count.note})")
    return times


def report(times: dict[str, list[float]]) -> None:
    for name, values in times.items():
        ms = sorted(v * 1000 for v in values)
        p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
        print(f"  {name:10}  median {statistics.median(ms):6.2f} ms   p95 {p95:6.2f} ms   max {ms[-1]:6.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=60)
    args = parser.parse_args()
    caches = [ROOT.parent / "shared" / "tiktoken-cache", ROOT.parents[1] / "shared" / "tiktoken-cache"]
    found = next((c for c in caches if c.is_dir()), None)
    if "TIKTOKEN_CACHE_DIR" not in os.environ and found:
        os.environ["TIKTOKEN_CACHE_DIR"] = str(found)
    print(f"CostCalculator recompute, {args.runs} runs (target: under 30 ms)")
    report(measure(args.tokens, args.runs))
    os.environ["TIKTOKEN_CACHE_DIR"] = str(Path("/nonexistent-keylab-cache"))
    print("approximate counts (no tiktoken encoding file):")
    report(measure(args.tokens, args.runs))


if __name__ == "__main__":
    main()

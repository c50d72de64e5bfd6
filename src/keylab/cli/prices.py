"""`keylab prices`: the dated price table and its billing rules, and how old they are.

Prices change without notice, so the command says plainly when the table is older than
`STALE_AFTER_DAYS` on today's date: the computer's date by default, the sandbox's clock with
`--clock sandbox` (lessons move it), or any date with `--today`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from decimal import Decimal
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    # No number in the help: importing the table would load keylab.pricing (and its token counter)
    # for every `keylab …` command, which all build this parser.
    parser = subparsers.add_parser(
        "prices",
        help="show the dated price table (USD per 1M tokens), its billing rules and how old it is",
        description="Show the prices keylab bills and estimates with, the rules that change a bill "
        "(tiers, long prompts, reasoning tokens), their sources and their date. Says when the table is "
        "old enough that prices may have changed.",
    )
    parser.add_argument("--all", action="store_true", help="include models that have been shut down")
    parser.add_argument("--clock", choices=("real", "sandbox"), default="real",
                        help="whose date is today: this computer's (default) or the running sandbox's")
    parser.add_argument("--today", type=_date, default=None, metavar="YYYY-MM-DD",
                        help="judge the table's age on this date instead")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    parser.set_defaults(handler=_run)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: write it as YYYY-MM-DD, e.g. 2026-12-31") from None


def sandbox_today() -> dt.date:
    """The date on the sandbox's clock (the sandbox that OPENAI_BASE_URL, or `.env`, points at)."""
    from keylab.environment import load_env
    from keylab.sandbox.client import ControlClient

    load_env()
    return ControlClient.from_env().today()


def _money(value: Decimal | None) -> str:
    """A price as the pricing page writes it: at least cents, more digits only where it has them."""
    if value is None:
        return "—"
    return f"{value:.2f}" if value == value.quantize(Decimal("0.01")) else str(value.normalize())


def _window(tokens: int) -> str:
    return f"{tokens / 1_000_000:.2f}M".replace(".00M", "M") if tokens >= 1_000_000 else f"{tokens // 1000}K"


def _rows(today: dt.date, everything: bool) -> list[Any]:
    from keylab.pricing import MODELS, current_models

    return list(MODELS.values()) if everything else current_models(today)


def staleness(today: dt.date) -> tuple[int, bool]:
    """(age in days, whether that is past STALE_AFTER_DAYS) of the table on `today`."""
    from keylab.pricing import STALE_AFTER_DAYS, table_age_days

    age = table_age_days(today)
    return age, age > STALE_AFTER_DAYS


def format_text(today: dt.date, everything: bool = False) -> str:
    from keylab.pricing import (
        LONG_CONTEXT_MODELS,
        LONG_CONTEXT_THRESHOLD,
        PRICES_AS_OF,
        PRICING_URL,
        SOURCES,
        STALE_AFTER_DAYS,
        TIERS,
    )
    from keylab.pricing.table import LONG_CONTEXT_INPUT_MULTIPLIER, LONG_CONTEXT_OUTPUT_MULTIPLIER

    age, stale = staleness(today)
    days = "today" if age == 0 else f"{abs(age)} day{'s' if abs(age) != 1 else ''} {'ago' if age > 0 else 'ahead'}"
    lines = [f"OpenAI API prices in USD per 1M tokens, Standard tier, as listed on {PRICES_AS_OF} ({days})."]
    if stale:
        lines += [
            f"WARNING: this table is {age} days old, more than {STALE_AFTER_DAYS}. Prices change: check {PRICING_URL}",
            "before you rely on these numbers, and update keylab (git pull) for a newer table.",
        ]
    lines.append("")
    rows = _rows(today, everything)
    header = ("model", "input", "cached", "output", "context", "notes")
    table = [header]
    notes: list[str] = []
    for row in rows:
        marks = []
        if row.is_shut_down(today):
            marks.append(f"shut down {row.shutdown_date}")
        elif row.shutdown_date:
            marks.append(f"shuts down {row.shutdown_date}")
        if row.id in LONG_CONTEXT_MODELS:
            marks.append("long-prompt rule")
        if row.note:
            notes.append(f"  {row.id}: {row.note}")
        table.append((row.id, _money(row.input), _money(row.cached_input), _money(row.output),
                      _window(row.context_window), ", ".join(marks)))
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for r in table:
        cells = [r[0].ljust(widths[0])] + [r[i].rjust(widths[i]) for i in range(1, 5)] + [r[5]]
        lines.append("  ".join(cells).rstrip())
    if notes:
        lines += ["", "Notes:", *notes]
    lines += ["", "Rules that change a bill:"]
    for tier in TIERS.values():
        sent = f'service_tier="{tier.name}"' if tier.service_tier and tier.name != "standard" else ""
        how = f"{tier.multiplier}x" if tier.name != "standard" else "1x"
        lines.append(f"  {tier.name:<8} {how:>4}  {tier.description}{'; ' + sent if sent else ''}")
    lines += [
        f"  long prompts: more than {LONG_CONTEXT_THRESHOLD:,} input tokens bill the whole request at "
        f"{LONG_CONTEXT_INPUT_MULTIPLIER}x input and cached input",
        f"    and {LONG_CONTEXT_OUTPUT_MULTIPLIER}x output, on the models marked \"long-prompt rule\"; "
        "a tier applies on top.",
        "  cached input: the part of a prompt the API found in its cache bills at the cached price.",
        "  reasoning tokens: counted in the output tokens and billed at the output price.",
        "",
        "Sources:",
        *(f"  {name}: {url}" for name, url in SOURCES.items()),
    ]
    return "\n".join(lines)


def as_json(today: dt.date, everything: bool = False) -> dict[str, Any]:
    from keylab.pricing import LONG_CONTEXT_MODELS, LONG_CONTEXT_THRESHOLD, PRICES_AS_OF, SOURCES, TIERS
    from keylab.pricing.table import LONG_CONTEXT_INPUT_MULTIPLIER, LONG_CONTEXT_OUTPUT_MULTIPLIER

    age, stale = staleness(today)
    return {
        "prices_as_of": str(PRICES_AS_OF), "today": str(today), "age_days": age, "stale": stale,
        "unit": "USD per 1M tokens",
        "models": [{
            "id": row.id, "input": str(row.input),
            "cached_input": None if row.cached_input is None else str(row.cached_input),
            "output": str(row.output), "context_window": row.context_window,
            "max_output_tokens": row.max_output_tokens, "released": str(row.released),
            "shutdown_date": str(row.shutdown_date) if row.shutdown_date else None,
            "replacement": row.replacement, "long_context_rule": row.id in LONG_CONTEXT_MODELS,
            "source": row.source, "note": row.note,
        } for row in _rows(today, everything)],
        "tiers": {tier.name: {"multiplier": str(tier.multiplier), "service_tier": tier.service_tier,
                              "as_of": str(tier.as_of), "source": tier.source} for tier in TIERS.values()},
        "long_context": {"threshold_tokens": LONG_CONTEXT_THRESHOLD,
                         "input_multiplier": str(LONG_CONTEXT_INPUT_MULTIPLIER),
                         "output_multiplier": str(LONG_CONTEXT_OUTPUT_MULTIPLIER)},
        "sources": SOURCES,
    }


def _run(args: argparse.Namespace) -> int:
    import sys

    if args.today is not None:
        today = args.today
    elif args.clock == "sandbox":
        from keylab.sandbox.client import ControlError

        try:
            today = sandbox_today()
        except ControlError as error:
            print(f"keylab prices: {error}", file=sys.stderr)
            return 1
    else:
        today = dt.datetime.now(dt.timezone.utc).date()
    if args.format == "json":
        print(json.dumps(as_json(today, args.all), indent=2))
    else:
        print(format_text(today, args.all))
    return 0

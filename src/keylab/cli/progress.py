"""`keylab progress`: which lab exercises the learner has passed, tried or not started yet."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "progress",
        help="show your lab progress (✓ passed, ✗ tried, · not yet)",
        description="Progress is recorded by each check cell in your labs. A passed exercise stays "
        "passed; a later wrong try shows as the latest try next to it.",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    parser.add_argument("--reset", action="store_true", help="forget all recorded progress")
    parser.set_defaults(handler=_progress)


# How the latest check reads when it differs from the best result (a pass is never taken back).
LATEST_LABELS = {"passed": "passed", "failed": "not right", "not-attempted": "not run"}


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def format_text(report: list) -> str:
    """The per-lab table; kept here because only the command shows it."""
    if not report:
        return "No labs found and no checks recorded yet: open a lab and run its check cells."
    lines: list[str] = []
    for lab in report:
        lines.append(f"{lab.title}  {lab.passed}/{lab.total} passed")
        for item in lab.exercises:
            latest = f"; latest try: {LATEST_LABELS[item.status]}" if item.latest_differs else ""
            detail = f"  ({_plural(item.attempts, 'attempt')}{latest})" if item.attempts else ""
            lines.append(f"  {item.symbol} {item.exercise_id}  {item.label}{detail}")
    passed = sum(lab.passed for lab in report)
    total = sum(lab.total for lab in report)
    lines.append(f"Total: {passed} of {total} exercises passed  (✓ passed, ✗ tried, · not yet)")
    return "\n".join(lines)


def _progress(args: argparse.Namespace) -> int:
    from keylab.labs.progress import progress_report, reset_progress
    from keylab.paths import progress_file

    if args.reset:
        count = reset_progress()
        print(f"Progress reset: forgot {_plural(count, 'exercise')} ({progress_file()}).")
        return 0
    report = progress_report()
    if args.format == "json":
        data = {
            "labs": [lab.to_dict() for lab in report],
            "passed": sum(lab.passed for lab in report),
            "total": sum(lab.total for lab in report),
        }
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        print(format_text(report))
    return 0

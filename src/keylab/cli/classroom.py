"""`keylab classroom …`: one sandbox for a whole class (create the students, report, reset one).

Like `keylab sandbox account create`, these work directly on the sandbox's data dir, whether the
sandbox is running or not (SQLite in WAL mode lets the server and this command share it).
"""

from __future__ import annotations

import argparse
import json
import sys
from decimal import Decimal
from pathlib import Path

from keylab.cli.options import data_dir, parse_usd

DEFAULT_BASE_URL = "http://127.0.0.1:8765/v1"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "classroom", help="run a class on one sandbox: a key, budget and rate limit per student",
        description="Create one sandbox account per student from a roster, see the class's spend, errors "
                    "and lab progress, and give a student a fresh start.",
    )
    actions = parser.add_subparsers(dest="classroom_command", metavar="ACTION", required=True)

    create = actions.add_parser(
        "create", help="one account per student of a roster CSV (columns name,email), keys printed once",
        description="Create one organization per student, each with its own key, prepaid credit, monthly "
                    "budget (a hard spend limit) and rate limit, and print each student's .env lines. "
                    "Nothing is created if the roster has a problem.",
    )
    _data_argument(create)
    create.add_argument("--roster", required=True, metavar="FILE.csv",
                        help="CSV with a header line naming the columns name and email (others are ignored)")
    create.add_argument("--budget-usd", required=True, metavar="USD",
                        help="each student's monthly budget in US dollars (a hard limit: calls stop there)")
    create.add_argument("--credits-usd", metavar="USD", help="prepaid credit per student (default: the budget)")
    create.add_argument("--rpm", type=int, default=None, metavar="N", help="requests per minute per student (default 60)")
    create.add_argument("--tpm", type=int, default=None, metavar="N", help="tokens per minute per student (default 60000)")
    create.add_argument("--base-url", default=DEFAULT_BASE_URL, metavar="URL",
                        help="the OPENAI_BASE_URL students use, e.g. http://192.168.1.20:8765/v1 "
                             f"(default {DEFAULT_BASE_URL})")
    create.add_argument("--env-dir", metavar="DIR", help="also write one EMAIL.env file per student into DIR")
    create.add_argument("--json", action="store_true", help="print a JSON list of {name, email, api_key, …}")
    create.set_defaults(handler=_create)

    report = actions.add_parser("report", help="per student: spend, requests, errors and lab progress (no keys)")
    _data_argument(report)
    output = report.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print a JSON list, one object per student")
    output.add_argument("--csv", action="store_true", help="print CSV (for a spreadsheet or gradebook)")
    report.set_defaults(handler=_report)

    reset = actions.add_parser("reset", help="a student's fresh start: usage, errors and progress cleared, "
                                             "credit back to the budget, their clock back on the sandbox's")
    _data_argument(reset)
    reset.add_argument("--email", required=True, help="the student's email, as in the roster")
    reset.add_argument("--new-key", action="store_true",
                       help="also revoke the student's key and print a new one (a leaked or lost key)")
    reset.set_defaults(handler=_reset)


def _data_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", metavar="DIR",
                        help="data dir of the class sandbox (default: .keylab/sandbox in the course folder)")


def _open_store(value: str | None):  # -> Store
    from keylab.sandbox.store import Store

    return Store(data_dir(value))


def _create(args: argparse.Namespace) -> int:
    from keylab.sandbox.classroom.roster import RosterError, read_roster
    from keylab.sandbox.classroom.students import DEFAULT_RPM, DEFAULT_TPM, ClassroomError, create_class
    from keylab.sandbox.clock import Clock

    budget = parse_usd(args.budget_usd, "--budget-usd")
    credit = parse_usd(args.credits_usd, "--credits-usd") if args.credits_usd is not None else budget
    if budget is None or credit is None:
        return 2
    try:
        roster = read_roster(args.roster)
    except RosterError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    store = _open_store(args.data)
    try:
        students = create_class(store, Clock(store), roster, budget_usd=budget, credits_usd=credit,
                                rpm=args.rpm or DEFAULT_RPM, tpm=args.tpm or DEFAULT_TPM)
    except ClassroomError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        store.close()
    if args.env_dir:
        _write_env_files(Path(args.env_dir).expanduser(), students, args.base_url)
    if args.json:
        print(json.dumps([student.as_json() for student in students], indent=2))
        return 0
    print(f"Created {len(students)} student account(s): each has its own key, ${credit} of credit, a ${budget} "
          f"monthly budget (calls stop there) and {args.rpm or DEFAULT_RPM} requests/minute.")
    print("These keys are shown once: hand each student their two lines for the .env file in the course folder.")
    for student in students:
        print()
        print(f"# {student.name} <{student.email}>")
        for line in student.env_lines(args.base_url):
            print(line)
    if args.env_dir:
        print(f"\nThe same lines are in {args.env_dir}/EMAIL.env, one file per student (readable only by you).")
    return 0


def _write_env_files(folder: Path, students: list, base_url: str) -> None:
    from keylab.files import atomic_write

    folder.mkdir(parents=True, exist_ok=True)
    for student in students:
        text = f"# keylab class sandbox: {student.name} <{student.email}>\n"
        text += "\n".join(student.env_lines(base_url)) + "\n"
        # A new file beside it, renamed over: an existing EMAIL.env (0o644, say) ends up 0o600 too.
        atomic_write(folder / f"{student.email}.env", text.encode("utf-8"), mode=0o600)


def _report(args: argparse.Namespace) -> int:
    from keylab.sandbox.classroom.report import class_report, report_csv

    store = _open_store(args.data)
    try:
        report = class_report(store)
    finally:
        store.close()
    if args.json:
        print(json.dumps([student.as_json() for student in report], indent=2))
        return 0
    if args.csv:
        sys.stdout.write(report_csv(report))
        return 0
    if not report:
        print("No students in this sandbox yet. Create them with `keylab classroom create --roster FILE.csv "
              "--budget-usd N`.")
        return 0
    print(f"{'Student':<28} {'Key':<18} {'Spend':>10} {'Budget':>8} {'Requests':>8} {'Errors':>6}  Labs")
    for s in report:
        who = f"{s.name} <{s.email}>"
        who = who if len(who) <= 28 else who[:27] + "…"
        errors = f"{s.errors}" + (f" ({s.top_error})" if s.top_error else "")
        labs = f"{s.exercises_passed} passed, {s.exercises_tried} tried" + (f"; last {s.last_check}" if s.last_check else "")
        print(f"{who:<28} {s.key:<18} {'$' + str(s.spend_usd.quantize(Decimal('0.000001'))):>10} "
              f"{'$' + str(s.budget_usd):>8} {s.requests:>8} {errors:>6}  {labs}")
    return 0


def _reset(args: argparse.Namespace) -> int:
    from keylab.sandbox.classroom.students import ClassroomError, reset_student
    from keylab.sandbox.clock import Clock

    store = _open_store(args.data)
    try:
        new_key = reset_student(store, Clock(store), args.email, new_key=args.new_key)
    except ClassroomError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        store.close()
    print(f"Reset {args.email}: usage, errors and lab progress cleared, credit back to the budget.")
    if new_key:
        print("Their old key is revoked. The new key is shown once; give it to the student for their .env:")
        print(f"OPENAI_API_KEY={new_key}")
    return 0

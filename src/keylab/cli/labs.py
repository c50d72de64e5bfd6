"""`keylab labs build|check|copy`: generate labs from solutions, verify they are up to date (CI), or
make the learner's working copies in `my-labs/` (the only lab files a learner writes in)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _add_dirs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--solutions", type=Path, help="solution notebooks (default: the course's solutions/)"
    )
    parser.add_argument("--labs", type=Path, help="generated labs (default: the course's labs/)")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "labs",
        help="generate the lab notebooks from their solutions, or check they are up to date",
        description="Labs are generated from solutions/solution-NN-name.ipynb: edit the solution, then build. "
        "Learners work in their own copies in my-labs/, which no build, check or update touches.",
    )
    actions = parser.add_subparsers(dest="labs_command", metavar="ACTION")
    build = actions.add_parser("build", help="regenerate labs/ from solutions/")
    _add_dirs(build)
    build.set_defaults(handler=_build)
    check = actions.add_parser("check", help="exit 1 if a lab is stale, missing or has no solution")
    _add_dirs(check)
    check.set_defaults(handler=_check)
    copy = actions.add_parser(
        "copy", help="make your working copies of the labs in my-labs/ (never overwrites a copy)"
    )
    copy.set_defaults(handler=_copy)
    parser.set_defaults(handler=lambda args: parser.print_help() or 2)


def _dirs(args: argparse.Namespace) -> tuple[Path, Path] | None:
    """The solutions and labs folders, or None (after saying why) when they cannot be found."""
    from keylab.paths import course_root

    root = course_root()
    solutions = args.solutions or (root / "solutions" if root else None)
    labs = args.labs or (root / "labs" if root else None)
    if solutions is None or labs is None:
        print(
            "keylab labs: run this inside the course checkout, or pass --solutions DIR and --labs DIR",
            file=sys.stderr,
        )
        return None
    if not solutions.is_dir():
        print(f"keylab labs: no solutions folder at {solutions}", file=sys.stderr)
        return None
    return solutions, labs


def _build(args: argparse.Namespace) -> int:
    from keylab.labs.build import build_all
    from keylab.labs.markers import LabBuildError

    dirs = _dirs(args)
    if dirs is None:
        return 2
    try:
        changes = build_all(*dirs)
    except LabBuildError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for line in changes:
        print(line)
    print("labs are up to date" if not changes else f"{len(changes)} change(s)")
    return 0


def _check(args: argparse.Namespace) -> int:
    from keylab.labs.build import check_all

    dirs = _dirs(args)
    if dirs is None:
        return 2
    problems = check_all(*dirs)
    for problem in problems:
        print(problem.message)
    if problems:
        return 1
    print("labs are up to date")
    return 0


def _copy(args: argparse.Namespace) -> int:
    from keylab.labs.workspace import WORK_DIR, describe, ensure_working_copies
    from keylab.paths import course_root

    root = course_root()
    if root is None:
        print("keylab labs copy: run this inside the course checkout", file=sys.stderr)
        return 2
    try:
        results = ensure_working_copies(root / "labs", root / WORK_DIR)
    except OSError as error:
        print(f"keylab labs copy: could not write {root / WORK_DIR} ({error.strerror or error}); "
              f"if {WORK_DIR} is a file, rename it and run this again", file=sys.stderr)
        return 1
    lines = describe(results, root)
    for line in lines:
        print(line)
    if not lines:
        print(f"Your working copies in {WORK_DIR}/ are all there; nothing was changed.")
    return 0

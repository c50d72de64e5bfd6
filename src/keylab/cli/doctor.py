"""`keylab doctor`: check the learner's key set-up and explain each problem with its fix.

Exit status 1 when an error-severity problem is found, 0 otherwise, so it can gate CI or a
`make check`. See docs/doctor.md for the codes.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "doctor",
        help="check your .env, API key and base URL, and say how to fix each problem",
        description="Check the set-up the OpenAI SDK will see (.env, environment variables, git), then "
        "that the base URL answers and accepts the key (one free request, GET /models), and explain "
        "each problem with its fix. Keys are only ever shown masked. Exit status 1 when an error is found.",
    )
    parser.add_argument("--env-file", type=Path, default=None, metavar="FILE",
                        help="the .env to check (default: $KEYLAB_ENV_FILE, else the nearest .env upwards)")
    parser.add_argument("--project", type=Path, default=None, metavar="DIR",
                        help="the project folder to search for .env from (default: the current folder)")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    parser.add_argument("--offline", action="store_true",
                        help="skip the network check (the free request to the base URL)")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    import os

    from keylab.doctor import run

    # An explicit environ: the CLI process has no OpenAI clients to inspect.
    report = run(args.project, args.env_file, dict(os.environ), offline=args.offline)
    print(report.to_json() if args.format == "json" else report.to_text())
    return 0 if report.ok else 1

"""The `keylab` command line: one module per subcommand, each with `register(subparsers)`.

Subcommand modules import their heavy dependencies inside their handlers, so `keylab --help`
stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# module name under keylab.cli -> registered by that module's register()
SUBCOMMAND_MODULES = (
    "sandbox", "start", "doctor", "labs", "progress", "prices", "calculator", "scan", "rotate", "classroom",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="keylab",
        description="keylab: a hands-on course on OpenAI API keys, with an offline sandbox platform.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        module = importlib.import_module(f"keylab.cli.{name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return int(handler(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

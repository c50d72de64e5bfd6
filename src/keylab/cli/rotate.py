"""`keylab rotate`: replace the key in `.env` with a new one, and only then revoke the old one."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("rotate", help="replace the key in .env with a new one, then revoke the old one")
    parser.set_defaults(handler=lambda args: 2)

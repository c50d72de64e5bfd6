"""Small pieces shared by the sandbox's commands (`keylab sandbox …`, `keylab classroom …`)."""

from __future__ import annotations

import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path


def data_dir(value: str | None) -> Path:
    """The sandbox's data dir: the `--data` value, else the course's default (keylab.paths)."""
    from keylab.paths import sandbox_data_dir

    return Path(value).expanduser() if value else sandbox_data_dir()


def parse_usd(value: str, option: str) -> Decimal | None:
    """`value` as a finite, non-negative amount of US dollars; None (the error printed) otherwise."""
    try:
        amount = Decimal(value)
        if not amount.is_finite() or amount < 0:
            raise InvalidOperation
    except InvalidOperation:
        print(f"error: {option} must be an amount in US dollars such as 5 or 10.50, not {value!r}", file=sys.stderr)
        return None
    return amount

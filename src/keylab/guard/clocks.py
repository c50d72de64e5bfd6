"""Whose "now" a monthly budget follows: this computer's, or the sandbox's (which lessons move)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def sandbox_clock(control: Any = None) -> Callable[[], float]:
    """Unix time on the sandbox's clock, asked over its control plane on every call.

    control: a `keylab.sandbox.client.ControlClient` (default: the sandbox `.env` points at).
    """
    if control is None:
        from keylab.environment import load_env
        from keylab.sandbox.client import ControlClient

        load_env()
        control = ControlClient.from_env()

    def now() -> float:
        return float(control.clock()["now"])

    return now

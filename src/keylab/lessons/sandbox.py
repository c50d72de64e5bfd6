"""Lesson steps that only make sense against the sandbox (staging an unfunded account, say).

In live mode those steps must not run: they would need powers the real platform gives to no
program. `require_sandbox(reason)` says so in plain words and returns False, and the notebook's
saved output shows the learner what would have happened.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from keylab.environment import BASE_URL_VAR, mode


def require_sandbox(reason: str = "", environ: Mapping[str, str] | None = None) -> bool:
    """True in sandbox mode. Otherwise print why this step is skipped and return False."""
    current = mode(environ)
    if current == "sandbox":
        return True
    why = f" ({reason})" if reason else ""
    print(f"This step needs the sandbox{why}. You are in {current} mode, so read along: "
          "the saved output below shows what happens in the sandbox. Nothing was sent and nothing was billed.")
    return False


def dashboard_url(environ: Mapping[str, str] | None = None) -> str:
    """The sandbox dashboard's address (the sandbox's root URL), from OPENAI_BASE_URL."""
    from keylab.sandbox.client import root_url  # here: keylab.sandbox loads the whole server

    env = os.environ if environ is None else environ
    base = (env.get(BASE_URL_VAR) or "").strip().rstrip("/")
    if not base:
        return "(the sandbox is not configured: run `python3 course.py start`)"
    return root_url(base) + "/"


__all__ = ["dashboard_url", "require_sandbox"]

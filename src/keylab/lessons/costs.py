"""Helpers for lessons 05 and 06 (what it costs, setting limits), so the notebooks stay short.

`practice_account()` gives the lesson its own account to spend from: in the sandbox a fresh one
(so the usage and costs reports show this lesson's calls and nothing else), live your own key
and, if you set one, your admin key. `show_cost()` prints a `Cost` the way an invoice splits it.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from typing import Any

from keylab.environment import ADMIN_KEY_VAR, mode
from keylab.pricing import Cost, format_usd


@dataclass
class PracticeAccount:
    """A client to spend with and, when there is one, an admin client to read the bill with."""

    client: Any
    admin: Any | None
    project_id: str | None
    note: str


def practice_account(credits_usd: str = "5") -> PracticeAccount:
    """Sandbox: a new funded account (its key and admin key). Live: your `.env` key, and an admin
    client if OPENAI_ADMIN_KEY is set (admin keys are made at platform.openai.com, by an owner)."""
    from openai import OpenAI

    if mode() == "sandbox":
        from keylab.sandbox.client import ControlClient

        account = ControlClient.from_env().create_account(credits_usd=credits_usd)
        return PracticeAccount(OpenAI(api_key=account["api_key"], max_retries=0),
                               OpenAI(admin_api_key=account["admin_key"], max_retries=0), account["project_id"],
                               f"a new sandbox account with ${credits_usd} of credit, for this lesson only")
    admin_key = os.environ.get(ADMIN_KEY_VAR, "").strip()
    admin = OpenAI(admin_api_key=admin_key) if admin_key else None
    note = "your own key" + (" and admin key" if admin else f" (set {ADMIN_KEY_VAR} to read the usage and costs APIs)")
    return PracticeAccount(OpenAI(), admin, None, note)


def today() -> dt.date:
    """Today on the platform's clock: the sandbox's (which lessons move), or UTC today when live."""
    if mode() == "sandbox":
        from keylab.sandbox.client import ControlClient

        return ControlClient.from_env().today()
    return dt.datetime.now(dt.timezone.utc).date()


def _usd(value: Any) -> str:
    return format_usd(value, 8) if value else "$0"


def show_cost(cost: Cost) -> None:
    """Print a call's cost line by line, as an invoice splits it."""
    uncached = cost.input_tokens - cost.cached_tokens
    print(f"{cost.model}, {cost.tier} tier{', long context' if cost.long_context else ''}")
    print(f"  input        {uncached:>9,} tokens  {_usd(cost.input_usd):>14}")
    print(f"  cached input {cost.cached_tokens:>9,} tokens  {_usd(cost.cached_usd):>14}")
    print(f"  output       {cost.output_tokens:>9,} tokens  {_usd(cost.output_usd):>14}", end="")
    print(f"  (of which reasoning: {cost.reasoning_tokens:,})" if cost.reasoning_tokens else "")
    print(f"  total                          {_usd(cost.total_usd):>14}")


# Lesson 06's small data set: support tickets to summarise in a batch job (made up for the course).
TICKETS = (
    "My invoice for November shows two charges for the same plan. Please refund one of them.",
    "The app logs me out every time I switch from Wi-Fi to mobile data.",
    "How do I export all my notes as a single PDF file?",
    "I changed my e-mail address and now I no longer receive the weekly report.",
    "The search box returns nothing when the query contains an apostrophe.",
    "Can I move my subscription from the monthly plan to the yearly one without losing my data?",
    "Dark mode resets to light mode after every update.",
    "Our team of twelve needs shared folders. Is that part of the business plan?",
    "The password reset link in your e-mail has already expired when I click it.",
    "Uploading a 30 MB photo fails at 99 % with no error message.",
    "Please delete my account and every piece of data you hold about me.",
    "The reminder for my dentist appointment arrived one hour late: time zone problem?",
    "I was charged in euros although my account is set to US dollars.",
    "Is there a keyboard shortcut to create a new note from anywhere?",
    "Since yesterday the Android widget shows an empty list.",
    "The calendar sync with my work account stopped after I changed my password there.",
    "Can you add a way to attach voice memos to a note?",
    "Printing a note cuts off the last line of every page.",
    "I get 'quota exceeded' when I try to add my 501st note. What is the limit?",
    "Your status page says all systems are fine, but nothing loads for me since 9 am.",
)


__all__ = ["ADMIN_KEY_VAR", "TICKETS", "PracticeAccount", "practice_account", "show_cost", "today"]

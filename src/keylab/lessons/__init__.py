"""Helpers the lesson notebooks call, so the notebooks stay short and never paste code between them.

    from keylab.lessons import welcome_check, require_sandbox

Importing this package starts nothing and reads nothing.
"""

from keylab.lessons.sandbox import dashboard_url, require_sandbox
from keylab.lessons.storing import MemoryKeyring, practice_keyring
from keylab.lessons.welcome import CheckLine, WelcomeReport, check_environment, welcome_check

__all__ = [
    "CheckLine",
    "MemoryKeyring",
    "WelcomeReport",
    "check_environment",
    "dashboard_url",
    "practice_keyring",
    "require_sandbox",
    "welcome_check",
]
